package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	awssm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"go.uber.org/zap"

	"github.com/certferry/certferry/certs/certstest"
	"github.com/certferry/certferry/config"
	"github.com/certferry/certferry/internal/app"
	"github.com/certferry/certferry/internal/sandbox"
	smsink "github.com/certferry/certferry/sinks/secretsmanager"
)

// zones are the sandbox's hosted zones; certificates are spread over both.
var zones = []string{"example.com", "example.net"}

// certSpec is one configured certificate.
type certSpec struct {
	Name    string
	Domains []string
	ZoneID  string // optional hosted_zone_id
}

// secretName is where a certificate is stored.
func secretName(c certSpec) string { return "certferry/bench/" + c.Name }

// singleNames returns n single-name certificates, alternately in each zone. prefix
// keeps the names of different runs on one sandbox apart.
func singleNames(prefix string, n int) []certSpec {
	out := make([]certSpec, n)
	for i := range out {
		name := fmt.Sprintf("%sc%04d", prefix, i)
		out[i] = certSpec{Name: name, Domains: []string{name + "." + zones[i%len(zones)]}}
	}
	return out
}

// manyNames returns one certificate with n names, alternately in each zone.
func manyNames(prefix string, n int) []certSpec {
	c := certSpec{Name: prefix + "san"}
	for i := range n {
		c.Domains = append(c.Domains, fmt.Sprintf("%sn%02d.%s", prefix, i, zones[i%len(zones)]))
	}
	return []certSpec{c}
}

// tuning is what the benchmark sets in the configuration.
type tuning struct {
	Name        string
	Concurrency int
	RPS         float64 // acme.requests_per_second; 0: not set (the per-endpoint pacing only)
}

var (
	// defaults: config.DefaultConcurrency and the acme package's per-endpoint pacing.
	defaults = tuning{Name: "defaults", Concurrency: config.DefaultConcurrency}
	// previous: the defaults before per-endpoint pacing (concurrency 10, one cap of 50
	// requests/s), for comparison.
	previous = tuning{Name: "previous", Concurrency: 10, RPS: 50}
)

// writeConfig writes a configuration for the sandbox described by info, as a user would
// from `certferry-sandbox`'s JSON line (docs/sandbox.md), and returns its path.
func writeConfig(tb testing.TB, dir string, info sandbox.Info, cs []certSpec, t tuning) string {
	tb.Helper()
	rps := ""
	if t.RPS > 0 {
		rps = fmt.Sprintf("  requests_per_second: %g\n", t.RPS)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `acme:
  directory: %q
  email: bench@example.com
  ca_bundle: %q
  issuer_roots: %q
%saws:
  region: %q
  endpoint_url: %q
route53:
  insync_timeout: 2m
concurrency: %d
log:
  level: warn
  format: json
certificates:
`, info.ACMEDirectory, info.ACMECABundle, info.IssuerRoots, rps, info.Region, info.AWSEndpoint, t.Concurrency)
	for _, c := range cs {
		quoted := make([]string, len(c.Domains))
		for i, d := range c.Domains {
			quoted[i] = fmt.Sprintf("%q", d)
		}
		fmt.Fprintf(&b, "  - name: %s\n    domains: [%s]\n    profile: default\n", c.Name, strings.Join(quoted, ", "))
		if c.ZoneID != "" {
			fmt.Fprintf(&b, "    hosted_zone_id: %s\n", c.ZoneID)
		}
		fmt.Fprintf(&b, "    sinks:\n      secretsmanager: { secret: %s }\n", secretName(c))
	}
	path := filepath.Join(dir, "certferry.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		tb.Fatalf("write config: %v", err)
	}
	return path
}

// startSandbox starts a sandbox with the given INSYNC delay and Route 53 rate (0:
// unlimited) and closes it when tb ends.
func startSandbox(tb testing.TB, insync time.Duration, r53Rate float64, r53Burst int) *sandbox.Sandbox {
	tb.Helper()
	sb, err := sandbox.Start(context.Background(), sandbox.Options{
		Zones: zones, InsyncAfter: insync, Route53Rate: r53Rate, Route53Burst: r53Burst,
		Dir: filepath.Join(tb.TempDir(), "ca"),
	})
	if err != nil {
		tb.Fatalf("start sandbox: %v", err)
	}
	tb.Cleanup(func() {
		if err := sb.Close(); err != nil {
			tb.Errorf("close sandbox: %v", err)
		}
	})
	return sb
}

// loadConfig loads a configuration file without reading the environment.
func loadConfig(tb testing.TB, path string) *config.Config {
	tb.Helper()
	cfg, err := config.Load(path, func(string) (string, bool) { return "", false })
	if err != nil {
		tb.Fatalf("load config: %v", err)
	}
	return cfg
}

// newApp builds the pass in-process, exactly as `certferry renew` does, with the
// sandbox's AWS configuration.
func newApp(tb testing.TB, sb *sandbox.Sandbox, cfgPath string) *app.App {
	tb.Helper()
	ctx := context.Background()
	awsCfg := sb.AWSConfig(ctx)
	a, err := app.New(ctx, loadConfig(tb, cfgPath), zap.NewNop(), app.Options{AWS: &awsCfg})
	if err != nil {
		tb.Fatalf("app: %v", err)
	}
	return a
}

// seed stores a valid certferry secret for every certificate through the Secrets
// Manager sink, with the tags a pass writes (ari-next in the future, so an idle pass
// asks the CA nothing). The leaves come from a throwaway certstest CA: an idle pass
// reads tags only.
func seed(tb testing.TB, sb *sandbox.Sandbox, cs []certSpec) {
	tb.Helper()
	ctx := context.Background()
	ca := certstest.NewCA(tb)
	sink := smsink.New(awssm.NewFromConfig(sb.AWSConfig(ctx)), nil, smsink.Options{})
	state := map[string]string{smsink.TagARINext: time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339)}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		next = make(chan certSpec)
	)
	for range 8 {
		wg.Go(func() {
			for c := range next {
				b := ca.Bundle(tb, c.Name, certstest.Leaf{Domains: c.Domains})
				if _, err := sink.Store(ctx, smsink.Target{Secret: secretName(c)}, b, smsink.StoreOptions{Profile: "default", State: state}); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		})
	}
	for _, c := range cs {
		next <- c
	}
	close(next)
	wg.Wait()
	if len(errs) > 0 {
		tb.Fatalf("seed %d secrets: %d failed, first: %v", len(cs), len(errs), errs[0])
	}
}

// callCounts is the sandbox's counters split by service: service -> operation -> count.
type callCounts map[string]map[string]int

func splitCalls(flat map[string]int) callCounts {
	out := callCounts{"route53": {}, "secretsmanager": {}, "acme": {}}
	for k, v := range flat {
		svc, op, _ := strings.Cut(k, ".")
		if out[svc] == nil {
			out[svc] = map[string]int{}
		}
		out[svc][op] = v
	}
	return out
}

func (c callCounts) total(svc string) int {
	n := 0
	for _, v := range c[svc] {
		n += v
	}
	return n
}

// format renders one service's counts as "Op=n Op=n", sorted by operation.
func (c callCounts) format(svc string) string {
	var parts []string
	for _, op := range slices.Sorted(maps.Keys(c[svc])) {
		parts = append(parts, fmt.Sprintf("%s=%d", op, c[svc][op]))
	}
	return strings.Join(parts, " ")
}

// cliResult is one `certferry renew` subprocess.
type cliResult struct {
	Wall     time.Duration
	MaxRSSKB int64
	ExitCode int
	Summary  summaryJSON
	Stderr   string
}

// summaryJSON is the part of `certferry renew --json` the benchmark reads.
type summaryJSON struct {
	DurationNS int64 `json:"duration_ns"`
	Results    []struct {
		Name         string    `json:"name"`
		Action       string    `json:"action"`
		Error        string    `json:"error"`
		WaitingUntil time.Time `json:"waiting_until"`
	} `json:"results"`
}

// waitUntil is the earliest time a certificate waiting for the CA's limit fits.
func (s summaryJSON) waitUntil() time.Time {
	var t time.Time
	for _, r := range s.Results {
		if r.Action == "wait" && (t.IsZero() || r.WaitingUntil.Before(t)) {
			t = r.WaitingUntil
		}
	}
	return t
}

func (s summaryJSON) count(action string) int {
	n := 0
	for _, r := range s.Results {
		if r.Action == action {
			n++
		}
	}
	return n
}

func (s summaryJSON) firstError() string {
	for _, r := range s.Results {
		if r.Error != "" {
			return r.Name + ": " + r.Error
		}
	}
	return ""
}

// awsEnv is the environment of a subprocess that talks to the sandbox's AWS endpoint
// with its static credentials, and nothing else of the caller's AWS setup.
func awsEnv(info sandbox.Info, home string) []string {
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + home,
		"AWS_ACCESS_KEY_ID=" + sandbox.Credentials,
		"AWS_SECRET_ACCESS_KEY=" + sandbox.Credentials,
		"AWS_REGION=" + info.Region,
		"AWS_ENDPOINT_URL=" + info.AWSEndpoint,
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE=" + filepath.Join(home, "aws-config-none"),
		"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, "aws-credentials-none"),
	}
	return env
}

// runCLI runs `certferry renew --config cfg --json` and reads its wall time and peak RSS.
func runCLI(tb testing.TB, bin, cfgPath string, info sandbox.Info) cliResult {
	tb.Helper()
	cmd := exec.Command(bin, "renew", "--config", cfgPath, "--json")
	cmd.Env = awsEnv(info, filepath.Dir(cfgPath))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	res := cliResult{Wall: time.Since(start), Stderr: stderr.String()}
	if cmd.ProcessState == nil {
		tb.Fatalf("certferry renew did not run: %v", err)
	}
	res.ExitCode = cmd.ProcessState.ExitCode()
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		res.MaxRSSKB = ru.Maxrss // kilobytes on Linux
	}
	if jerr := json.Unmarshal(stdout.Bytes(), &res.Summary); jerr != nil {
		tb.Fatalf("certferry renew (exit %d): summary: %v\nstderr:\n%s", res.ExitCode, jerr, tail(res.Stderr, 4000))
	}
	return res
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

// certferryBin returns CERTFERRY_BENCH_BIN, or builds the binary once.
func certferryBin(tb testing.TB) string {
	tb.Helper()
	if p := os.Getenv("CERTFERRY_BENCH_BIN"); p != "" {
		return p
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "certferry-bench-bin-")
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "certferry")
		out, err := exec.Command("go", "build", "-o", builtBin, "github.com/certferry/certferry/cmd/certferry").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %w\n%s", err, out)
		}
	})
	if buildErr != nil {
		tb.Fatalf("certferry binary: %v", buildErr)
	}
	return builtBin
}

// txtSets returns the _acme-challenge TXT sets of every sandbox zone.
func txtSets(sb *sandbox.Sandbox) map[string][]string {
	out := map[string][]string{}
	for _, id := range sb.Info().Zones {
		for _, rs := range sb.Route53().Records(id) {
			if rs.Type == "TXT" && strings.HasPrefix(rs.Name, "_acme-challenge.") {
				out[rs.Name] = rs.Values
			}
		}
	}
	return out
}
