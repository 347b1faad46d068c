// Package app builds a renewal Runner from a configuration: the AWS clients, the ACME
// account (opened lazily), the Route 53 provider and the sinks. The CLI and the Lambda
// entry point share it, so both run exactly the same pass.
package app

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdkhttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	awsroute53 "github.com/aws/aws-sdk-go-v2/service/route53"
	awssm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"go.uber.org/zap"

	"github.com/certferry/certferry/acme"
	"github.com/certferry/certferry/config"
	"github.com/certferry/certferry/hooks"
	"github.com/certferry/certferry/internal/awshttp"
	"github.com/certferry/certferry/internal/fileread"
	"github.com/certferry/certferry/internal/waitlog"
	"github.com/certferry/certferry/lease"
	"github.com/certferry/certferry/providers/route53"
	"github.com/certferry/certferry/renew"
	"github.com/certferry/certferry/sinks/file"
	smsink "github.com/certferry/certferry/sinks/secretsmanager"
)

// Options tune New.
type Options struct {
	// AWS replaces the configuration LoadAWS would build, when not nil.
	AWS *aws.Config
	// Version goes into the ACME User-Agent.
	Version string
	// Now is the clock of the pass (tests); nil is time.Now.
	Now func() time.Time
	// OnACMERequest is told of every request to the ACME CA (metrics; acme.Config's
	// OnRequest).
	OnACMERequest func(endpoint string, status int, took time.Duration)
	// OnHook is told of every hook run (metrics).
	OnHook func(cert, hook string, err error)
	// HookEnv is the base environment of exec hooks (nil: a fixed PATH only).
	HookEnv []string
	// CleanupTimeout bounds TXT cleanup once a pass was stopped (renew's default: 5m).
	CleanupTimeout time.Duration
	// MinOrderTime: with a deadline on the pass, no order begins with less left (0: no
	// such check).
	MinOrderTime time.Duration
	// Memory is what the process remembers between passes (renew.Memory). A process
	// that builds several Apps (a daemon's reloads, a Lambda's rebuilds) passes the same
	// one to each, so a certificate issued but not stored survives the rebuild. Nil: a
	// Memory of this App's own.
	Memory *renew.Memory
	// LeaseHolder names this runner in the leases of coordination.dynamodb_table (tests
	// run several runners in one process); empty: host, process id and a random part.
	LeaseHolder string
	// DryRunDirectory, when set, is the ACME directory the Runner orders from instead of
	// acme.directory (renew --dry-run; see DryRunDirectory), with that CA's own account.
	DryRunDirectory string
}

// App holds what was built from the configuration: the Runner, and the clients it needs.
type App struct {
	Config  *config.Config
	Log     *zap.Logger
	Runner  *renew.Runner
	sm      *awssm.Client
	keys    kmsKeys // the state of a secret's KMS key, for the preflight
	secrets *smsink.Sink
	leases  renew.Leases // nil without coordination
	dns     *route53.Provider
	roots   *x509.CertPool

	acmeMu      sync.Mutex
	acmeClient  *acme.Client // opened on first use; a failed open is retried next time
	acmeChecked time.Time    // when the store was last compared with acmeClient's account
	storedMu    sync.Mutex
	storedACME  map[string]storedClient // StoredACME's clients, by directory
	now         func() time.Time
	version     string
	onACME      func(endpoint string, status int, took time.Duration)
	directory   string // the directory the Runner orders from
	certs       []renew.Cert
}

// DryRunDirectory is the CA a dry run of a configuration ordering from directory uses:
// Let's Encrypt's staging CA for Let's Encrypt, the directory itself otherwise (a
// private or test CA has no staging counterpart that certferry could know).
func DryRunDirectory(directory string) string {
	if directory == config.LetsEncryptURL {
		return config.LetsEncryptStagingURL
	}
	return directory
}

// ErrAWS matches the errors of LoadAWS: the AWS configuration cannot be used (no region,
// a broken profile). The CLI exits 3 for it, not 2: the configuration file is fine.
var ErrAWS = errors.New("aws configuration unusable")

// awsError is an error of LoadAWS; it matches ErrAWS and prints only its own text.
type awsError struct{ err error }

func (e awsError) Error() string        { return e.err.Error() }
func (e awsError) Unwrap() error        { return e.err }
func (e awsError) Is(target error) bool { return target == ErrAWS }

// LoadAWS builds the AWS configuration: the default credential chain, the configured
// region, profile, endpoint (LocalStack, moto, the sandbox; AWS_ENDPOINT_URL works too)
// and an optional role to assume.
func LoadAWS(ctx context.Context, c config.AWS) (aws.Config, error) {
	// The SDK adds a custom CA bundle (AWS_CA_BUNDLE, ca_bundle in the shared config)
	// only to its own BuildableClient: any other client fails the load. So build one,
	// and wrap it (awshttp's request-body workaround) once the bundle is in.
	hc := sdkhttp.NewBuildableClient().
		WithTimeout(2 * time.Minute).
		WithTransportOptions(func(tr *http.Transport) { tr.MaxIdleConnsPerHost = 32 })
	opts := []func(*awsconfig.LoadOptions) error{awsconfig.WithHTTPClient(hc)}
	if c.Region != "" {
		opts = append(opts, awsconfig.WithRegion(c.Region))
	}
	if c.Profile != "" {
		opts = append(opts, awsconfig.WithSharedConfigProfile(c.Profile))
	}
	if c.EndpointURL != "" {
		opts = append(opts, awsconfig.WithBaseEndpoint(c.EndpointURL))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, awsError{fmt.Errorf("aws: load configuration: %w", err)}
	}
	cfg.HTTPClient = awshttp.WrapClient(cfg.HTTPClient)
	if cfg.Region == "" {
		return aws.Config{}, awsError{errors.New("aws: no region: set aws.region in the configuration or AWS_REGION")}
	}
	if c.AssumeRoleARN != "" {
		p := stscreds.NewAssumeRoleProvider(sts.NewFromConfig(cfg), c.AssumeRoleARN, func(o *stscreds.AssumeRoleOptions) {
			o.RoleSessionName = "certferry"
			if c.ExternalID != "" {
				o.ExternalID = aws.String(c.ExternalID)
			}
		})
		cfg.Credentials = aws.NewCredentialsCache(p)
	}
	return cfg, nil
}

// maxCABundle bounds a CA bundle file: the whole Mozilla root store is about 250 KB.
const maxCABundle = 4 << 20

// readRoots returns the system roots plus the PEM certificates in path (if any); field
// names the configuration key in errors.
func readRoots(field, path string) (*x509.CertPool, error) {
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if path == "" {
		return pool, nil
	}
	pem, err := fileread.Regular(path, maxCABundle)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", field, err)
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s: %s holds no PEM certificate", field, path)
	}
	return pool, nil
}

// New builds every collaborator of a pass. Nothing here calls AWS or the CA: the
// ACME account is opened on first use, so a pass with nothing due makes no ACME request.
//
// opts.AWS, when not nil, replaces the AWS configuration the standard chain would build
// (the demo's sandbox credentials, a test's).
func New(ctx context.Context, cfg *config.Config, log *zap.Logger, opts Options) (*App, error) {
	a := &App{Config: cfg, Log: log, version: opts.Version, now: opts.Now, directory: cfg.ACME.Directory}
	if opts.DryRunDirectory != "" {
		a.directory = opts.DryRunDirectory
	}
	if a.now == nil {
		a.now = time.Now
	}
	if err := checkTrust(cfg, log); err != nil {
		return nil, err
	}
	awsCfg, err := awsConfig(ctx, cfg.AWS, opts.AWS, log)
	if err != nil {
		return nil, err
	}
	roles := newRoles(awsCfg) // dns.zones and aws.secretsmanager roles, each assumed once
	a.sm = awssm.NewFromConfig(roles.config(cfg.AWS.SecretsManager))
	a.keys = kmsKeys{kms.NewFromConfig(roles.config(cfg.AWS.SecretsManager))} // the secret's account
	r53 := awsroute53.NewFromConfig(awsCfg)
	roots, verifyRoots, err := loadRoots(cfg.ACME)
	if err != nil {
		return nil, err
	}
	a.roots = roots
	// Each package names its own logger ("secretsmanager", "route53", "acme", ...): pass
	// the parent, or the names come out doubled.
	a.secrets = smsink.New(a.sm, log, smsink.Options{})
	files := file.New(log)
	dns := newDNS(cfg, roles, r53, log, opts.Now)
	a.dns = dns

	a.onACME = opts.OnACMERequest
	hookDeps := hooks.Deps{
		Logger:     log,
		ASG:        autoscaling.NewFromConfig(awsCfg),
		ECS:        ecs.NewFromConfig(awsCfg),
		HTTPClient: &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()},
		Now:        opts.Now,
		BaseEnv:    opts.HookEnv,
	}
	if a.certs, err = renewCerts(cfg, hookDeps); err != nil {
		return nil, err
	}

	a.leases, err = newLeases(cfg.Coordination, awsCfg, opts)
	if err != nil {
		return nil, err
	}
	a.Runner = renew.New(a.certs, a.passSettings(opts, verifyRoots), renew.Deps{
		ACME: func(ctx context.Context) (renew.ACME, error) {
			c, err := a.ACME(ctx)
			if err != nil {
				return nil, err
			}
			return c, nil
		},
		StoredACME: func(ctx context.Context, directory string) (renew.ACME, error) {
			c, err := a.StoredACME(ctx, directory)
			if err != nil {
				return nil, err
			}
			return c, nil
		},
		DNS:     RenewDNS(dns),
		Secrets: a.secrets,
		Keys:    a.keys,
		Leases:  a.leases,
		Files:   files,
		Logger:  log,
		Now:     opts.Now,
		OnHook:  opts.OnHook,
		Memory:  opts.Memory,
	})
	return a, nil
}

// passSettings are the pass-wide settings of the app's Runner.
func (a *App) passSettings(opts Options, verifyRoots *x509.CertPool) renew.Settings {
	cfg := a.Config
	return renew.Settings{
		Concurrency:    cfg.Concurrency,
		Guard:          cfg.IssuanceGuard,
		Interval:       cfg.Schedule.Interval,
		ARI:            cfg.ACME.ARI,
		Roots:          verifyRoots,
		StoredRoots:    storedRoots(cfg.ACME, verifyRoots),
		CleanupTimeout: opts.CleanupTimeout,
		MinOrderTime:   opts.MinOrderTime,
		Directory:      a.directory,
		// A dry run's journal entries name the dry-run CA when it is another.
		ConfiguredDirectory: cfg.ACME.Directory,
		InsyncTimeout:       cfg.Route53.InsyncTimeout,
		AccountSecret:       accountSecret(cfg.ACME),
		Limits:              cfg.ACME.Limits,
		// Another CA's roots (Let's Encrypt's staging roots) are in no trust store.
		TrustChainTop: a.directory != cfg.ACME.Directory,
	}
}

// checkTrust refuses, before anything is built, an exec hook a local user could rewrite
// run by a root certferry, or a sink directory anyone may write into (TrustProblems),
// and logs the warnings.
func checkTrust(cfg *config.Config, log *zap.Logger) error {
	problems, warnings := TrustProblems(cfg, os.Geteuid())
	if len(problems) > 0 {
		return errors.Join(problems...)
	}
	for _, w := range warnings {
		log.Warn("configuration: " + w)
	}
	return nil
}

// awsConfig is override, or the configuration LoadAWS builds, with every AWS call that
// hangs reported while it lasts, not only when the SDK gives up on it.
func awsConfig(ctx context.Context, c config.AWS, override *aws.Config, log *zap.Logger) (aws.Config, error) {
	var awsCfg aws.Config
	if override != nil {
		awsCfg = *override
	} else {
		var err error
		if awsCfg, err = LoadAWS(ctx, c); err != nil {
			return aws.Config{}, err
		}
	}
	awsCfg.APIOptions = append(slices.Clone(awsCfg.APIOptions), waitlog.AWSOption(log, waitlog.CallAfter, waitlog.CallEvery))
	return awsCfg, nil
}

// storedRoots are the roots a stored certificate must chain to: acme.issuer_roots when
// set; nil (no check) otherwise, as the system roots say nothing of which CA issued it.
func storedRoots(c config.ACME, verify *x509.CertPool) *x509.CertPool {
	if c.IssuerRoots == "" {
		return nil
	}
	return verify
}

// loadRoots reads acme.ca_bundle, the roots of the CA's HTTPS (nil: the system's), and
// the roots an issued chain must verify to: acme.issuer_roots and the bundle when
// issuer_roots is set, the bundle alone otherwise.
func loadRoots(c config.ACME) (roots, verify *x509.CertPool, err error) {
	roots, err = readRoots("acme.ca_bundle", c.CABundle)
	if err != nil || c.IssuerRoots == "" {
		return roots, roots, err
	}
	if verify, err = readRoots("acme.issuer_roots", c.IssuerRoots); err != nil {
		return nil, nil, err
	}
	if pem, err := fileread.Regular(c.CABundle, maxCABundle); err == nil {
		verify.AppendCertsFromPEM(pem)
	}
	return roots, verify, nil
}

// newDNS is the DNS-01 provider of cfg.
func newDNS(cfg *config.Config, roles *roles, r53 *awsroute53.Client, log *zap.Logger, now func() time.Time) *route53.Provider {
	opts := route53.Options{
		InsyncTimeout: cfg.Route53.InsyncTimeout,
		Logger:        log,
		Zones:         dnsZones(cfg.DNS.Zones, roles, r53),
		Resolvers:     cfg.Route53.Resolvers,
		Now:           now,
	}
	if cfg.Route53.PropagationCheck {
		opts.Checker = route53.DNSChecker{Resolvers: cfg.Route53.Resolvers}
	}
	return route53.New(r53, opts)
}

// renewCerts is the pass's view of every configured certificate.
func renewCerts(cfg *config.Config, hookDeps hooks.Deps) ([]renew.Cert, error) {
	var out []renew.Cert
	for _, c := range cfg.Certificates {
		rc, err := renewCert(cfg, c, hookDeps)
		if err != nil {
			return nil, err
		}
		out = append(out, rc)
	}
	return out, nil
}

// renewCert is the pass's view of one configured certificate.
func renewCert(cfg *config.Config, c config.Certificate, hookDeps hooks.Deps) (renew.Cert, error) {
	rc := renew.Cert{Name: c.Name, Domains: c.Domains, KeyType: string(c.KeyType), Profile: c.Profile, ZoneID: c.HostedZoneID, RenewBefore: c.RenewBefore, DNS: certDNS(c),
		Challenge: c.Challenge, PersistUntil: c.PersistUntil}
	if rc.Profile == "" {
		rc.Profile = cfg.ACME.Profile
	}
	if rc.RenewBefore == 0 {
		rc.RenewBefore = cfg.RenewBefore
	}
	if s := c.Sinks.SecretsManager; s != nil {
		rc.Secret = &smsink.Target{Secret: s.Secret, KMSKeyID: s.KMSKeyID, Description: s.Description, Tags: s.Tags}
	}
	if f := c.Sinks.File; f != nil {
		rc.File = &file.Target{Dir: f.Dir, Owner: f.Owner, Group: f.Group}
	}
	var err error
	if rc.OnRenew, err = hooks.FromConfig(c.Hooks.OnRenew, hookDeps); err != nil {
		return renew.Cert{}, fmt.Errorf("certificates %s: on_renew: %w", c.Name, err)
	}
	if rc.OnFailure, err = hooks.FromConfig(c.Hooks.OnFailure, hookDeps); err != nil {
		return renew.Cert{}, fmt.Errorf("certificates %s: on_failure: %w", c.Name, err)
	}
	return rc, nil
}

// newLeases builds the lease manager of coordination (nil: none configured, and a nil
// interface, not a nil pointer in one).
func newLeases(c *config.Coordination, awsCfg aws.Config, opts Options) (renew.Leases, error) {
	if c == nil {
		return nil, nil
	}
	holder := opts.LeaseHolder
	if holder == "" {
		host, err := os.Hostname()
		if err != nil || host == "" {
			host = "unknown-host"
		}
		holder = lease.NewHolder(host, os.Getpid())
	}
	m, err := lease.New(lease.Options{
		Client: dynamodb.NewFromConfig(awsCfg), Table: c.DynamoDBTable, Duration: c.LeaseDuration, Holder: holder, Now: opts.Now,
	})
	if err != nil {
		return nil, fmt.Errorf("coordination: %w", err)
	}
	return m, nil
}

// accountSecret is the secret that holds the ACME account, "" for a file store.
func accountSecret(c config.ACME) string {
	if c.AccountStore.Kind == config.AccountStoreFile {
		return ""
	}
	return c.AccountSecret
}

// DNS is the DNS-01 provider (Resolve and Targets say where each record would go).
func (a *App) DNS() *route53.Provider { return a.dns }

// Secrets is the Secrets Manager sink, for the lifecycle commands (revoke, retire).
func (a *App) Secrets() *smsink.Sink { return a.secrets }

// SecretsAPI is the Secrets Manager client, for what only an operator does (retire
// --delete-secret).
func (a *App) SecretsAPI() *awssm.Client { return a.sm }

// Inventory reads what the Secrets Manager sink holds (tags only), by secret name.
func (a *App) Inventory(ctx context.Context) (map[string]smsink.Stored, error) {
	return a.secrets.Inventory(ctx)
}

// ACME returns the ACME client the Runner uses, opening the account (and registering
// it, once) on first use under ctx. Once opened, every call returns the same client; a
// failed open (CA or Secrets Manager unreachable) is not remembered, so a long-lived
// daemon recovers on its next pass instead of failing every pass until restarted.
func (a *App) ACME(ctx context.Context) (*acme.Client, error) {
	a.acmeMu.Lock()
	defer a.acmeMu.Unlock()
	if a.acmeClient != nil && a.now().Sub(a.acmeChecked) < accountRecheck {
		return a.acmeClient, nil
	}
	if a.acmeClient != nil {
		// The account may have changed under a long-lived process: another host rolled
		// its key over or deactivated it (the CA then refuses the key this client holds).
		a.acmeChecked = a.now()
		kid := ""
		if e := a.Config.ACME.EAB; e != nil {
			kid = e.KID
		}
		stored, err := a.AccountStore().Load(ctx, a.directory, kid)
		if err != nil || a.acmeClient.Holds(stored) {
			return a.acmeClient, nil // unreadable now: keep what works
		}
		a.Log.Info("the stored ACME account changed since it was loaded (key rollover or deactivation elsewhere); loading it again")
	}
	c, err := a.openACME(ctx)
	if err != nil {
		return nil, err
	}
	a.acmeClient, a.acmeChecked = c, a.now()
	return c, nil
}

// AccountStore is where the configuration keeps the ACME accounts.
func (a *App) AccountStore() acme.AccountStore {
	if s := a.Config.ACME.AccountStore; s.Kind == config.AccountStoreFile {
		return file.NewAccountStore(s.Dir)
	}
	return smsink.NewAccountStore(a.sm, a.Config.ACME.AccountSecret)
}

// accountRecheck is how often a long-lived App compares the stored account with the one
// its ACME client holds (one read of the account store).
const accountRecheck = time.Minute

// ACMEFor returns an ACME client for directory: the Runner's (ACME) when it is the
// configured directory or empty, otherwise a client of its own with that CA's account,
// from the store or registered now. Revocation uses it: a certificate is revoked at the
// CA that issued it, which after a change of acme.directory is not the configured one.
// The binding (EAB) of the configuration belongs to the configured CA and is not sent.
func (a *App) ACMEFor(ctx context.Context, directory string) (*acme.Client, error) {
	if directory == "" || directory == a.directory {
		return a.ACME(ctx)
	}
	return a.openACMEAt(ctx, directory, nil)
}

// StoredACME returns a client for directory with the ACME account certferry stored for
// it, never a new one: the Runner's own (ACME) when it is the directory the Runner orders
// from; otherwise the stored account is only loaded (acme.Config.LoadOnly), and with none
// stored the error wraps acme.ErrNoAccount and nothing is sent to directory. The
// challenge journal's sweep reads another CA's orders (a dry run's) with it, so a
// directory a hand-edited tag names gets no signed request. The account is looked up
// with the configured binding's key id, as the dry run that ordered opened it.
func (a *App) StoredACME(ctx context.Context, directory string) (*acme.Client, error) {
	if directory == a.directory {
		return a.ACME(ctx)
	}
	a.storedMu.Lock()
	defer a.storedMu.Unlock()
	var eab *acme.EAB
	kid := ""
	if e := a.Config.ACME.EAB; e != nil {
		eab, kid = &acme.EAB{KID: e.KID, HMACKey: e.HMACKey.Reveal()}, e.KID // its key id finds the account; nothing is registered
	}
	if c, ok := a.storedACME[directory]; ok {
		if a.now().Sub(c.checked) < accountRecheck {
			return c.client, nil
		}
		// A long-lived process compares the store with the client now and then (a key
		// rolled over, an account removed): one read of the store, no request to the CA.
		stored, err := a.AccountStore().Load(ctx, directory, kid)
		if err == nil && c.client.Holds(stored) {
			a.storedACME[directory] = storedClient{client: c.client, checked: a.now()}
			return c.client, nil
		}
		delete(a.storedACME, directory)
	}
	cfg := a.acmeConfig(directory, eab)
	cfg.LoadOnly = true
	c, err := acme.New(ctx, cfg)
	if err != nil {
		return nil, err // not kept: the account may be stored by a later pass
	}
	if a.storedACME == nil {
		a.storedACME = map[string]storedClient{}
	}
	a.storedACME[directory] = storedClient{client: c, checked: a.now()}
	return c, nil
}

// storedClient is a client StoredACME opened, and when its account was last compared
// with the store.
type storedClient struct {
	client  *acme.Client
	checked time.Time
}

// openACME loads (or registers, once) the ACME account and returns the client.
func (a *App) openACME(ctx context.Context) (*acme.Client, error) {
	var eab *acme.EAB
	if e := a.Config.ACME.EAB; e != nil {
		eab = &acme.EAB{KID: e.KID, HMACKey: e.HMACKey.Reveal()}
	}
	return a.openACMEAt(ctx, a.directory, eab)
}

// KeyRevoker returns a client of directory (the configured one when empty) that
// revokes with a certificate's own key and opens no account (acme.NewKeyRevoker):
// keyCompromise never registers an account first, nor fails because it cannot.
func (a *App) KeyRevoker(directory string) (*acme.Client, error) {
	if directory == "" {
		directory = a.directory
	}
	return acme.NewKeyRevoker(a.acmeConfig(directory, nil))
}

// openACMEAt opens the account of directory (with eab, when the CA wants one).
func (a *App) openACMEAt(ctx context.Context, directory string, eab *acme.EAB) (*acme.Client, error) {
	return acme.New(ctx, a.acmeConfig(directory, eab))
}

// acmeConfig is the ACME client configuration for directory.
func (a *App) acmeConfig(directory string, eab *acme.EAB) acme.Config {
	cfg := a.Config.ACME
	store := a.AccountStore()
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.TLSClientConfig = &tls.Config{RootCAs: a.roots, MinVersion: tls.VersionTLS12}
	// A CA that stops answering is cut off by the transport, not by http.Client.Timeout:
	// lego never closes its nonce responses' bodies, and a client timeout keeps a timer
	// and goroutine per such request alive for the whole timeout.
	base.ResponseHeaderTimeout = 90 * time.Second
	return acme.Config{
		DirectoryURL:      directory,
		Email:             cfg.Email,
		HTTPClient:        &http.Client{Transport: waitlog.Transport(base, a.Log.Named("acme"), "ACME CA", waitlog.CallAfter, waitlog.CallEvery)},
		UserAgent:         "certferry/" + a.version,
		EAB:               eab,
		RequestsPerSecond: cfg.RequestsPerSecond,
		RateLimits:        acmeRateLimits(cfg.RateLimits),
		MaxRetryAfter:     cfg.MaxRetryAfter,
		Store:             store,
		Logger:            a.Log,
		OnRequest:         a.onACME,
	}
}

// acmeRateLimits converts acme.rate_limits; a class left out stays zero, which the acme
// package fills with its default.
func acmeRateLimits(r config.RateLimits) acme.RateLimits {
	c := func(l config.RateLimit) acme.RateLimit { return acme.RateLimit{PerSecond: l.PerSecond, Burst: l.Burst} }
	return acme.RateLimits{Directory: c(r.Directory), NewNonce: c(r.NewNonce), NewAccount: c(r.NewAccount), NewOrder: c(r.NewOrder),
		RevokeCert: c(r.RevokeCert), RenewalInfo: c(r.RenewalInfo), Other: c(r.Other)}
}
