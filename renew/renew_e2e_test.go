package renew_test

// End-to-end tests of a pass: internal/app builds the Runner from a real configuration,
// and every call crosses the wire to the sandbox (Pebble, Route 53, Secrets Manager, DNS).
// Each test starts its own sandbox, so the tests run in parallel.

import (
	"crypto/tls"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/certferry/certferry/config"
	"github.com/certferry/certferry/internal/app"
	"github.com/certferry/certferry/internal/e2etest"
	"github.com/certferry/certferry/internal/sandbox"
	"github.com/certferry/certferry/internal/sandbox/calls"
	"github.com/certferry/certferry/renew"
	"github.com/certferry/certferry/scheduler"
)

// env is one sandbox (the shared harness) and the package's own checks.
type env struct{ *e2etest.Env }

func newEnv(t *testing.T, opts sandbox.Options) *env {
	t.Helper()
	if opts.Zones == nil {
		opts.Zones = []string{"example.com", "example.net"}
	}
	if opts.InsyncAfter == 0 {
		opts.InsyncAfter = 200 * time.Millisecond
	}
	e := e2etest.Start(t, opts)
	e.Base = configYAML
	return &env{e}
}

// configYAML is the pass-wide part of every test configuration (env.Config puts the
// extra top-level keys, then the certificates list, after it; {{files}} is a temporary
// directory).
const configYAML = `acme:
  directory: {{dir}}
  email: e2e@example.com
  ca_bundle: {{ca}}
  issuer_roots: {{issuer}}
aws:
  region: {{region}}
  endpoint_url: {{endpoint}}
route53:
  insync_timeout: 30s
concurrency: 4
`

// result and wantOK are the harness's (internal/e2etest).
var (
	result = e2etest.Result
	wantOK = e2etest.WantOK
	// certYAML and certsYAML write the certificates list (only what differs is spelled out).
	certYAML  = e2etest.CertYAML
	certsYAML = e2etest.CertsYAML
)

// idleCalls asserts that a pass made no ACME order and wrote nothing: zero NewOrder,
// zero PutSecretValue and CreateSecret, exactly one ListSecrets.
func idleCalls(t *testing.T, c *calls.Registry) {
	t.Helper()
	for _, k := range []struct {
		svc, op string
		want    int
	}{
		{"acme", "NewOrder", 0}, {"secretsmanager", "PutSecretValue", 0}, {"secretsmanager", "CreateSecret", 0},
		{"secretsmanager", "ListSecrets", 1}, {"route53", "ChangeResourceRecordSets", 0},
	} {
		if got := c.Count(k.svc, k.op); got != k.want {
			t.Errorf("%s.%s: %d calls, want %d (all: %s)", k.svc, k.op, got, k.want, c)
		}
	}
}

func TestE2EIssue(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		domains []string
		keyType string
		zones   []string // zones that get one publish and one cleanup change
	}{
		{"one-name", []string{"www.example.com"}, "ec256", []string{"example.com."}},
		{"two-zones", []string{"www.example.com", "example.com", "api.example.net"}, "ec384", []string{"example.com.", "example.net."}},
		{"wildcard-apex", []string{"*.example.net", "example.net"}, "rsa2048", []string{"example.net."}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, sandbox.Options{})
			cfg := e.Config(t, certsYAML(certYAML("c", tc.domains...)+"    key_type: "+tc.keyType+"\n"))
			a := e.App(t, cfg)

			// Watch the zones during the pass: the most values any one TXT name held.
			most := map[string]int{}
			stop := e.watchTXT(most)
			sum := e.Pass(t, a, renew.Options{})
			stop()
			r := wantOK(t, sum, "c", renew.ActionIssue, scheduler.ReasonMissing)
			if r.VersionID == "" || r.NotAfter.IsZero() {
				t.Errorf("result: version %q not_after %v", r.VersionID, r.NotAfter)
			}
			s := e.Stored(t, "certferry/c", "AWSCURRENT")
			if !slices.Equal(s.Domains, tc.domains) {
				t.Errorf("stored domains %v, want %v", s.Domains, tc.domains)
			}
			if got := e.SB.Calls().Count("route53", "ChangeResourceRecordSets"); got != 2*len(tc.zones) {
				t.Errorf("ChangeResourceRecordSets: %d, want %d (one publish and one cleanup per zone)", got, 2*len(tc.zones))
			}
			if tc.name == "wildcard-apex" {
				if got := most["_acme-challenge.example.net."]; got != 2 {
					t.Errorf("_acme-challenge.example.net held at most %d values, want 2 (seen: %v)", got, most)
				}
			}

			// A second pass finds it fresh: no order, no write.
			e.SB.Calls().Reset()
			sum = e.Pass(t, e.App(t, cfg), renew.Options{})
			wantOK(t, sum, "c", renew.ActionSkip, scheduler.ReasonNotDue)
			idleCalls(t, e.SB.Calls())
		})
	}
}

// watchTXT records, until stop is called, the most values each _acme-challenge TXT
// name held at once in any zone.
func (e *env) watchTXT(most map[string]int) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			for _, id := range e.Info.Zones {
				for _, rs := range e.SB.Route53().Records(id) {
					if rs.Type == "TXT" && strings.HasPrefix(rs.Name, "_acme-challenge.") {
						most[rs.Name] = max(most[rs.Name], len(rs.Values))
					}
				}
			}
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	})
	return func() { close(done); wg.Wait() }
}

func TestE2EForceKeepsPrevious(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{})
	cfg := e.Config(t, certsYAML(certYAML("web", "www.example.com")))
	wantOK(t, e.Pass(t, e.App(t, cfg), renew.Options{}), "web", renew.ActionIssue, scheduler.ReasonMissing)
	first := e.Stored(t, "certferry/web", "AWSCURRENT")

	e.SB.Calls().Reset()
	r := wantOK(t, e.Pass(t, e.App(t, cfg), renew.Options{Force: true}), "web", renew.ActionRenew, scheduler.ReasonForced)
	c := e.SB.Calls()
	if c.Count("acme", "NewOrder") != 1 || c.Count("secretsmanager", "PutSecretValue") != 1 || c.Count("secretsmanager", "CreateSecret") != 0 {
		t.Errorf("forced pass: want one NewOrder and one PutSecretValue, got %s", c)
	}
	cur := e.Stored(t, "certferry/web", "AWSCURRENT")
	prev := e.Stored(t, "certferry/web", "AWSPREVIOUS")
	if cur.Serial == first.Serial {
		t.Errorf("AWSCURRENT still holds serial %s after --force", cur.Serial)
	}
	if prev.Serial != first.Serial || prev.Key != first.Key {
		t.Errorf("AWSPREVIOUS holds serial %s, want the first certificate %s", prev.Serial, first.Serial)
	}
	if r.Bundle == nil || r.Bundle.Serial != cur.Serial {
		t.Errorf("result bundle does not describe the stored certificate")
	}
}

func TestE2EChangeReissues(t *testing.T) {
	t.Parallel()
	// cfg is a configuration of web: the issuance guard, its key type and names; the first
	// pass runs with an ec256 key for www.example.com, the second with the case's.
	cfg := func(guard, keyType string, names ...string) string {
		return "issuance_guard: " + guard + "\n" + certsYAML(certYAML("web", names...)+"    key_type: "+keyType+"\n")
	}
	for _, tc := range []struct {
		name       string
		guard      string
		keyType    string
		names      []string
		wantAction renew.Action
		wantReason scheduler.Reason
		wantNames  []string
		wantKey    string
	}{
		{"key-type", "0s", "rsa2048", []string{"www.example.com"},
			renew.ActionRenew, scheduler.ReasonKeyTypeChanged, []string{"www.example.com"}, "RSA"},
		{"names", "0s", "ec256", []string{"www.example.com", "example.com"},
			renew.ActionRenew, scheduler.ReasonNamesChanged, []string{"www.example.com", "example.com"}, "EC"},
		// With the 24 h guard (the default), a names change right after issuance is issued
		// at once: the guard counts per set of names, and this CA issued none for the new
		// set (a change back to the first set waits: scheduler's TestDecide).
		{"names-inside-the-guard", "24h", "ec256", []string{"www.example.com", "example.com"},
			renew.ActionRenew, scheduler.ReasonNamesChanged, []string{"www.example.com", "example.com"}, "EC"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, sandbox.Options{})
			wantOK(t, e.Pass(t, e.App(t, e.Config(t, cfg(tc.guard, "ec256", "www.example.com"))), renew.Options{}), "web", renew.ActionIssue, scheduler.ReasonMissing)
			first := e.Stored(t, "certferry/web", "AWSCURRENT")

			e.SB.Calls().Reset()
			r := wantOK(t, e.Pass(t, e.App(t, e.Config(t, cfg(tc.guard, tc.keyType, tc.names...))), renew.Options{}), "web", tc.wantAction, tc.wantReason)
			s := e.Stored(t, "certferry/web", "AWSCURRENT")
			if !slices.Equal(s.Domains, tc.wantNames) {
				t.Errorf("stored names %v, want %v", s.Domains, tc.wantNames)
			}
			if !strings.HasPrefix(s.Leaf.PublicKeyAlgorithm.String(), tc.wantKey) {
				t.Errorf("stored key %s, want %s", s.Leaf.PublicKeyAlgorithm, tc.wantKey)
			}
			orders := e.SB.Calls().Count("acme", "NewOrder")
			if tc.wantAction == renew.ActionSkip {
				if orders != 0 || s.Serial != first.Serial {
					t.Errorf("guarded change: %d orders, serial %s (was %s); want none, unchanged", orders, s.Serial, first.Serial)
				}
				if r.DueAt.IsZero() || !strings.Contains(r.Message, "names") || !strings.Contains(r.Message, "issuance guard") {
					t.Errorf("guarded change: due_at %v message %q", r.DueAt, r.Message)
				}
				return
			}
			if orders != 1 || s.Serial == first.Serial {
				t.Errorf("change: %d orders, serial %s (was %s); want one new certificate", orders, s.Serial, first.Serial)
			}
		})
	}
}

// TestE2EAccountOnce: the ACME account is registered once and shared, across passes of
// separate runners and by two runners whose first passes run at the same time.
func TestE2EAccountOnce(t *testing.T) {
	t.Parallel()
	list := certsYAML(certYAML("a", "a.example.com"), certYAML("b", "b.example.net"))
	t.Run("sequential", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, sandbox.Options{})
		cfg := e.Config(t, list)
		a1 := e.App(t, cfg)
		e.Pass(t, a1, renew.Options{Only: []string{"a"}})
		if n := e.SB.Calls().Count("acme", "NewAccount"); n != 1 {
			t.Errorf("first pass: %d NewAccount, want 1", n)
		}
		e.SB.Calls().Reset()
		a2 := e.App(t, cfg) // another process: reads the account from Secrets Manager
		wantOK(t, e.Pass(t, a2, renew.Options{Only: []string{"b"}}), "b", renew.ActionIssue, scheduler.ReasonMissing)
		wantOK(t, e.Pass(t, a2, renew.Options{Only: []string{"a"}, Force: true}), "a", renew.ActionRenew, scheduler.ReasonForced)
		if n := e.SB.Calls().Count("acme", "NewAccount"); n != 0 {
			t.Errorf("later passes: %d NewAccount, want 0", n)
		}
		e.sameAccount(t, a1, a2)
	})
	t.Run("concurrent", func(t *testing.T) {
		if raceEnabled {
			t.Skip("Pebble v2.10.3 races on concurrent newAccount of one key (stack entirely inside pebble); see acme's raceEnabled")
		}
		t.Parallel()
		e := newEnv(t, sandbox.Options{})
		cfg := e.Config(t, list)
		a1, a2 := e.App(t, cfg), e.App(t, cfg)
		var wg sync.WaitGroup
		sums := make([]*renew.Summary, 2)
		for i, x := range []struct {
			a    *app.App
			only string
		}{{a1, "a"}, {a2, "b"}} {
			wg.Go(func() {
				s, err := x.a.Runner.Pass(t.Context(), renew.Options{Only: []string{x.only}})
				if err != nil {
					t.Errorf("Pass %s: %v", x.only, err)
					return
				}
				sums[i] = s
			})
		}
		wg.Wait()
		e.NoChallengeLeft(t)
		if t.Failed() {
			return
		}
		wantOK(t, sums[0], "a", renew.ActionIssue, scheduler.ReasonMissing)
		wantOK(t, sums[1], "b", renew.ActionIssue, scheduler.ReasonMissing)
		// Both runners may send newAccount (with the one stored key: the CA answers
		// the same account), never two keys.
		if n := e.SB.Calls().Count("acme", "NewAccount"); n < 1 || n > 2 {
			t.Errorf("%d NewAccount calls, want 1 or 2 (one key)", n)
		}
		e.sameAccount(t, a1, a2)
	})
}

// sameAccount checks that the account secret holds one account and every runner uses it.
func (e *env) sameAccount(t *testing.T, apps ...*app.App) {
	t.Helper()
	out, err := e.SM.GetSecretValue(t.Context(), &awssm.GetSecretValueInput{SecretId: aws.String(config.DefaultAccountSecret)})
	if err != nil {
		t.Fatalf("account secret: %v", err)
	}
	var doc struct {
		Accounts []struct {
			Directory string `json:"directory"`
			URL       string `json:"url"`
			KeyPEM    string `json:"key_pem"`
		} `json:"accounts"`
	}
	if err := json.Unmarshal([]byte(aws.ToString(out.SecretString)), &doc); err != nil || len(doc.Accounts) != 1 {
		t.Fatalf("account secret: %d accounts (%v), want 1", len(doc.Accounts), err)
	}
	acct := doc.Accounts[0]
	if acct.URL == "" || strings.Count(acct.KeyPEM, "BEGIN") != 1 || acct.Directory != e.Info.ACMEDirectory {
		t.Fatalf("account secret: url %q directory %q, %d keys", acct.URL, acct.Directory, strings.Count(acct.KeyPEM, "BEGIN"))
	}
	for i, a := range apps {
		c, err := a.ACME(t.Context())
		if err != nil {
			t.Fatalf("runner %d: %v", i, err)
		}
		if c.AccountURL() != acct.URL {
			t.Errorf("runner %d uses account %s, the store holds %s", i, c.AccountURL(), acct.URL)
		}
	}
}

func TestE2ERoute53Throttling(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{})
	cfg := e.Config(t, certsYAML(certYAML("web", "www.example.com", "example.net")))
	// The publish of the first zone and, after the retry, more: the SDK's retryer and
	// the provider must absorb them.
	e.SB.Calls().FailNext("route53", "ChangeResourceRecordSets", 2, calls.Fault{Code: "Throttling", Status: 400, Message: "Rate exceeded"})
	e.SB.Calls().FailNext("route53", "GetChange", 1, calls.Fault{Code: "Throttling", Status: 400, Message: "Rate exceeded"})
	wantOK(t, e.Pass(t, e.App(t, cfg), renew.Options{}), "web", renew.ActionIssue, scheduler.ReasonMissing)
	e.Stored(t, "certferry/web", "AWSCURRENT")
}

func TestE2ERoute53RateLimit(t *testing.T) {
	t.Parallel()
	// A bucket of 3 requests at 5/s: the pass's zone lookups, changes and INSYNC polls
	// run into Throttling and must wait it out.
	e := newEnv(t, sandbox.Options{Route53Rate: 5, Route53Burst: 3})
	cfg := e.Config(t, certsYAML(certYAML("a", "a.example.com"), certYAML("b", "b.example.net")))
	sum := e.Pass(t, e.App(t, cfg), renew.Options{})
	wantOK(t, sum, "a", renew.ActionIssue, scheduler.ReasonMissing)
	wantOK(t, sum, "b", renew.ActionIssue, scheduler.ReasonMissing)
}

func TestE2EDryRunWritesNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{})
	cfg := e.Config(t, certsYAML(certYAML("web", "www.example.com"), certYAML("api", "api.example.com")))
	wantOK(t, e.Pass(t, e.App(t, cfg), renew.Options{Only: []string{"web"}}), "web", renew.ActionIssue, scheduler.ReasonMissing)
	e.SB.Calls().Reset()
	sum := e.Pass(t, e.App(t, cfg), renew.Options{Plan: true, Force: true})
	if !sum.Plan {
		t.Error("summary: dry_run false")
	}
	wantOK(t, sum, "web", renew.ActionPlan, scheduler.ReasonForced)
	wantOK(t, sum, "api", renew.ActionPlan, scheduler.ReasonForced)
	noWrites(t, e.SB.Calls())
}

// noWrites asserts that no write call and no ACME order was made.
func noWrites(t *testing.T, c *calls.Registry) {
	t.Helper()
	for k, n := range c.Counts() {
		op := k[strings.IndexByte(k, '.')+1:]
		if n > 0 && (strings.HasPrefix(op, "Create") || strings.HasPrefix(op, "Put") || strings.HasPrefix(op, "Tag") ||
			strings.HasPrefix(op, "Untag") || strings.HasPrefix(op, "Change") || strings.HasPrefix(op, "Update") ||
			strings.HasPrefix(op, "Delete") || k == "acme.NewOrder" || k == "acme.NewAccount" || k == "acme.Finalize") {
			t.Errorf("dry run made %d %s call(s)", n, k)
		}
	}
}

func TestE2EFileSink(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{})
	cfg := e.Config(t, certsYAML(certYAML("web", "www.example.com")+`      file: { dir: {{files}} }
`, `  - name: filesonly
    domains: [files.example.net]
    key_type: rsa2048
    profile: default
    sinks:
      file: { dir: {{files}}-only }
`))
	sum := e.Pass(t, e.App(t, cfg), renew.Options{})
	wantOK(t, sum, "web", renew.ActionIssue, scheduler.ReasonMissing)
	wantOK(t, sum, "filesonly", renew.ActionIssue, scheduler.ReasonMissing)
	s := e.Stored(t, "certferry/web", "AWSCURRENT")
	for _, dir := range []string{filepath.Join(e.Dir, "files"), filepath.Join(e.Dir, "files-only")} {
		for name, mode := range map[string]os.FileMode{"privkey.pem": 0o600, "cert.pem": 0o644, "chain.pem": 0o644, "fullchain.pem": 0o644} {
			fi, err := os.Stat(filepath.Join(dir, name))
			if err != nil {
				t.Errorf("%v", err)
				continue
			}
			if fi.Mode().Perm() != mode {
				t.Errorf("%s/%s: mode %v, want %v", dir, name, fi.Mode().Perm(), mode)
			}
		}
		full, err1 := os.ReadFile(filepath.Join(dir, "fullchain.pem"))
		key, err2 := os.ReadFile(filepath.Join(dir, "privkey.pem"))
		if err1 != nil || err2 != nil {
			t.Fatalf("read files: %v %v", err1, err2)
		}
		if _, err := tls.X509KeyPair(full, key); err != nil {
			t.Errorf("%s: key does not match the certificate: %v", dir, err)
		}
		if dir == filepath.Join(e.Dir, "files") && (string(full) != s.Cert || string(key) != s.Key) {
			t.Errorf("%s: files differ from the stored secret", dir)
		}
	}

	// The file-only certificate is read back from its files: nothing is due.
	e.SB.Calls().Reset()
	sum = e.Pass(t, e.App(t, cfg), renew.Options{})
	wantOK(t, sum, "web", renew.ActionSkip, scheduler.ReasonNotDue)
	wantOK(t, sum, "filesonly", renew.ActionSkip, scheduler.ReasonNotDue)
	idleCalls(t, e.SB.Calls())
}

func TestE2ESummaryJSON(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{})
	cfg := e.Config(t, certsYAML(certYAML("web", "www.example.com")))
	e.Pass(t, e.App(t, cfg), renew.Options{})
	// The renewal's result names the secret it wrote.
	sum := e.Pass(t, e.App(t, cfg), renew.Options{Force: true})
	b, err := json.Marshal(sum)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "PRIVATE KEY") || strings.Contains(string(b), "BEGIN") {
		t.Fatalf("summary JSON carries PEM: %s", b)
	}
	var got struct {
		Started  time.Time `json:"started"`
		Duration int64     `json:"duration_ns"`
		Results  []map[string]any
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if got.Started.IsZero() || got.Duration <= 0 || len(got.Results) != 1 {
		t.Fatalf("summary JSON: %s", b)
	}
	r := got.Results[0]
	for _, k := range []string{"name", "domains", "action", "reason", "not_after", "version_id", "secret", "duration_ns"} {
		if _, ok := r[k]; !ok {
			t.Errorf("result JSON has no %q: %s", k, b)
		}
	}
	if arn, _ := r["secret"].(string); !strings.HasPrefix(arn, "arn:aws:secretsmanager:") {
		t.Errorf("result secret %q, want the secret's ARN", arn)
	}
}

// TestE2EPartialFailure: a certificate whose name is in no hosted zone fails while the
// other certificate of the same pass is issued and stored; its order is abandoned and
// no TXT record is left behind.
func TestE2EPartialFailure(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{})
	cfg := e.Config(t, certsYAML(certYAML("web", "www.example.com"), certYAML("lost", "www.example.org")))
	a := e.App(t, cfg)
	sum := e.Pass(t, a, renew.Options{})
	wantOK(t, sum, "web", renew.ActionIssue, scheduler.ReasonMissing)
	lost := result(t, sum, "lost")
	if lost.Action != renew.ActionFailed || lost.Err() == nil || !strings.Contains(lost.Error, "no hosted zone") {
		t.Fatalf("lost: action %q error %v", lost.Action, lost.Err())
	}
	if sum.Failed() != 1 || sum.Err() == nil || !strings.HasPrefix(sum.Err().Error(), "lost: ") {
		t.Errorf("summary: %d failed, err %v", sum.Failed(), sum.Err())
	}

	// The certificate that cannot be validated is stopped before any order.
	if n := e.SB.Calls().Count("acme", "NewOrder"); n != 1 {
		t.Errorf("%d orders, want 1", n)
	}
	e.Stored(t, "certferry/web", "AWSCURRENT")
}
