package config

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// base returns the Config that Parse makes of a file setting only acme.email, with certs added.
func base(email string, certs ...Certificate) *Config {
	c := defaults()
	c.ACME.Directory = LetsEncryptURL
	c.ACME.Limits = LetsEncryptLimits
	c.ACME.Email = email
	c.Certificates = certs
	return c
}

func TestParseGood(t *testing.T) {
	t.Parallel()
	deploy := []Hook{{Exec: []string{"/usr/local/bin/deploy"}, Timeout: DefaultExecTimeout}}
	tests := []struct {
		file string
		env  map[string]string
		want *Config
	}{
		{"minimal", nil, base("hostmaster@example-corp.net", Certificate{
			Name:    "www",
			Domains: []string{"www.example.org", "xn--bcher-kva.example.org", "*.example.org"},
			KeyType: KeyEC256,
			Sinks:   Sinks{SecretsManager: &SecretsManagerSink{Secret: "certs/www"}},
		})},
		{"full", map[string]string{"ACME_EMAIL": "certs@example-corp.net", "EAB_HMAC": "c2VjcmV0LWhtYWMta2V5", "HOOK_SECRET": "hook-secret", "ACME_DIRECTORY": ""}, &Config{
			ACME: ACME{
				Directory:         LetsEncryptStagingURL,
				Email:             "certs@example-corp.net",
				CABundle:          "/etc/certferry/roots.pem",
				AccountStore:      AccountStore{Kind: AccountStoreFile, Dir: "/var/lib/certferry"},
				AccountSecret:     DefaultAccountSecret,
				EAB:               &EAB{KID: "kid-123", HMACKey: "c2VjcmV0LWhtYWMta2V5"},
				RequestsPerSecond: 2.5,
				RateLimits:        RateLimits{NewNonce: RateLimit{PerSecond: 10, Burst: 5}, Other: RateLimit{PerSecond: 100.5, Burst: 50}},
				MaxRetryAfter:     30 * time.Second,
				Profile:           "tlsserver",
				ARI:               false,
				Limits:            Limits{NewOrders: Limit{N: 30, Window: time.Minute}, PerRegisteredDomain: LetsEncryptLimits.PerRegisteredDomain},
			},
			AWS: AWS{Region: "eu-west-3", EndpointURL: "http://127.0.0.1:4566", Profile: "certs",
				AssumeRoleARN: "arn:aws:iam::123456789012:role/certferry", ExternalID: "certferry-ext"},
			Route53:       Route53{InsyncTimeout: 2 * time.Minute, PropagationCheck: true, Resolvers: []string{"1.1.1.1:53", "[2606:4700:4700::1111]:53"}},
			Schedule:      Schedule{Cron: "@daily", Jitter: 30 * time.Minute, MinPeriod: time.Hour, Interval: 7 * 24 * time.Hour},
			Concurrency:   16,
			RenewBefore:   20 * 24 * time.Hour,
			IssuanceGuard: 0,
			Log:           Log{Level: "debug", Format: "json"},
			Listen:        "127.0.0.1:0",
			HealthRefresh: 30 * time.Second,
			Coordination:  &Coordination{DynamoDBTable: "certferry-leases", LeaseDuration: 90 * time.Second},
			Certificates: []Certificate{
				{
					Name: "web", Domains: []string{"example.org", "www.example.org"}, KeyType: KeyRSA3072,
					Profile: "tlsserver", HostedZoneID: "Z0123456789ABC", RenewBefore: 20 * 24 * time.Hour,
					Sinks: Sinks{
						SecretsManager: &SecretsManagerSink{Secret: "certs/web", KMSKeyID: "alias/certs", Description: "the web certificate",
							Tags: map[string]string{"team": "web", "cost-centre": "42"}},
						File: &FileSink{Dir: "/etc/certferry/web", Owner: "root", Group: "33"},
					},
					Hooks: Hooks{
						OnRenew: []Hook{
							{Exec: []string{"/usr/bin/systemctl", "reload", "nginx"}, Timeout: time.Minute,
								Env: map[string]Secret{"AWS_PROFILE": "certs", "TOKEN": "hook-secret", "EMPTY": ""}},
							{Webhook: &Webhook{URL: "http://127.0.0.1:8080/hook", Secret: "hook-secret"}, Timeout: 10 * time.Second},
							{ASGInstanceRefresh: &ASGInstanceRefresh{Name: "web-asg", MinHealthyPercentage: 90}, Timeout: DefaultAWSHookTimeout},
							{ECSRedeploy: &ECSRedeploy{Cluster: "prod", Service: "web"}, Timeout: DefaultAWSHookTimeout},
						},
						OnFailure: []Hook{
							{Webhook: &Webhook{URL: "https://alerts.example.org/certferry?token=t0k", Secret: "${literal}"}, Timeout: DefaultWebhookTimeout},
						},
					},
				},
				{
					Name: "api", Domains: []string{"api.example.org"}, KeyType: KeyEC256, Profile: "shortlived",
					RenewBefore: 2 * 24 * time.Hour, Sinks: Sinks{File: &FileSink{Dir: "/etc/certferry/api"}},
				},
			},
			Warnings: []string{"line 7: acme.requests_per_second: deprecated: it caps every ACME request together and can only slow a pass " +
				"below what the CA allows; acme.rate_limits paces each endpoint the way the CA counts (still honoured)"},
		}},
		{"schedule_shorthand", nil, func() *Config {
			c := base("hostmaster@example-corp.net",
				Certificate{Name: "a", Domains: []string{"a.example.org"}, KeyType: KeyEC256, RenewBefore: 36 * time.Hour,
					Sinks: Sinks{SecretsManager: &SecretsManagerSink{Secret: "certs/a"}}, Hooks: Hooks{OnRenew: deploy}},
				Certificate{Name: "b", Domains: []string{"b.example.org"}, KeyType: KeyEC256, RenewBefore: 36 * time.Hour,
					Sinks: Sinks{SecretsManager: &SecretsManagerSink{Secret: "certs/b"}}, Hooks: Hooks{OnRenew: deploy}})
			c.Schedule.Cron = "CRON_TZ=Europe/Paris 17 3,15 * * *"
			c.RenewBefore = 36 * time.Hour
			c.Concurrency = 10
			return c
		}()},
		{"warnings", nil, func() *Config {
			c := base("ops@example.com", Certificate{Name: "www", Domains: []string{"www.example.org"}, KeyType: KeyEC256,
				RenewBefore: 90 * 24 * time.Hour, Sinks: Sinks{SecretsManager: &SecretsManagerSink{Secret: "certs/www"}}})
			c.Schedule.Interval = 60 * 24 * time.Hour
			c.Route53.Resolvers = []string{"8.8.8.8:53"}
			c.Listen = "0.0.0.0:9464"
			c.Warnings = []string{
				`line 2: acme.email: "ops@example.com": Let's Encrypt refuses contact addresses in reserved domains`,
				`line 4: schedule.interval: 60d is longer than a third of a 90-day certificate's lifetime (30d): one failed run can leave a certificate to expire before the next run`,
				`line 7: listen: "0.0.0.0:9464" is reachable beyond this host; /metrics and /healthz have no authentication`,
				`line 11: certificates[0].renew_before: 90d is at least a 90-day certificate's whole lifetime: every pass renews (at most once per issuance_guard)`,
			}
			return c
		}()},
	}
	files, _ := filepath.Glob("testdata/good/*.yaml")
	if len(files) != len(tests) {
		t.Errorf("%d files in testdata/good, %d rows", len(files), len(tests))
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile(filepath.Join("testdata", "good", tt.file+".yaml"))
			if err != nil {
				t.Fatal(err)
			}
			got, err := Parse(data, env(tt.env))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			// Compared as JSON, where an empty list and a missing one look the same.
			if g, w := canonical(t, got), canonical(t, tt.want); g != w {
				t.Errorf("got:\n%s\nwant:\n%s", g, w)
			}
			if err := got.Validate(); err != nil {
				t.Errorf("Validate of Parse's result: %v", err)
			}
		})
	}
}

// TestExample checks that the documented example parses as is (only its reserved-domain email
// may warn), and that it shows every key of config.example.yaml.
func TestExample(t *testing.T) {
	t.Parallel()
	c, err := Load("../config.example.yaml", env(nil))
	if err != nil {
		t.Fatalf("config.example.yaml: %v", err)
	}
	if len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], "acme.email") {
		t.Errorf("warnings: %q", c.Warnings)
	}
	cert := c.Certificate("example")
	if cert == nil || cert.Sinks.SecretsManager.Secret != "certferry/example" || cert.Sinks.File.Dir != "/var/lib/certferry/example" ||
		len(cert.Hooks.OnRenew) != 1 || cert.Hooks.OnRenew[0].Kind() != HookExec || c.Schedule.Cron != "17 3,15 * * *" {
		t.Errorf("example certificate: %+v", cert)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
}

// TestAllProblemsAtOnce: three independent mistakes give three problems, in file order.
func TestAllProblemsAtOnce(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("testdata/bad/three_problems.yaml")
	if err != nil {
		t.Fatal(err)
	}
	_, err = Parse(data, nil)
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("got %v, want *ValidationError", err)
	}
	var paths []string
	var lines []int
	for _, p := range ve.Problems {
		paths = append(paths, p.Path)
		lines = append(lines, p.Line)
	}
	if want := []string{"concurrency", "log.level", "certificates[0].key_type"}; !reflect.DeepEqual(paths, want) {
		t.Errorf("paths %q, want %q", paths, want)
	}
	if want := []int{3, 5, 9}; !reflect.DeepEqual(lines, want) {
		t.Errorf("lines %v, want %v", lines, want)
	}
	var p Problem
	if !errors.As(err, &p) || p.Path != "concurrency" {
		t.Errorf("errors.As(Problem) = %+v", p)
	}
}

func TestLoadNamesTheFile(t *testing.T) {
	t.Parallel()
	_, err := Load("testdata/bad/three_problems.yaml", nil)
	want := "testdata/bad/three_problems.yaml:3: concurrency: 1000: must be between 1 and 256\n" +
		"testdata/bad/three_problems.yaml:5: log.level: \"verbose\": write debug, info, warn or error\n" +
		"testdata/bad/three_problems.yaml:9: certificates[0].key_type: \"ed25519\": write ec256, ec384, rsa2048, rsa3072 or rsa4096"
	if err == nil || err.Error() != want {
		t.Errorf("got:\n%v\nwant:\n%s", err, want)
	}
	_, err = Load("testdata/missing.yaml", nil)
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v, want os.ErrNotExist", err)
	}
}

// TestSecretsStayOut: a bad webhook URL or EAB key is never echoed in an error.
func TestSecretsStayOut(t *testing.T) {
	t.Parallel()
	data := []byte(`acme:
  email: ops@example.org
  eab: { kid: k, hmac_key: "tOpS3cret!!" }
certificates:
  - name: www
    domains: [www.example.org]
    sinks: { secretsmanager: { secret: s } }
    hooks:
      on_renew:
        - webhook: { url: "ftp://hooks.example.org/tOpS3cret", secret: x }
        - webhook: { url: "http://hooks.example.org/a?tOpS3cret", secret: x }
`)
	_, err := Parse(data, nil)
	if err == nil || strings.Contains(err.Error(), "tOpS3cret") {
		t.Errorf("error leaks the secret or is nil: %v", err)
	}
}

func TestRedacted(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("testdata/good/full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := Parse(data, env(map[string]string{"ACME_EMAIL": "a@example.org", "EAB_HMAC": "c2VjcmV0", "HOOK_SECRET": "hunter2"}))
	if err != nil {
		t.Fatal(err)
	}
	r := c.Redacted()
	out, _ := json.Marshal(r)
	for _, secret := range []string{"c2VjcmV0", "hunter2", "t0k", "${literal}"} {
		if strings.Contains(string(out), secret) {
			t.Errorf("Redacted still holds %q: %s", secret, out)
		}
	}
	if r.ACME.EAB.HMACKey != "REDACTED" || r.Certificates[0].Hooks.OnRenew[1].Webhook.Secret != "REDACTED" ||
		r.Certificates[0].Hooks.OnFailure[0].Webhook.URL != "https://alerts.example.org/certferry?token=REDACTED" {
		t.Errorf("Redacted: %s", out)
	}
	// The original is untouched: Redacted deep-copies.
	if c.ACME.EAB.HMACKey != "c2VjcmV0" || c.Certificates[0].Hooks.OnRenew[1].Webhook.Secret != "hunter2" {
		t.Errorf("Redacted changed the original")
	}
	r.Certificates[0].Domains[0] = "changed"
	r.Certificates[0].Sinks.SecretsManager.Tags["team"] = "changed"
	if c.Certificates[0].Domains[0] == "changed" || c.Certificates[0].Sinks.SecretsManager.Tags["team"] == "changed" {
		t.Errorf("Redacted shares memory with the original")
	}
}

// TestValidateNormalForm: Validate wants values in Parse's normal form and says which.
func TestValidateNormalForm(t *testing.T) {
	t.Parallel()
	c := base("hostmaster@example-corp.net", Certificate{Name: "www", Domains: []string{"WWW.example.org"}, KeyType: KeyEC256,
		HostedZoneID: "/hostedzone/ZABC", Sinks: Sinks{File: &FileSink{Dir: "/etc/x"}},
		Hooks: Hooks{OnRenew: []Hook{{Exec: []string{"/bin/true"}}}}})
	c.ACME.Directory = "letsencrypt"
	want := `acme.directory: "letsencrypt" is not in normal form; want "https://acme-v02.api.letsencrypt.org/directory"
certificates[0].domains[0]: "WWW.example.org" is not in normal form; want "www.example.org"
certificates[0].hosted_zone_id: "/hostedzone/ZABC" is not in normal form; want "ZABC"
certificates[0].hooks.on_renew[0].timeout: must be more than 0`
	if err := c.Validate(); err == nil || err.Error() != want {
		t.Errorf("got:\n%v\nwant:\n%s", err, want)
	}
}

func TestExpand(t *testing.T) {
	t.Parallel()
	getenv := env(map[string]string{"A": "alpha", "EMPTY": "", "B_2": "b"})
	tests := []struct{ in, want, err string }{
		{"plain", "plain", ""},
		{"${A}", "alpha", ""},
		{"x-${A}-${B_2}-y", "x-alpha-b-y", ""},
		{"${EMPTY}", "", ""},
		{"${EMPTY:-def}", "def", ""},
		{"${UNSET:-}", "", ""},
		{"${UNSET:-a b:c}", "a b:c", ""},
		{"${A:-def}", "alpha", ""},
		{"$A $ {A} $", "$A $ {A} $", ""},
		{"$${A}", "${A}", ""},
		{"$$${A}", "$${A}", ""}, // "$" then the escape "$${"
		{"${UNSET}", "", "environment variable UNSET is not set (use ${UNSET:-default} to give a default)"},
		{"${A", "", `unterminated "${A": missing "}"`},
		{"${}", "", `"${}": write ${NAME} or ${NAME:-default}, NAME being letters, digits and _ ("$${" for a literal "${")`},
		{"${1A}", "", `"${1A}": write ${NAME} or ${NAME:-default}, NAME being letters, digits and _ ("$${" for a literal "${")`},
		{"${A:?x}", "", `"${A:?x}": write ${NAME} or ${NAME:-default}, NAME being letters, digits and _ ("$${" for a literal "${")`},
		{"${U:-${A}}", "", `"${U:-${A}": a default cannot contain another ${...}`},
	}
	for _, tt := range tests {
		got, err := expand(tt.in, getenv)
		if tt.err != "" {
			if err == nil || err.Error() != tt.err {
				t.Errorf("expand(%q) error = %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("expand(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestParseDuration(t *testing.T) {
	t.Parallel()
	day := 24 * time.Hour
	tests := []struct {
		in   string
		want time.Duration
		err  bool
	}{
		{"0", 0, false}, {"90s", 90 * time.Second, false}, {"10m", 10 * time.Minute, false},
		{"1h30m", 90 * time.Minute, false}, {"30d", 30 * day, false}, {"1d12h", 36 * time.Hour, false},
		{"-1h", -time.Hour, false}, {"-2d", -2 * day, false}, {" 7d ", 7 * day, false},
		{"30", 0, true}, {"30 days", 0, true}, {"d", 0, true}, {"1.5d", 0, true}, {"1d-1h", 0, true},
		{"", 0, true}, {"1w", 0, true}, {"999999999999d", 0, true}, {"100000d", 100000 * day, false},
	}
	for _, tt := range tests {
		got, err := ParseDuration(tt.in)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.err)
		}
	}
	for _, d := range []time.Duration{0, time.Second, 90 * time.Minute, 10 * time.Minute, 30 * day, 36 * time.Hour, 1500 * time.Millisecond} {
		if back, err := ParseDuration(formatDuration(d)); err != nil || back != d {
			t.Errorf("formatDuration(%v) = %q, parses back as %v, %v", d, formatDuration(d), back, err)
		}
	}
}

func canonical(t *testing.T, c *Config) string {
	t.Helper()
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return strings.NewReplacer("[]", "null", "{}", "null").Replace(string(b))
}

// TestDirectoryNormalForm: the same CA written another way (the scheme or host in
// capitals, the default port) is the same directory: certferry registers one account per
// directory, the issuance guard and the ca-changed rule compare directories, and the
// Let's Encrypt limits apply by directory, so writing it another way registered a second
// account, re-issued every certificate and lifted the guard and the limits.
func TestDirectoryNormalForm(t *testing.T) {
	t.Parallel()
	const certs = "certificates: [{name: www, domains: [www.example.org], sinks: {secretsmanager: {secret: certs/www}}}]\n"
	for _, tc := range []struct{ in, want string }{
		{"HTTPS://ACME-V02.API.LetsEncrypt.org:443/directory", LetsEncryptURL},
		{"https://acme-staging-v02.api.letsencrypt.org:443/directory", LetsEncryptStagingURL},
		{"https://CA.example.org:8443/Dir", "https://ca.example.org:8443/Dir"},
		{"https://[::1]:443/dir", "https://[::1]/dir"},
		{"https://[::1]:14000/dir", "https://[::1]:14000/dir"},
		{"https://127.0.0.1:14000/dir", "https://127.0.0.1:14000/dir"},
		{"https://Ops@CA.example.org/acme/dir%2Fx?a=B", "https://Ops@ca.example.org/acme/dir%2Fx?a=B"},
	} {
		c, err := Parse([]byte("acme: {email: ops@example-corp.net, directory: \""+tc.in+"\"}\n"+certs), nil)
		if err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		if c.ACME.Directory != tc.want {
			t.Errorf("%s: directory %q, want %q", tc.in, c.ACME.Directory, tc.want)
		}
		if err := c.Validate(); err != nil {
			t.Errorf("%s: Validate of the parsed configuration: %v", tc.in, err)
		}
		if tc.want == LetsEncryptURL && c.ACME.Limits != LetsEncryptLimits {
			t.Errorf("%s: limits %+v, want Let's Encrypt's", tc.in, c.ACME.Limits)
		}
	}
}
