package config

import (
	"encoding/base64"
	"fmt"
	"maps"
	"math"
	"net"
	"net/mail"
	"net/netip"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/certferry/certferry/internal/textcut"
	"github.com/certferry/certferry/scheduler"
)

var (
	certNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)
	profileRE  = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)
	regionRE   = regexp.MustCompile(`^[a-z]{2,}(-[a-z]+)+-[0-9]{1,2}$`)
	// Length bounds are checked apart ({1,512} in a pattern compiles to 512 copies of
	// the class: three such patterns held 1.2 MB of every process's heap).
	roleARNRE     = regexp.MustCompile(`^arn:aws(-[a-z]+)*:iam::[0-9]{12}:role/([A-Za-z0-9+=,.@_/-]+)$`)
	externalIDRE  = regexp.MustCompile(`^[A-Za-z0-9+=,.@:/_-]+$`)
	zoneIDRE      = regexp.MustCompile(`^Z[A-Z0-9]{1,31}$`)
	secretNameRE  = regexp.MustCompile(`^[A-Za-z0-9/_+=.@-]+$`)
	secretARNRE   = regexp.MustCompile(`^arn:aws(-[a-z]+)*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:([A-Za-z0-9/_+=.@-]+)$`)
	ownerRE       = regexp.MustCompile(`^([a-z_][a-z0-9_-]{0,31}\$?|[0-9]{1,10})$`)
	logLevels     = []string{"debug", "info", "warn", "error"}
	logFormats    = []string{"auto", "json", "console"}
	reservedTagRE = regexp.MustCompile(`(?i)^(aws|certferry):`)
)

// maxUserTags leaves room under Secrets Manager's 50 tags for the 30 certferry:* keys
// certferry may write on a certificate's secret (docs/secret-format.md, "Tags"; the
// pass refuses a secret whose other tags pass it, sinks/secretsmanager.OtherTagsRoom).
const maxUserTags = 20

// checker validates a decoded Config. With fix set (Parse) it also rewrites values into normal
// form; without it (Validate) a value not in normal form is a problem.
type checker struct {
	c        *Config
	fix      bool
	lines    map[string]int
	reported map[string]bool
	covered  map[string]bool // built on first use from reported
	probs    []Problem
	warns    []Problem
}

func parent(path string) string {
	if i := strings.LastIndexAny(path, ".["); i >= 0 {
		return path[:i]
	}
	return ""
}

// line returns the line of path, or of its nearest ancestor the file mentions.
func (k *checker) line(path string) int {
	for p := path; ; p = parent(p) {
		if l, ok := k.lines[p]; ok {
			return l
		}
		if p == "" {
			return 0
		}
	}
}

// suppressed reports whether decoding already complained at, above or below path: the checker
// would only repeat it.
func (k *checker) suppressed(path string) bool {
	if len(k.reported) == 0 {
		return false
	}
	if k.covered == nil {
		// Every ancestor of a reported path, so that a descendant's problem silences its parents.
		k.covered = map[string]bool{}
		for r := range k.reported {
			for p := r; p != ""; {
				p = parent(p)
				k.covered[p] = true
			}
		}
	}
	if k.covered[path] {
		return true
	}
	for p := path; ; p = parent(p) {
		if k.reported[p] {
			return true
		}
		if p == "" {
			return false
		}
	}
}

func (k *checker) addf(path, format string, args ...any) {
	if k.suppressed(path) {
		return
	}
	k.probs = append(k.probs, Problem{Path: path, Line: k.line(path), Msg: fmt.Sprintf(format, textcut.Args(args)...)})
}

func (k *checker) warnf(path, format string, args ...any) {
	k.warns = append(k.warns, Problem{Path: path, Line: k.line(path), Msg: fmt.Sprintf(format, textcut.Args(args)...)})
}

// normal handles a value that has a normal form: Parse rewrites it, Validate reports it.
func (k *checker) normal(path string, dst *string, want string) {
	if *dst == want {
		return
	}
	if k.fix {
		*dst = want
		return
	}
	k.addf(path, "%q is not in normal form; want %q", *dst, want)
}

// at describes where another field is, for messages that point at two places.
func (k *checker) at(path string) string {
	if l := k.lines[path]; l > 0 {
		return fmt.Sprintf("%s (line %d)", path, l)
	}
	return path
}

func (k *checker) check() {
	c := k.c
	k.acme()
	k.aws()
	k.checkDuration("route53.insync_timeout", int64(c.Route53.InsyncTimeout), true)
	for i, r := range c.Route53.Resolvers {
		if !validHostPort(r, false) {
			k.addf(index("route53.resolvers", i), "%q: write host:port (e.g. 1.1.1.1:53)", r)
		}
	}
	k.dnsZones()
	if len(c.Route53.Resolvers) > 0 && !c.Route53.PropagationCheck && !k.followsCNAMEs() {
		k.warnf("route53.resolvers", "unused while route53.propagation_check is false and no certificate follows CNAMEs")
	}
	k.schedule()
	if c.Concurrency < 1 || c.Concurrency > 256 {
		k.addf("concurrency", "%d: must be between 1 and 256", c.Concurrency)
	}
	k.checkDuration("renew_before", int64(c.RenewBefore), false)
	if c.RenewBefore >= DefaultLifetime {
		k.warnf("renew_before", "%s is at least a 90-day certificate's whole lifetime: every pass renews (at most once per issuance_guard)", formatDuration(c.RenewBefore))
	}
	k.checkDuration("issuance_guard", int64(c.IssuanceGuard), false)
	if c.IssuanceGuard > maxUsefulGuard {
		// The guard holds a due certificate until it has expired (only expiry or --force
		// passes it): "issuance_guard: 90d" let every certificate run out.
		k.warnf("issuance_guard", "%s is longer than a week, the window of the CA's duplicate limit: it adds nothing against that limit, and a certificate due sooner than this after its issuance (a short-lived one at half its lifetime, or by renew_before or ARI) is held until it has expired", formatDuration(c.IssuanceGuard))
	}
	k.challenge("", c.Challenge, c.PersistUntil, [2]bool{})
	if !oneOf(c.Log.Level, logLevels) {
		k.addf("log.level", "%q: write %s", c.Log.Level, orList(logLevels))
	}
	if !oneOf(c.Log.Format, logFormats) {
		k.addf("log.format", "%q: write %s", c.Log.Format, orList(logFormats))
	}
	if !validHostPort(c.Listen, true) {
		k.addf("listen", "%q: write host:port (e.g. 127.0.0.1:9464)", c.Listen)
	} else if host, _, _ := net.SplitHostPort(c.Listen); !isLoopback(host) {
		k.warnf("listen", "%q is reachable beyond this host; /metrics and /healthz have no authentication", c.Listen)
	}
	k.checkDurationRange("health_refresh", c.HealthRefresh, time.Second, 24*time.Hour)
	k.coordination()
	k.certificates()
}

func (k *checker) checkDurationRange(path string, d, lo, hi time.Duration) {
	if d < lo || d > hi {
		k.addf(path, "%s: must be between %s and %s", formatDuration(d), formatDuration(lo), formatDuration(hi))
	}
}

// coordination checks the lease settings: a table name DynamoDB accepts, and a lease
// long enough to be renewed in time.
func (k *checker) coordination() {
	co := k.c.Coordination
	if co == nil {
		return
	}
	switch t := co.DynamoDBTable; {
	case t == "":
		k.addf("coordination.dynamodb_table", "required: the DynamoDB table of the leases (e.g. certferry-leases)")
	case len(t) < 3 || len(t) > 255 || strings.Trim(t, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") != "":
		k.addf("coordination.dynamodb_table", "%q: a DynamoDB table name is 3-255 of a-z, A-Z, 0-9, '_', '-' and '.'", t)
	}
	k.checkDurationRange("coordination.lease_duration", co.LeaseDuration, MinLeaseDuration, time.Hour)
}

func (k *checker) checkDuration(path string, d int64, positive bool) {
	switch {
	case positive && d <= 0:
		k.addf(path, "must be more than 0")
	case d < 0:
		k.addf(path, "must not be negative")
	}
}

func (k *checker) acme() {
	a := &k.c.ACME
	if u, ok := Directories[a.Directory]; ok {
		k.normal("acme.directory", &a.Directory, u)
	} else if !validURL(a.Directory, "https") {
		k.addf("acme.directory", "%q: write letsencrypt, letsencrypt-staging or an https:// URL", a.Directory)
	} else {
		k.normal("acme.directory", &a.Directory, canonicalURL(a.Directory))
	}
	switch {
	case a.Email == "":
		k.addf("acme.email", "required: the contact address for the ACME account (e.g. ops@example.com)")
	case !validEmail(a.Email):
		k.addf("acme.email", "%q: not an email address (write just the address, e.g. ops@example.com)", a.Email)
	case (a.Directory == LetsEncryptURL || a.Directory == LetsEncryptStagingURL) && exampleDomain(a.Email):
		k.warnf("acme.email", "%q: Let's Encrypt refuses contact addresses in reserved domains", a.Email)
	}
	k.accountStore()
	k.eab()
	if _, set := k.lines["acme.requests_per_second"]; set || a.RequestsPerSecond != 0 {
		if r := a.RequestsPerSecond; !(r > 0) || math.IsInf(r, 0) {
			k.addf("acme.requests_per_second", "%s: must be more than 0", strconv.FormatFloat(r, 'g', -1, 64))
		} else {
			k.warnf("acme.requests_per_second", "deprecated: it caps every ACME request together and can only slow a pass below "+
				"what the CA allows; acme.rate_limits paces each endpoint the way the CA counts (still honoured)")
		}
	}
	k.rateLimits()
	if _, set := k.lines["acme.max_retry_after"]; set || a.MaxRetryAfter != 0 {
		k.checkDuration("acme.max_retry_after", int64(a.MaxRetryAfter), true)
	}
	if a.Profile != "" && !profileRE.MatchString(a.Profile) {
		k.addf("acme.profile", "%q: %s", a.Profile, profileRule)
	}
	k.limits()
}

// accountStore checks acme.account_store and acme.account_secret.
func (k *checker) accountStore() {
	a := &k.c.ACME
	switch s := a.AccountStore; s.Kind {
	case AccountStoreSecretsManager:
		switch {
		case s.Dir != "":
			k.addf("acme.account_store", "a secretsmanager store takes no directory")
		case a.AccountSecret == "":
			k.addf("acme.account_secret", "required with account_store secretsmanager")
		case !validSecret(a.AccountSecret):
			k.addf("acme.account_secret", "%q: %s", a.AccountSecret, secretRule)
		}
	case AccountStoreFile:
		if !filepath.IsAbs(s.Dir) {
			k.addf("acme.account_store", "%q: the directory must be an absolute path (file:/var/lib/certferry)", s.String())
		}
	default:
		k.addf("acme.account_store", "%q: write secretsmanager or file:/absolute/dir", s.String())
	}
}

// eab checks acme.eab: both fields or neither, and a key CAs could have handed out.
func (k *checker) eab() {
	e := k.c.ACME.EAB
	if e == nil {
		return
	}
	switch {
	case e.KID == "" && e.HMACKey == "":
		k.addf("acme.eab", "set kid and hmac_key, or leave eab out")
	case e.KID == "":
		k.addf("acme.eab.kid", "required when acme.eab.hmac_key is set (both or neither)")
	case e.HMACKey == "":
		k.addf("acme.eab.hmac_key", "required when acme.eab.kid is set (both or neither)")
	default:
		if key, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(e.HMACKey.Reveal(), "=")); err != nil || len(key) == 0 {
			k.addf("acme.eab.hmac_key", "not base64url, the encoding CAs hand the key out in (value not shown)")
		}
	}
}

// rateLimits checks acme.rate_limits: per_second and burst together, in range.
func (k *checker) rateLimits() {
	for i, r := range k.c.ACME.RateLimits.Fields() {
		path := "acme.rate_limits." + RateLimitKeys[i]
		_, setRate := k.lines[path+".per_second"]
		_, setBurst := k.lines[path+".burst"]
		setRate, setBurst = setRate || r.PerSecond != 0, setBurst || r.Burst != 0
		switch {
		case !setRate && !setBurst:
		case !setRate:
			k.addf(path+".per_second", "required with burst (give both, or leave %s out for the default)", RateLimitKeys[i])
		case !setBurst:
			k.addf(path+".burst", "required with per_second (give both, or leave %s out for the default)", RateLimitKeys[i])
		default:
			if !(r.PerSecond > 0) || r.PerSecond > 1e6 {
				k.addf(path+".per_second", "%s: must be more than 0 and at most 1000000", strconv.FormatFloat(r.PerSecond, 'g', -1, 64))
			}
			if r.Burst < 1 || r.Burst > 1e6 {
				k.addf(path+".burst", "%d: must be between 1 and 1000000", r.Burst)
			}
		}
	}
}

// limits fills in Let's Encrypt's limits where the file names a Let's Encrypt directory
// and sets none (Parse only), and checks each limit is in range.
func (k *checker) limits() {
	a := &k.c.ACME
	le := a.Directory == LetsEncryptURL || a.Directory == LetsEncryptStagingURL
	defaults := LetsEncryptLimits
	def := defaults.Fields()
	for i, l := range a.Limits.Fields() {
		path := "acme.limits." + LimitKeys[i]
		if _, set := k.lines[path]; k.fix && le && !set {
			*l = *def[i]
		}
		if l.IsZero() {
			continue
		}
		if l.N < 1 || l.N > MaxLimitN || l.Window <= 0 || l.Window > MaxLimitWindow {
			k.addf(path, "%d/%s: the count must be between 1 and %d and the window more than 0 and at most 366d", l.N, formatDuration(l.Window), MaxLimitN)
		}
	}
}

const (
	profileRule = "an ACME profile name is letters, digits, '.', '_' and '-' (at most 64)"
	secretRule  = "a secret name is 1 to 512 of letters, digits and /_+=.@- (or a secret's ARN)"
)

func (k *checker) aws() {
	a := k.c.AWS
	if a.Region != "" && !regionRE.MatchString(a.Region) {
		k.addf("aws.region", "%q: not an AWS region (e.g. us-east-2); leave it empty to use AWS_REGION", a.Region)
	}
	if a.EndpointURL != "" && !validURL(a.EndpointURL, "http", "https") {
		k.addf("aws.endpoint_url", "%q: write an http:// or https:// URL with a host", a.EndpointURL)
	}
	if a.Profile != "" && strings.ContainsAny(a.Profile, " \t\r\n[]") {
		k.addf("aws.profile", "%q: not a profile name", a.Profile)
	}
	if a.AssumeRoleARN != "" && !matchBounded(roleARNRE, a.AssumeRoleARN, 512) {
		k.addf("aws.assume_role_arn", "%q: write arn:aws:iam::<12-digit account>:role/<name>", a.AssumeRoleARN)
	}
	k.checkRole("aws.secretsmanager", a.SecretsManager)
	switch {
	case a.ExternalID != "" && a.AssumeRoleARN == "":
		k.addf("aws.external_id", "only used with aws.assume_role_arn: set that too, or drop this")
	case a.ExternalID != "" && (len(a.ExternalID) < 2 || len(a.ExternalID) > 1224 || !externalIDRE.MatchString(a.ExternalID)):
		k.addf("aws.external_id", "an external ID is 2 to 1224 of letters, digits and +=,.@:/-_")
	}
}

// maxUsefulGuard is the window of Let's Encrypt's duplicate-certificate limit (5 per
// 168h): a longer issuance_guard protects nothing more.
const maxUsefulGuard = 7 * 24 * time.Hour

func (k *checker) schedule() {
	s := k.c.Schedule
	if s.MinPeriod < time.Second {
		k.addf("schedule.min_period", "%s: must be at least 1s (the floor between two passes; default %s)", formatDuration(s.MinPeriod), formatDuration(DefaultMinPeriod))
	}
	if s.Cron != "" {
		if cs, err := scheduler.ParseCron(s.Cron); err != nil {
			k.addf("schedule.cron", "%q: %s (write 5 fields: minute hour day-of-month month day-of-week, e.g. \"17 3,15 * * *\")", s.Cron, err.Error())
		} else if err := scheduler.CheckSpec(cs, time.Now(), max(s.MinPeriod, time.Second)); err != nil {
			k.addf("schedule.cron", "%q: %s", s.Cron, err.Error())
		} else if gap := scheduler.LongestGap(cs, time.Now()); gap+s.Jitter > DefaultLifetime/3 {
			// The jitter delays each pass by up to its length, so it widens the gap:
			// "jitter: 100000h" on a daily cron left a daemon's passes years apart.
			with := ""
			if s.Jitter > 0 {
				with = " with schedule.jitter " + formatDuration(s.Jitter)
			}
			k.warnf("schedule.cron", "%q: passes up to %s apart%s, longer than a third of a 90-day certificate's lifetime (30d): a certificate can expire before the next pass, or after one failed pass", s.Cron, formatDuration(gap+s.Jitter), with)
		}
	}
	k.checkDuration("schedule.jitter", int64(s.Jitter), false)
	k.checkDuration("schedule.interval", int64(s.Interval), false)
	if s.Interval > DefaultLifetime/3 {
		k.warnf("schedule.interval", "%s is longer than a third of a 90-day certificate's lifetime (30d): one failed run can leave a certificate to expire before the next run", formatDuration(s.Interval))
	}
}

func (k *checker) certificates() {
	c := k.c
	if len(c.Certificates) == 0 {
		k.addf("certificates", "at least one certificate is required")
		return
	}
	names := map[string]int{}
	sets := map[string]int{} // nameSetKey -> certificate index
	secrets := map[string]string{}
	dirs := map[string]string{}
	if c.ACME.AccountStore.Kind == AccountStoreSecretsManager && c.ACME.AccountSecret != "" {
		secrets[c.ACME.AccountSecret] = "acme.account_secret"
	}
	for i := range c.Certificates {
		cert := &c.Certificates[i]
		p := index("certificates", i)
		switch {
		case cert.Name == "":
			k.addf(p+".name", "required: lowercase letters, digits, '.', '_' or '-' (e.g. \"www\")")
		case !certNameRE.MatchString(cert.Name):
			k.addf(p+".name", "%q: a name is lowercase letters, digits, '.', '_' and '-', starts with a letter or digit, and has at most 63 characters", cert.Name)
		default:
			if j, dup := names[cert.Name]; dup {
				k.addf(p+".name", "%q is already the name of %s", cert.Name, k.at(index("certificates", j)))
			} else {
				names[cert.Name] = i
			}
		}
		if out := k.domains(p+".domains", cert); len(out) > 0 {
			// Two certificates for one set of names would both be ordered (the CA counts
			// them as duplicates) and fight over which is current wherever they are served.
			key := nameSetKey(out)
			if j, dup := sets[key]; dup {
				k.addf(p+".domains", "the same names as %s: one set of names is one certificate; merge the two entries (several sinks and hooks fit in one)", k.at(index("certificates", j)+".domains"))
			} else {
				sets[key] = i
			}
		}
		if !oneOf(string(cert.KeyType), keyTypeNames()) {
			k.addf(p+".key_type", "%q: write %s", cert.KeyType, orList(keyTypeNames()))
		}
		if cert.Profile != "" && !profileRE.MatchString(cert.Profile) {
			k.addf(p+".profile", "%q: %s", cert.Profile, profileRule)
		}
		if z := cert.HostedZoneID; z != "" {
			k.normal(p+".hosted_zone_id", &cert.HostedZoneID, strings.TrimPrefix(z, "/hostedzone/"))
			if !zoneIDRE.MatchString(strings.TrimPrefix(z, "/hostedzone/")) {
				k.addf(p+".hosted_zone_id", "%q: a hosted zone ID is \"Z\" followed by uppercase letters and digits", z)
			}
		}
		k.certDNS(p, cert)
		k.challenge(p+".", cert.Challenge, cert.PersistUntil, [2]bool{cert.Challenge == c.Challenge, cert.PersistUntil == c.PersistUntil})
		k.checkDuration(p+".renew_before", int64(cert.RenewBefore), false)
		if cert.RenewBefore >= DefaultLifetime && cert.RenewBefore != c.RenewBefore {
			k.warnf(p+".renew_before", "%s is at least a 90-day certificate's whole lifetime: every pass renews (at most once per issuance_guard)", formatDuration(cert.RenewBefore))
		}
		k.sinks(p+".sinks", cert, secrets, dirs)
		for j, h := range cert.Hooks.OnRenew {
			k.hook(index(p+".hooks.on_renew", j), h)
		}
		for j, h := range cert.Hooks.OnFailure {
			k.hook(index(p+".hooks.on_failure", j), h)
		}
	}
}

// domains checks a certificate's names and returns them in normal form (nil when a name
// is wrong).
func (k *checker) domains(path string, cert *Certificate) []string {
	out, probs := normalizeDomainList(cert.Domains)
	for _, dp := range probs {
		if dp.index < 0 {
			k.addf(path, "%s", dp.msg)
		} else {
			k.addf(index(path, dp.index), "%s", dp.msg)
		}
	}
	if len(probs) > 0 {
		return nil
	}
	for i := range out {
		k.normal(index(path, i), &cert.Domains[i], out[i])
	}
	return out
}

// secretKeys are the forms under which a secret reference may name the same secret: a
// name is itself; an ARN is itself, its name part (a partial ARN), and that name without
// the "-" and six characters AWS appends to a full ARN.
func secretKeys(ref string) []string {
	_, rest, ok := strings.Cut(ref, ":secret:")
	if !strings.HasPrefix(ref, "arn:") || !ok || rest == "" {
		return []string{ref}
	}
	keys := []string{ref, rest}
	if i := len(rest) - 7; i > 0 && rest[i] == '-' {
		keys = append(keys, rest[:i])
	}
	return keys
}

// nameSetKey identifies a set of names whatever their order.
func nameSetKey(names []string) string {
	sorted := slices.Clone(names)
	slices.Sort(sorted)
	return strings.Join(slices.Compact(sorted), " ")
}

func (k *checker) sinks(path string, cert *Certificate, secrets, dirs map[string]string) {
	s := cert.Sinks
	if s.SecretsManager == nil && s.File == nil {
		k.addf(path, "at least one sink is required (secretsmanager or file)")
	}
	if sm := s.SecretsManager; sm != nil {
		p := path + ".secretsmanager"
		switch {
		case sm.Secret == "":
			k.addf(p+".secret", "required: the name of the secret to write (e.g. %q)", "certificates/"+orDefault(cert.Name, "www"))
		case !validSecret(sm.Secret):
			k.addf(p+".secret", "%q: %s", sm.Secret, secretRule)
		default:
			dup := false
			for _, key := range secretKeys(sm.Secret) {
				if other, ok := secrets[key]; ok && !dup {
					dup = true
					how := ""
					if key != sm.Secret {
						how = " (named once by name and once by ARN)"
					}
					k.addf(p+".secret", "%q is already the secret of %s%s", sm.Secret, k.at(other), how)
				}
			}
			if !dup {
				for _, key := range secretKeys(sm.Secret) {
					secrets[key] = p + ".secret"
				}
			}
		}
		if len(sm.Description) > 2048 {
			k.addf(p+".description", "%d characters; the limit is 2048", len(sm.Description))
		}
		if len(sm.Tags) > maxUserTags {
			k.addf(p+".tags", "%d tags; at most %d (Secrets Manager allows 50 and certferry may write 30)", len(sm.Tags), maxUserTags)
		}
		for _, key := range sortedKeys(sm.Tags) {
			tp := p + ".tags." + key
			switch {
			case key == "" || len(key) > 128:
				k.addf(tp, "a tag key is 1 to 128 characters")
			case reservedTagRE.MatchString(key):
				k.addf(tp, "%q: the aws: and certferry: prefixes are reserved", key)
			case len(sm.Tags[key]) > 256:
				k.addf(tp, "a tag value is at most 256 characters")
			}
		}
	}
	if f := s.File; f != nil {
		p := path + ".file"
		switch {
		case f.Dir == "":
			k.addf(p+".dir", "required: the directory for the PEM files (e.g. %q)", "/etc/certferry/"+orDefault(cert.Name, "www"))
		case !filepath.IsAbs(f.Dir):
			k.addf(p+".dir", "%q: must be an absolute path", f.Dir)
		case filepath.Clean(f.Dir) == "/":
			k.addf(p+".dir", "%q: the root directory; give the certificate a directory of its own (e.g. %q)", f.Dir, "/etc/certferry/"+orDefault(cert.Name, "www"))
		default:
			clean := filepath.Clean(f.Dir)
			if other, dup := dirs[clean]; dup {
				k.addf(p+".dir", "%q is already the directory of %s", f.Dir, k.at(other))
			} else {
				dirs[clean] = p + ".dir"
			}
			if why, ok := systemDirs[clean]; ok {
				k.warnf(p+".dir", "%q is %s: certferry writes cert.pem, chain.pem, fullchain.pem and privkey.pem there; give the certificate a directory of its own (e.g. %q)",
					f.Dir, why, "/etc/certferry/"+orDefault(cert.Name, "www"))
			}
		}
		if f.Owner != "" && !ownerRE.MatchString(f.Owner) {
			k.addf(p+".owner", "%q: write a user name or a numeric uid", f.Owner)
		}
		if f.Group != "" && !ownerRE.MatchString(f.Group) {
			k.addf(p+".group", "%q: write a group name or a numeric gid", f.Group)
		}
	}
}

// SystemDirectory reports whether dir (absolute, clean) is a directory a file sink should
// not write into, and why. The configuration's check sees the path as written; callers
// that resolve symbolic links check the real path with it too.
func SystemDirectory(dir string) (why string, ok bool) {
	why, ok = systemDirs[filepath.Clean(dir)]
	return why, ok
}

// systemDirs are directories a file sink should not write into, with the reason: files
// of the system or of other programs live there, or anyone may write there.
var systemDirs = func() map[string]string {
	m := map[string]string{}
	for _, d := range []string{"/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib32", "/lib64", "/opt", "/proc",
		"/root", "/run", "/sbin", "/srv", "/sys", "/usr", "/usr/bin", "/usr/lib", "/usr/local", "/usr/local/bin",
		"/usr/local/etc", "/usr/local/sbin", "/usr/sbin", "/usr/share", "/var", "/var/lib", "/var/log", "/var/run",
		"/etc/ssl", "/etc/ssl/certs", "/etc/ssl/private", "/etc/pki", "/etc/pki/tls", "/etc/pki/tls/certs",
		"/etc/pki/tls/private", "/etc/nginx", "/etc/apache2", "/etc/httpd", "/etc/haproxy", "/etc/letsencrypt"} {
		m[d] = "a system directory"
	}
	for _, d := range []string{"/tmp", "/var/tmp", "/dev/shm"} {
		m[d] = "writable by every user (anyone could replace the key)"
	}
	return m
}()

func (k *checker) hook(path string, h Hook) {
	kinds := h.kinds()
	switch len(kinds) {
	case 0:
		k.addf(path, "empty hook: give one of exec, webhook, asg_instance_refresh or ecs_redeploy")
		return
	case 1:
	default:
		k.addf(path, "%s in one entry: a hook entry has exactly one kind (make one entry each)", strings.Join(kinds, " and "))
		return
	}
	switch {
	case h.Exec != nil:
		p := path + ".exec"
		switch {
		case len(h.Exec) == 0:
			k.addf(p, "empty: give the program and its arguments, e.g. [\"/usr/local/bin/redeploy\", \"--all\"]")
		case !filepath.IsAbs(h.Exec[0]):
			k.addf(index(p, 0), "%q: the program must be an absolute path (there is no $PATH lookup)", h.Exec[0])
		}
		for i, arg := range h.Exec {
			if strings.ContainsRune(arg, 0) {
				k.addf(index(p, i), "contains a NUL byte")
			}
		}
		k.hookEnv(path+".env", h.Env)
	case h.Webhook != nil:
		p := path + ".webhook"
		u, err := url.Parse(h.Webhook.URL)
		switch {
		case h.Webhook.URL == "":
			k.addf(p+".url", "required: the https:// URL to POST to")
		case err != nil || u.Host == "" || u.Scheme != "https" && u.Scheme != "http":
			k.addf(p+".url", "not an https:// URL with a host (value not shown: it may hold a token)")
		case u.Scheme == "http" && !isLoopback(u.Hostname()):
			k.addf(p+".url", "%q: a webhook must use https (http only to localhost or 127.0.0.1, for tests)", "http://"+u.Host)
		}
		if h.Webhook.Secret == "" {
			k.addf(p+".secret", "required: the key that signs each request (webhook-signature), e.g. \"${HOOK_SECRET}\" holding whsec_<base64>")
		} else if _, err := WebhookKey(h.Webhook.Secret.Reveal()); err != nil {
			k.addf(p+".secret", "%v", err)
		}
	case h.ASGInstanceRefresh != nil:
		p := path + ".asg_instance_refresh"
		a := h.ASGInstanceRefresh
		switch {
		case a.Name == "":
			k.addf(p+".name", "required: the Auto Scaling group's name")
		case len(a.Name) > 255:
			k.addf(p+".name", "at most 255 characters")
		}
		if a.MinHealthyPercentage < 0 || a.MinHealthyPercentage > 100 {
			k.addf(p+".min_healthy_percentage", "%d: must be between 0 and 100", a.MinHealthyPercentage)
		}
	case h.ECSRedeploy != nil:
		p := path + ".ecs_redeploy"
		if h.ECSRedeploy.Cluster == "" {
			k.addf(p+".cluster", "required: the ECS cluster's name or ARN")
		}
		if h.ECSRedeploy.Service == "" {
			k.addf(p+".service", "required: the ECS service's name or ARN")
		}
	}
	if h.Exec == nil && len(h.Env) > 0 {
		k.addf(path+".env", "only exec hooks take env (a %s hook runs no program)", kinds[0])
	}
	switch {
	case h.Timeout <= 0:
		k.addf(path+".timeout", "must be more than 0")
	case h.Timeout < time.Second:
		// "timeout: 1ns" (or 5ms meant as 5m) killed every run of the hook: the deploy
		// never happened and the hook was retried on every pass.
		k.addf(path+".timeout", "%s: at least 1s (a hook killed at once never runs)", formatDuration(h.Timeout))
	case h.Timeout > MaxHookTimeout:
		k.addf(path+".timeout", "%s: at most 1h", formatDuration(h.Timeout))
	}
}

// hookEnv checks an exec hook's env map: names a program's environment can hold, none of
// certferry's own, and values without a NUL byte (which would cut the value). Values are
// never quoted: they may hold a token.
func (k *checker) hookEnv(path string, env map[string]Secret) {
	for _, name := range slices.Sorted(maps.Keys(env)) {
		p := path + "." + name
		switch {
		case !validEnvName(name):
			k.addf(p, "%q: not an environment variable name (letters, digits and _, not starting with a digit)", name)
		case strings.HasPrefix(strings.ToUpper(name), "CERTFERRY_"):
			k.addf(p, "%q: CERTFERRY_* variables are reserved for the event certferry passes to the hook", name)
		}
		if strings.ContainsRune(env[name].Reveal(), 0) {
			k.addf(p, "contains a NUL byte (value not shown)")
		}
	}
}

func keyTypeNames() []string {
	s := make([]string, len(KeyTypes))
	for i, t := range KeyTypes {
		s[i] = string(t)
	}
	return s
}

func oneOf(s string, set []string) bool {
	for _, v := range set {
		if s == v {
			return true
		}
	}
	return false
}

func orList(s []string) string {
	return strings.Join(s[:len(s)-1], ", ") + " or " + s[len(s)-1]
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// canonicalURL is s (a valid URL) with its scheme and host in lower case and without
// the scheme's default port: one ACME directory has one spelling, as accounts, the
// issuance guard, the ca-changed rule and the CA's limits are kept per directory.
func canonicalURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return s
	}
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if port == "443" && u.Scheme == "https" || port == "80" && u.Scheme == "http" {
		port = ""
	}
	switch {
	case port != "":
		u.Host = net.JoinHostPort(host, port)
	case strings.Contains(host, ":"):
		u.Host = "[" + host + "]"
	default:
		u.Host = host
	}
	return u.String()
}

func validURL(s string, schemes ...string) bool {
	u, err := url.Parse(s)
	return err == nil && u.Host != "" && u.Hostname() != "" && oneOf(u.Scheme, schemes) && u.Opaque == ""
}

func validEmail(s string) bool {
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" {
		return false
	}
	at := strings.LastIndexByte(s, '@')
	domain := s[at+1:]
	_, msg := normalizeDomain(domain)
	return msg == "" && !strings.HasPrefix(domain, "*")
}

// exampleDomain reports an address in a domain reserved by RFC 2606/6761, which Let's Encrypt
// refuses as an account contact.
func exampleDomain(email string) bool {
	domain := strings.ToLower(email[strings.LastIndexByte(email, '@')+1:])
	for _, d := range []string{"example.com", "example.net", "example.org"} {
		if domain == d || strings.HasSuffix(domain, "."+d) {
			return true
		}
	}
	for _, tld := range []string{".example", ".invalid", ".test", ".localhost", ".local"} {
		if strings.HasSuffix(domain, tld) {
			return true
		}
	}
	return false
}

func validSecret(s string) bool {
	return (secretNameRE.MatchString(s) && len(s) <= 512) || matchBounded(secretARNRE, s, 512)
}

// matchBounded reports whether re matches s and its last group is at most max bytes.
func matchBounded(re *regexp.Regexp, s string, max int) bool {
	m := re.FindStringSubmatch(s)
	return m != nil && len(m[len(m)-1]) <= max
}

// validHostPort accepts host:port with a numeric port; emptyHost allows ":9464".
func validHostPort(s string, emptyHost bool) bool {
	host, port, err := net.SplitHostPort(s)
	if err != nil || port == "" {
		return false
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 || strconv.Itoa(n) != port {
		return false
	}
	if host == "" {
		return emptyHost
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return true
	}
	_, msg := normalizeDomain(host)
	return msg == "" && !strings.Contains(host, "*") || host == "localhost"
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// challenge checks a challenge and persist_until pair, at the top level (prefix "") or
// of one certificate (prefix "certificates[i]."); a certificate's values inherited from
// the top level (inherited) were checked there.
func (k *checker) challenge(prefix, challenge string, persistUntil time.Duration, inherited [2]bool) {
	if !inherited[0] && challenge != "" && !oneOf(challenge, Challenges) {
		k.addf(prefix+"challenge", "%q: write %s", challenge, orList(Challenges))
	}
	switch {
	case persistUntil == 0:
	case persistUntil < MinPersistUntil:
		if !inherited[1] {
			k.addf(prefix+"persist_until", "%s: must be at least %s (the records must outlive the renewals they serve)", formatDuration(persistUntil), formatDuration(MinPersistUntil))
		}
	case challenge != ChallengeDNSPersist01 && prefix != "" && !inherited[1]:
		k.warnf(prefix+"persist_until", "unused: the certificate's challenge is dns-01")
	}
}
