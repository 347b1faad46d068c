// Package config loads, defaults and validates certferry's YAML configuration
// (config.example.yaml at the repository root documents every key).
//
// Parse takes the file's bytes and an environment lookup function: the package never reads files
// or the process environment itself (Load is a convenience that reads one named file for cmd/).
// Every problem in a file is reported at once, each with its field path and line, in a
// *ValidationError. Parse returns values in normal form: defaults applied, names normalised,
// directory aliases resolved, certificate-level defaults (renew_before, profile) filled in.
//
// The package must never log, and never put a secret value (webhook secret, EAB HMAC key) into an
// error message; use Config.Redacted before printing a configuration.
package config

import "time"

// Default values, applied by Parse to keys the file leaves out.
const (
	DefaultDirectory     = "letsencrypt"
	DefaultAccountSecret = "certferry/acme-account"
	DefaultInsyncTimeout = 10 * time.Minute
	DefaultMaxRetryAfter = time.Minute
	DefaultConcurrency   = 50
	// DefaultMinPeriod is the floor between two scheduled passes: a pass lists every
	// secret, so a daemon must never turn into a loop of back-to-back passes.
	DefaultMinPeriod     = 5 * time.Minute
	DefaultIssuanceGuard = 24 * time.Hour
	DefaultListen        = "127.0.0.1:9464"
	DefaultHealthRefresh = time.Minute
	DefaultLeaseDuration = 2 * time.Minute
	// MinLeaseDuration keeps a lease longer than the heartbeat's round trips: a lease is
	// renewed every third of its duration, and its expiry is kept in whole seconds.
	MinLeaseDuration = 3 * time.Second
	DefaultLogLevel  = "info"
	DefaultLogFormat = "auto"
	DefaultKeyType   = KeyEC256

	DefaultExecTimeout    = 5 * time.Minute  // exec hooks
	DefaultWebhookTimeout = 30 * time.Second // webhook hooks
	DefaultAWSHookTimeout = 2 * time.Minute  // asg_instance_refresh and ecs_redeploy hooks
	MaxHookTimeout        = time.Hour

	DefaultMinHealthyPercentage = 90

	// DefaultLifetime is the certificate lifetime that schedule warnings assume (Let's Encrypt's
	// classic profile).
	DefaultLifetime = 90 * 24 * time.Hour
)

// Well-known ACME directories, selected by name in acme.directory.
const (
	LetsEncryptURL        = "https://acme-v02.api.letsencrypt.org/directory"
	LetsEncryptStagingURL = "https://acme-staging-v02.api.letsencrypt.org/directory"
)

// Directories maps the names accepted in acme.directory to their URLs.
var Directories = map[string]string{
	"letsencrypt":         LetsEncryptURL,
	"letsencrypt-staging": LetsEncryptStagingURL,
}

// Config is a whole configuration file.
type Config struct {
	ACME     ACME
	AWS      AWS
	Route53  Route53
	DNS      DNS
	Schedule Schedule
	// Concurrency bounds how many certificates one pass works on at the same time (1..256).
	Concurrency int
	// RenewBefore is the file-level default of Certificate.RenewBefore; Parse copies it into every
	// certificate that sets none. Zero means unset.
	RenewBefore time.Duration
	// IssuanceGuard: never more than one new certificate per name within this window unless
	// forced. Zero disables the guard.
	IssuanceGuard time.Duration
	// Challenge is the file-level default of Certificate.Challenge; empty means ChallengeDNS01.
	Challenge string
	// PersistUntil is the file-level default of Certificate.PersistUntil; zero means unset.
	PersistUntil time.Duration
	Log          Log
	// Listen is the daemon's host:port for /metrics and /healthz.
	Listen string
	// HealthRefresh is how often the daemon re-reads every certificate's condition from
	// the secrets' tags between passes, so that what another runner did shows (1s..24h).
	HealthRefresh time.Duration
	// Coordination is the per-certificate lease that several runners share; nil without
	// the key: each runner behaves as if it were alone.
	Coordination *Coordination
	Certificates []Certificate

	// Warnings are soft problems that do not stop the configuration from loading, each prefixed
	// with its line and field path. Parse fills them; cmd prints them.
	Warnings []string
}

// Coordination configures the per-certificate lease in DynamoDB (docs/coordination.md).
type Coordination struct {
	// DynamoDBTable is the lease table: a string hash key named "key"; TTL on "expires".
	DynamoDBTable string
	// LeaseDuration is how long a lease lasts unless renewed; a runner renews it every
	// third of it while it works, and another runner takes over a lease that has expired.
	LeaseDuration time.Duration
}

// ACME configures the ACME client and account (docs/accounts.md).
type ACME struct {
	// Directory is the directory URL; Parse resolves the names in Directories.
	Directory string
	Email     string
	// CABundle is an optional PEM file of extra roots for the CA's HTTPS; cmd checks it exists.
	CABundle string
	// IssuerRoots is an optional PEM file of roots that issued chains must verify to, for a
	// private or test CA whose roots are not in the system store (the sandbox prints it as
	// issuer_roots). Empty: the system roots plus CABundle.
	IssuerRoots  string
	AccountStore AccountStore
	// AccountSecret is the Secrets Manager secret holding the account (AccountStore secretsmanager).
	AccountSecret string
	// EAB is the External Account Binding, nil when not configured.
	EAB *EAB
	// RequestsPerSecond, when set (> 0), caps every ACME request of the account together,
	// on top of RateLimits. Deprecated: 0 (unset) by default; Parse warns when it is set.
	RequestsPerSecond float64
	// RateLimits paces ACME requests per endpoint class; a class left out (zero) takes the
	// acme package's default (Let's Encrypt's published limits less a margin).
	RateLimits RateLimits
	// MaxRetryAfter caps how long one poll of an authorization or order waits when the
	// CA's Retry-After asks for longer (> 0).
	MaxRetryAfter time.Duration
	// Profile is the default ACME profile; Parse copies it into certificates that set none.
	Profile string
	// ARI enables ACME Renewal Information (RFC 9773) windows.
	ARI bool
	// Limits are the CA's limits on new orders and certificates (acme.limits); Parse
	// fills in LetsEncryptLimits for the Let's Encrypt directories where the file sets
	// none. Zero fields: no limit known.
	Limits Limits
}

// RateLimit is a token bucket: PerSecond on average, Burst at once. Zero: unset.
type RateLimit struct {
	PerSecond float64
	Burst     int
}

// RateLimits is acme.rate_limits, one bucket per endpoint class (the keys in
// RateLimitKeys).
type RateLimits struct {
	Directory, NewNonce, NewAccount, NewOrder, RevokeCert, RenewalInfo, Other RateLimit
}

// RateLimitKeys are the keys of acme.rate_limits, in the order of Fields.
var RateLimitKeys = []string{"directory", "new_nonce", "new_account", "new_order", "revoke_cert", "renewal_info", "other"}

// Fields returns pointers to the buckets in the order of RateLimitKeys.
func (r *RateLimits) Fields() []*RateLimit {
	return []*RateLimit{&r.Directory, &r.NewNonce, &r.NewAccount, &r.NewOrder, &r.RevokeCert, &r.RenewalInfo, &r.Other}
}

// Account store kinds.
const (
	AccountStoreSecretsManager = "secretsmanager"
	AccountStoreFile           = "file"
)

// AccountStore says where the ACME account lives: written "secretsmanager" or "file:/dir".
type AccountStore struct {
	Kind string // AccountStoreSecretsManager or AccountStoreFile
	Dir  string // absolute directory, only for AccountStoreFile
}

// String returns the account store as written in the file.
func (s AccountStore) String() string {
	if s.Kind == AccountStoreFile {
		return AccountStoreFile + ":" + s.Dir
	}
	return s.Kind
}

// EAB is an External Account Binding: both fields set.
type EAB struct {
	KID string
	// HMACKey is base64url-encoded, as CAs hand it out. It prints as REDACTED; Reveal it only
	// to pass it to the ACME client.
	HMACKey Secret
}

// AWS configures the AWS SDK clients. Empty fields leave the SDK's own resolution in place.
type AWS struct {
	// Region may be empty when AWS_REGION or AWS_DEFAULT_REGION is set where certferry runs.
	Region      string
	EndpointURL string
	Profile     string
	// AssumeRoleARN, when set, is assumed (with ExternalID, if set) for every AWS call.
	AssumeRoleARN string
	ExternalID    string
	// SecretsManager, when its role is set, is assumed (from the credentials above)
	// for Secrets Manager alone: the certificates and the ACME account may live in
	// another account than the DNS.
	SecretsManager Role
}

// Route53 configures DNS-01 through Route 53.
type Route53 struct {
	// InsyncTimeout bounds the wait for a change batch to turn INSYNC.
	InsyncTimeout time.Duration
	// PropagationCheck adds a DNS query for the TXT values after INSYNC.
	PropagationCheck bool
	// Resolvers (host:port) for PropagationCheck; empty means the system resolvers.
	Resolvers []string
}

// Schedule says when the daemon runs a pass. Written either as a cron string or as a mapping.
type Schedule struct {
	// Cron is a standard 5-field cron expression (or a descriptor such as @daily). Empty means the
	// scheduler's default (scheduler.DefaultSpec: twice a day, at a minute and hour derived from the
	// machine ID).
	Cron string
	// Jitter is a random delay added to each scheduled pass; zero means none.
	Jitter time.Duration
	// MinPeriod is the floor between two passes of the daemon: a cron spec that runs more
	// often is refused, and the daemon never starts a pass sooner than this after the last
	// one, whatever the spec answers. Default DefaultMinPeriod (5 minutes).
	MinPeriod time.Duration
	// Interval is set when certferry is started from outside on a fixed period (a Lambda on
	// rate(60 days)): a certificate is due if it would fall due before the next run. Zero: unset.
	Interval time.Duration
}

// Log configures logging.
type Log struct {
	Level  string // debug | info | warn | error
	Format string // auto | json | console
}

// KeyType is a certificate's private key type.
type KeyType string

// Key types.
const (
	KeyEC256   KeyType = "ec256"
	KeyEC384   KeyType = "ec384"
	KeyRSA2048 KeyType = "rsa2048"
	KeyRSA3072 KeyType = "rsa3072"
	KeyRSA4096 KeyType = "rsa4096"
)

// Challenge types (Certificate.Challenge).
const (
	ChallengeDNS01        = "dns-01"
	ChallengeDNSPersist01 = "dns-persist-01"
)

// Challenges lists the valid challenge types.
var Challenges = []string{ChallengeDNS01, ChallengeDNSPersist01}

// MinPersistUntil is the shortest persist_until: a record must outlive the pass that
// writes it and the renewals it serves.
const MinPersistUntil = 24 * time.Hour

// KeyTypes lists the valid key types in the order the documentation gives them.
var KeyTypes = []KeyType{KeyEC256, KeyEC384, KeyRSA2048, KeyRSA3072, KeyRSA4096}

// Certificate is one certificate to keep renewed.
type Certificate struct {
	// Name identifies the certificate in logs, metrics, --only and tags: [a-z0-9][a-z0-9._-]{0,62}.
	Name string
	// Domains are normalised (see NormalizeDomain), in the configured order, 1..100.
	Domains []string
	KeyType KeyType
	// Profile is the effective ACME profile (acme.profile when the certificate sets none).
	Profile string
	// HostedZoneID optionally pins the Route 53 zone ("Z..." without "/hostedzone/").
	HostedZoneID string
	// DNS is where the certificate's TXT records go (CNAME following, alias, zones
	// per name).
	DNS CertificateDNS
	// RenewBefore is the effective renew_before (the file-level one when the certificate sets
	// none); zero means unset.
	RenewBefore time.Duration
	// Challenge is how the CA validates the names: ChallengeDNS01 (a TXT record per order)
	// or ChallengeDNSPersist01 (one standing record per name, experimental; docs/dns.md).
	// The file-level challenge when the certificate sets none; empty means ChallengeDNS01.
	Challenge string
	// PersistUntil, with dns-persist-01, bounds the records: they carry persistUntil = now +
	// PersistUntil when written and are rewritten once less than a third of it remains.
	// Zero: records without persistUntil. The file-level one when the certificate sets none.
	PersistUntil time.Duration
	Sinks        Sinks
	Hooks        Hooks
}

// Sinks are where a certificate is stored; at least one is set.
type Sinks struct {
	SecretsManager *SecretsManagerSink
	File           *FileSink
}

// SecretsManagerSink stores the certificate as a secret (docs/secret-format.md).
type SecretsManagerSink struct {
	Secret      string // name (or ARN) of the secret; unique across certificates
	KMSKeyID    string
	Description string
	Tags        map[string]string
}

// FileSink writes PEM files into Dir.
type FileSink struct {
	Dir   string // absolute; unique across certificates
	Owner string // user name or numeric id; empty keeps the process's
	Group string
}

// Hooks run after a certificate changed (OnRenew) or after it failed (OnFailure), in order.
type Hooks struct {
	OnRenew   []Hook
	OnFailure []Hook
}

// Hook kinds, as returned by Hook.Kind.
const (
	HookExec               = "exec"
	HookWebhook            = "webhook"
	HookASGInstanceRefresh = "asg_instance_refresh"
	HookECSRedeploy        = "ecs_redeploy"
)

// Hook is one hook entry: exactly one of Exec, Webhook, ASGInstanceRefresh and ECSRedeploy is set.
type Hook struct {
	// Exec is the argv of a program run without a shell; Exec[0] is an absolute path.
	Exec               []string
	Webhook            *Webhook
	ASGInstanceRefresh *ASGInstanceRefresh
	ECSRedeploy        *ECSRedeploy
	// Env adds variables to an exec hook's environment (exec hooks only). Keys are
	// environment variable names, never CERTFERRY_* (reserved for the event); values may
	// hold a token (${VAR} is expanded in them), hence Secret. They override the
	// variables passed through from certferry's own environment.
	Env map[string]Secret
	// Timeout bounds the hook (Parse applies the kind's default).
	Timeout time.Duration
}

// Kind returns the hook's kind (HookExec, ...), or "" unless exactly one kind is set.
func (h Hook) Kind() string {
	k := h.kinds()
	if len(k) != 1 {
		return ""
	}
	return k[0]
}

func (h Hook) kinds() []string {
	var k []string
	if h.Exec != nil {
		k = append(k, HookExec)
	}
	if h.Webhook != nil {
		k = append(k, HookWebhook)
	}
	if h.ASGInstanceRefresh != nil {
		k = append(k, HookASGInstanceRefresh)
	}
	if h.ECSRedeploy != nil {
		k = append(k, HookECSRedeploy)
	}
	return k
}

// Webhook POSTs the renewal as JSON, signed by the Standard Webhooks scheme with Secret
// (docs/webhooks.md).
type Webhook struct {
	URL string // https; http only to localhost or 127.0.0.1
	// Secret is "whsec_<base64 key>" or the raw key (WebhookKey). It prints as REDACTED;
	// Reveal it only to sign.
	Secret Secret
}

// ASGInstanceRefresh starts an Auto Scaling group instance refresh.
type ASGInstanceRefresh struct {
	Name                 string
	MinHealthyPercentage int // 0..100, default 90
}

// ECSRedeploy forces a new deployment of an ECS service.
type ECSRedeploy struct {
	Cluster string
	Service string
}

// Certificate returns the certificate with the given name, or nil.
func (c *Config) Certificate(name string) *Certificate {
	for i := range c.Certificates {
		if c.Certificates[i].Name == name {
			return &c.Certificates[i]
		}
	}
	return nil
}

// defaults returns a Config holding every file-level default; the decoder fills it in place.
func defaults() *Config {
	return &Config{
		ACME: ACME{
			Directory:     DefaultDirectory,
			AccountStore:  AccountStore{Kind: AccountStoreSecretsManager},
			AccountSecret: DefaultAccountSecret,
			MaxRetryAfter: DefaultMaxRetryAfter,
			ARI:           true,
		},
		Route53:       Route53{InsyncTimeout: DefaultInsyncTimeout},
		Concurrency:   DefaultConcurrency,
		Schedule:      Schedule{MinPeriod: DefaultMinPeriod},
		IssuanceGuard: DefaultIssuanceGuard,
		Log:           Log{Level: DefaultLogLevel, Format: DefaultLogFormat},
		Listen:        DefaultListen,
		HealthRefresh: DefaultHealthRefresh,
	}
}
