package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/certferry/certferry/internal/sandbox"
)

// The benchmarks beside lego: certbot (Debian's certbot 2.1 with python3-certbot-dns-route53)
// issuing the same N certificates one `certbot certonly` at a time, the idle RSS of the
// daemon (`certferry run`), and the AWS Lambda function's cold start under the Runtime
// Interface Emulator.

// certbotSiteCustomize makes botocore send every AWS call to the sandbox: certbot 2.1's
// botocore may predate AWS_ENDPOINT_URL, so create_client gets endpoint_url from
// CERTFERRY_BENCH_AWS_ENDPOINT. Python imports sitecustomize from PYTHONPATH at start-up.
const certbotSiteCustomize = `import os
try:
    import botocore.session
    _create_client = botocore.session.Session.create_client
    def create_client(self, *args, **kwargs):
        endpoint = os.environ.get("CERTFERRY_BENCH_AWS_ENDPOINT")
        if endpoint and not kwargs.get("endpoint_url"):
            kwargs["endpoint_url"] = endpoint
        return _create_client(self, *args, **kwargs)
    botocore.session.Session.create_client = create_client
except ImportError:
    pass
`

// certbotBin returns the certbot command, or skips.
func certbotBin(b *testing.B) string {
	p := os.Getenv("CERTFERRY_BENCH_CERTBOT")
	if p == "" {
		p = "certbot"
	}
	path, err := exec.LookPath(p)
	if err != nil {
		b.Skipf("certbot not found (%v): apt-get install certbot python3-certbot-dns-route53", err)
	}
	return path
}

// loopLimit reads the longest loop to run for real from env (default 15m).
func loopLimit(b *testing.B, env string) time.Duration {
	v := os.Getenv(env)
	if v == "" {
		return 15 * time.Minute
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		b.Fatalf("%s: %v", env, err)
	}
	return d
}

// certbotN10 is the N=10 loop's wall time, for the N=100 estimate.
var certbotN10 time.Duration

// BenchmarkCertbotLoop issues N single-name certificates the way a certbot user does:
// one `certbot certonly --dns-route53` per certificate, in a loop.
func BenchmarkCertbotLoop(b *testing.B) {
	bin := certbotBin(b)
	limit := loopLimit(b, "CERTFERRY_BENCH_CERTBOT_MAX")
	for _, n := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) {
			if n == 100 {
				if certbotN10 == 0 {
					b.Skip("N=100 is run or estimated from N=10, which did not run")
				}
				if est := certbotN10 * 10; est > limit {
					r := row{Scenario: "N=100", Tool: "certbot", Certs: 100, Names: 100, Zones: len(zones), WallS: est.Seconds(), Estimated: true}
					record(b, r)
					b.ReportMetric(r.WallS, "wall_s_estimated/op")
					b.Logf("certbot N=100 not run: 10 x the N=10 loop (%s) = %s > %s; estimated", certbotN10.Round(time.Second), est.Round(time.Second), limit)
					return
				}
			}
			b.StopTimer()
			sb := benchSandbox(b)
			info := sb.Info()
			dir := b.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "sitecustomize.py"), []byte(certbotSiteCustomize), 0o644); err != nil {
				b.Fatal(err)
			}
			// certbot registers its account on first use; a user's loop has one already.
			if _, err := certbotRun(bin, info, dir, "warm.example.com"); err != nil {
				b.Fatalf("certbot warm-up: %v", err)
			}
			var sum row
			for i := range b.N {
				sb.Calls().Reset()
				cs := singleNames(fmt.Sprintf("i%d-", i), n)
				var rss int64
				b.StartTimer()
				start := time.Now()
				for _, c := range cs {
					r, err := certbotRun(bin, info, dir, c.Domains[0])
					if err != nil {
						b.Fatalf("certbot %s: %v", c.Domains[0], err)
					}
					rss = max(rss, r)
				}
				wall := time.Since(start)
				b.StopTimer()
				c := splitCalls(sb.Calls().Counts())
				r := row{Scenario: fmt.Sprintf("N=%d", n), Tool: "certbot", Certs: n, Names: n, Zones: zonesOf(cs), WallS: wall.Seconds(),
					Route53: c["route53"], SM: c["secretsmanager"], ACME: c["acme"], PeakRSSMB: float64(rss) / 1024}
				record(b, r)
				sum = addRow(sum, r)
				if n == 10 {
					certbotN10 = wall
				}
			}
			report(b, divRow(sum, b.N))
		})
	}
}

// certbotRun runs one `certbot certonly` for domain with its state under dir and
// returns its peak RSS in KB.
func certbotRun(bin string, info sandbox.Info, dir, domain string) (int64, error) {
	cmd := exec.Command(bin, "certonly", "--non-interactive", "--agree-tos", "--email", "bench@example.com",
		"--server", info.ACMEDirectory, "--dns-route53", "-d", domain,
		"--config-dir", filepath.Join(dir, "config"), "--work-dir", filepath.Join(dir, "work"), "--logs-dir", filepath.Join(dir, "logs"))
	cmd.Env = append(awsEnv(info, dir),
		"PYTHONPATH="+dir,
		"CERTFERRY_BENCH_AWS_ENDPOINT="+info.AWSEndpoint,
		"AWS_DEFAULT_REGION="+info.Region, // its Route 53 endpoint rules fail without one
		"REQUESTS_CA_BUNDLE="+info.ACMECABundle,
	)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("%w\n%s", err, tail(string(out), 3000))
	}
	var rss int64
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		rss = ru.Maxrss
	}
	return rss, nil
}

// freePort returns a loopback address no one listens on right now.
func freePort(b *testing.B) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// vmRSS reads a process's resident set size in KB from /proc.
func vmRSS(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			return strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}

// idleSettle is how long the daemon is left idle after its first pass before its RSS is
// read, and idleSamples how often it is read over that time (the largest counts).
const (
	idleSettle  = 10 * time.Second
	idleSamples = 10
)

// BenchmarkDaemonIdleRSS starts `certferry run` over 100 stored certificates, none due,
// waits for its first pass (/healthz 200), leaves it idle, and reads its resident memory.
func BenchmarkDaemonIdleRSS(b *testing.B) {
	bin := certferryBin(b)
	b.StopTimer()
	sb := benchSandbox(b)
	info := sb.Info()
	cs := singleNames("daemon-", 100)
	seed(b, sb, cs)
	dir := b.TempDir()
	cfg := writeConfig(b, dir, info, cs, defaults)
	addr := freePort(b)
	data, err := os.ReadFile(cfg)
	if err != nil {
		b.Fatal(err)
	}
	// The daemon's own settings: its listen address and a schedule that stays quiet.
	data = append(data, []byte(fmt.Sprintf("listen: %q\nschedule: \"0 0 1 1 *\"\n", addr))...)
	if err := os.WriteFile(cfg, data, 0o600); err != nil {
		b.Fatal(err)
	}
	var maxKB int64
	for range b.N {
		cmd := exec.Command(bin, "run", "--config", cfg)
		cmd.Env = awsEnv(info, dir)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		b.StartTimer()
		start := time.Now()
		if err := cmd.Start(); err != nil {
			b.Fatalf("certferry run: %v", err)
		}
		healthy := false
		deadline := start.Add(2 * time.Minute)
		client := &http.Client{Timeout: 5 * time.Second}
		for time.Now().Before(deadline) {
			resp, err := client.Get("http://" + addr + "/healthz")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					healthy = true
					break
				}
			}
			time.Sleep(50 * time.Millisecond) // no event to wait on: the daemon is another process
		}
		firstPass := time.Since(start)
		b.StopTimer()
		if !healthy {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			b.Fatalf("certferry run: not healthy after 2 minutes:\n%s", tail(stderr.String(), 4000))
		}
		var kb int64
		for range idleSamples {
			time.Sleep(idleSettle / idleSamples) // sampling another process's memory over time
			v, err := vmRSS(cmd.Process.Pid)
			if err != nil {
				b.Fatalf("read RSS: %v", err)
			}
			kb = max(kb, v)
		}
		_ = cmd.Process.Signal(syscall.SIGTERM)
		if err := cmd.Wait(); err != nil {
			b.Errorf("certferry run exited with %v:\n%s", err, tail(stderr.String(), 4000))
		}
		maxKB = max(maxKB, kb)
		r := row{Scenario: "daemon-idle", Tool: "certferry", Tuning: defaults.Name, Concurrency: defaults.Concurrency,
			Certs: len(cs), Names: len(cs), Zones: zonesOf(cs), WallS: firstPass.Seconds(), IdleRSSMB: float64(kb) / 1024}
		record(b, r)
	}
	b.ReportMetric(float64(maxKB)/1024, "idle_rss_MB")
}

var lambdaInit = regexp.MustCompile(`Init Duration: ([0-9.]+) ms`)

// BenchmarkLambdaColdStart builds the Lambda function (as make lambda does), runs it
// under the AWS Lambda Runtime Interface Emulator on a fresh execution environment each
// time, and times the first invoke of a pass with nothing due (one stored certificate).
// The emulator's Init Duration is the runtime's start-up; the cold invoke adds the pass.
func BenchmarkLambdaColdStart(b *testing.B) {
	rie, err := exec.LookPath("aws-lambda-rie")
	if err != nil {
		gopath, _ := exec.Command("go", "env", "GOPATH").Output()
		rie = filepath.Join(strings.TrimSpace(string(gopath)), "bin", "aws-lambda-rie")
		if _, err := os.Stat(rie); err != nil {
			b.Skip("aws-lambda-rie not found: make tools")
		}
	}
	b.StopTimer()
	dir := b.TempDir()
	boot := filepath.Join(dir, "bootstrap")
	build := exec.Command("go", "build", "-trimpath", "-tags", "lambda.norpc", "-o", boot, "github.com/certferry/certferry/cmd/certferry-lambda")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("build the Lambda function: %v\n%s", err, out)
	}
	sb := benchSandbox(b)
	info := sb.Info()
	cs := singleNames("lambda-", 1)
	seed(b, sb, cs)
	cfg, err := os.ReadFile(writeConfig(b, dir, info, cs, defaults))
	if err != nil {
		b.Fatal(err)
	}
	for range b.N {
		addr, apiAddr := freePort(b), freePort(b)
		cmd := exec.Command(rie, "--runtime-interface-emulator-address", addr, "--runtime-api-address", apiAddr, boot)
		cmd.Env = append(awsEnv(info, dir), "CERTFERRY_CONFIG="+string(cfg), "AWS_LAMBDA_FUNCTION_TIMEOUT=120", "AWS_LAMBDA_FUNCTION_NAME=certferry")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // the emulator and the function die together
		if err := cmd.Start(); err != nil {
			b.Fatalf("start the emulator: %v", err)
		}
		stop := func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); _ = cmd.Wait() }
		deadline := time.Now().Add(30 * time.Second)
		for {
			c, err := net.DialTimeout("tcp", addr, time.Second)
			if err == nil {
				c.Close()
				break
			}
			if time.Now().After(deadline) {
				stop()
				b.Fatalf("emulator not listening after 30s:\n%s", out.String())
			}
			time.Sleep(20 * time.Millisecond) // a port not open yet; no event to wait on
		}
		invoke := func() (time.Duration, string) {
			client := &http.Client{Timeout: 2 * time.Minute}
			start := time.Now()
			resp, err := client.Post("http://"+addr+"/2015-03-31/functions/function/invocations", "application/json", strings.NewReader("{}"))
			if err != nil {
				stop()
				b.Fatalf("invoke: %v", err)
			}
			var body bytes.Buffer
			_, _ = body.ReadFrom(resp.Body)
			resp.Body.Close()
			return time.Since(start), body.String()
		}
		b.StartTimer()
		cold, body := invoke()
		b.StopTimer()
		if strings.Contains(body, "errorMessage") {
			stop()
			b.Fatalf("cold invoke failed: %s", body)
		}
		warm, _ := invoke()
		stop()
		initMS := 0.0
		if m := lambdaInit.FindStringSubmatch(out.String()); m != nil {
			initMS, _ = strconv.ParseFloat(m[1], 64)
		}
		r := row{Scenario: "lambda-cold", Tool: "certferry", Tuning: defaults.Name, Certs: 1, Names: 1, Zones: 1,
			WallS: cold.Seconds(), WarmS: warm.Seconds(), InitMS: initMS}
		record(b, r)
		b.ReportMetric(cold.Seconds(), "cold_invoke_s")
		b.ReportMetric(warm.Seconds(), "warm_invoke_s")
		b.ReportMetric(initMS, "init_ms")
	}
}
