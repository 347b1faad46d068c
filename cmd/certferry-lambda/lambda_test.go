package main

// These tests build the real bootstrap and run it under the AWS Lambda Runtime Interface
// Emulator (make tools installs it), against a sandbox started in the test process.

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsroute53 "github.com/aws/aws-sdk-go-v2/service/route53"
	awssm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/certferry/certferry/certs"
	"github.com/certferry/certferry/internal/e2etest"
	"github.com/certferry/certferry/internal/sandbox"
	"github.com/certferry/certferry/internal/testwait"
)

var buildDir string

func TestMain(m *testing.M) {
	var err error
	if buildDir, err = os.MkdirTemp("", "certferry-lambda-test-"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(buildDir)
	os.Exit(code)
}

// bootstrap builds the function once per test binary, as make lambda does (for the host).
var bootstrap = sync.OnceValues(func() (string, error) {
	out := filepath.Join(buildDir, "bootstrap")
	cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-o", out, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %w\n%s", err, b)
	}
	return out, nil
})

// rieBinary finds the emulator in $(go env GOPATH)/bin, else on PATH.
func rieBinary(t *testing.T) string {
	t.Helper()
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		for _, dir := range filepath.SplitList(strings.TrimSpace(string(out))) {
			p := filepath.Join(dir, "bin", "aws-lambda-rie")
			if _, err := os.Stat(p); err == nil {
				return p
			}
		}
	}
	if p, err := exec.LookPath("aws-lambda-rie"); err == nil {
		return p
	}
	t.Fatal("aws-lambda-rie not found in $(go env GOPATH)/bin or on PATH: run make tools")
	return ""
}

// syncBuffer collects a process's output while it runs.
type syncBuffer = e2etest.LogBuffer

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

type rie struct {
	url     string
	out     *syncBuffer
	timeout time.Duration // the function's (AWS_LAMBDA_FUNCTION_TIMEOUT): the emulator ends an invocation there
}

// rieStep bounds the emulator's own work: its start-up (a local process and its
// listener) and its hand-offs around an invocation, a step of work (internal/testwait).
var rieStep = testwait.For(0)

// startRIE runs the bootstrap under the emulator with env and returns its invoke URL.
func startRIE(t *testing.T, env map[string]string) *rie {
	t.Helper()
	bin := rieBinary(t)
	boot, err := bootstrap()
	if err != nil {
		t.Fatal(err)
	}
	addr, apiAddr := freeAddr(t), freeAddr(t)
	cmd := exec.Command(bin, "--runtime-interface-emulator-address", addr, "--runtime-api-address", apiAddr, boot)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // the emulator and the bootstrap die together
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("emulator and function output:\n%s", out)
		}
	})
	secs, err := strconv.Atoi(env["AWS_LAMBDA_FUNCTION_TIMEOUT"])
	if err != nil {
		t.Fatalf("AWS_LAMBDA_FUNCTION_TIMEOUT: %v", err)
	}
	deadline := time.Now().Add(rieStep)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("emulator not listening on %s after %s:\n%s", addr, rieStep, out)
		}
		time.Sleep(20 * time.Millisecond) // polling a port that is not open yet; no event to wait on
	}
	return &rie{url: "http://" + addr + "/2015-03-31/functions/function/invocations", out: out, timeout: time.Duration(secs) * time.Second}
}

// invoke posts one event. A handler error still answers HTTP 200, with errorMessage and
// errorType in the body, so callers assert on the body.
func (r *rie) invoke(t *testing.T, event string) []byte {
	t.Helper()
	// The emulator ends the invocation at the function's timeout, then answers.
	client := &http.Client{Timeout: r.timeout + rieStep, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Post(r.url, "application/json", strings.NewReader(event))
	if err != nil {
		t.Fatalf("invoke %s: %v", event, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("invoke %s -> HTTP %d %s", event, resp.StatusCode, truncate(string(body), 600))
	return body
}

type invokeError struct {
	ErrorMessage string `json:"errorMessage"`
	ErrorType    string `json:"errorType"`
}

type summary struct {
	Failed  int `json:"failed"`
	Results []struct {
		Name      string    `json:"name"`
		Action    string    `json:"action"`
		Reason    string    `json:"reason"`
		NotAfter  time.Time `json:"not_after"`
		VersionID string    `json:"version_id"`
		Error     string    `json:"error"`
	} `json:"results"`
	Warnings []string `json:"warnings"`
}

func decodeSummary(t *testing.T, body []byte) summary {
	t.Helper()
	var e invokeError
	_ = json.Unmarshal(body, &e)
	if e.ErrorMessage != "" {
		t.Fatalf("invocation failed: %s: %s", e.ErrorType, e.ErrorMessage)
	}
	var s summary
	if err := json.Unmarshal(body, &s); err != nil {
		t.Fatalf("response is not a summary: %v: %s", err, body)
	}
	return s
}

func startSandbox(t *testing.T, insync time.Duration) *sandbox.Sandbox {
	t.Helper()
	sb, err := sandbox.Start(t.Context(), sandbox.Options{Zones: []string{"example.com"}, InsyncAfter: insync, Dir: t.TempDir()})
	if err != nil {
		t.Fatalf("sandbox: %v", err)
	}
	t.Cleanup(func() { _ = sb.Close() })
	return sb
}

// sandboxConfig is an inline configuration for the sandbox, as a user would write it from
// `certferry-sandbox`'s line.
func sandboxConfig(info sandbox.Info, extra string) string {
	return fmt.Sprintf(`acme:
  directory: %s
  email: lambda@example.com
  ca_bundle: %s
  issuer_roots: %s
aws:
  region: %s
  endpoint_url: %s
route53:
  insync_timeout: 2m
%s`, info.ACMEDirectory, info.ACMECABundle, info.IssuerRoots, info.Region, info.AWSEndpoint, extra) +
		e2etest.CertsYAML(e2etest.CertYAML("web", "www.example.com", "example.com"))
}

func rieEnv(info sandbox.Info, cfg, timeout string) map[string]string {
	return map[string]string{
		EnvConfig:                     cfg,
		"AWS_ACCESS_KEY_ID":           sandbox.Credentials,
		"AWS_SECRET_ACCESS_KEY":       sandbox.Credentials,
		"AWS_REGION":                  info.Region,
		"AWS_LAMBDA_FUNCTION_TIMEOUT": timeout,
		EnvMinOrderTime:               "10s",
		"AWS_LAMBDA_FUNCTION_NAME":    "certferry",
	}
}

// challengeRecords lists the _acme-challenge records left in every sandbox zone.
func challengeRecords(t *testing.T, sb *sandbox.Sandbox) []string {
	t.Helper()
	r53 := awsroute53.NewFromConfig(sb.AWSConfig(t.Context()))
	var left []string
	for _, id := range sb.Info().Zones {
		out, err := r53.ListResourceRecordSets(t.Context(), &awsroute53.ListResourceRecordSetsInput{HostedZoneId: aws.String(id)})
		if err != nil {
			t.Fatalf("list records: %v", err)
		}
		for _, rs := range out.ResourceRecordSets {
			if strings.HasPrefix(aws.ToString(rs.Name), "_acme-challenge.") {
				left = append(left, aws.ToString(rs.Name))
			}
		}
	}
	return left
}

var initDuration = regexp.MustCompile(`Init Duration: ([0-9.]+) ms`)

func TestRIE(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the bootstrap and runs it under the emulator")
	}
	sb := startSandbox(t, 0)
	info := sb.Info()
	r := startRIE(t, rieEnv(info, sandboxConfig(info, ""), "120"))

	// 1. Nothing stored: the certificate is issued and stored.
	start := time.Now()
	s := decodeSummary(t, r.invoke(t, `{}`))
	cold := time.Since(start)
	if s.Failed != 0 || len(s.Results) != 1 || s.Results[0].Action != "issue" || s.Results[0].VersionID == "" {
		t.Fatalf("first pass: want web issued and stored, got %+v", s)
	}
	sm := awssm.NewFromConfig(sb.AWSConfig(t.Context()))
	out, err := sm.GetSecretValue(t.Context(), &awssm.GetSecretValueInput{SecretId: aws.String("certferry/web")})
	if err != nil {
		t.Fatalf("stored secret: %v", err)
	}
	b, err := certs.ParseSecret([]byte(aws.ToString(out.SecretString)))
	if err != nil {
		t.Fatalf("stored secret: %v", err)
	}
	if !b.NotAfter.Equal(s.Results[0].NotAfter) {
		t.Errorf("stored not_after %s, summary %s", b.NotAfter, s.Results[0].NotAfter)
	}
	if left := challengeRecords(t, sb); len(left) > 0 {
		t.Errorf("TXT records left behind: %v", left)
	}

	// 2. Warm: nothing due.
	start = time.Now()
	s = decodeSummary(t, r.invoke(t, ``))
	warm := time.Since(start)
	if s.Failed != 0 || len(s.Results) != 1 || s.Results[0].Action != "skip" || s.Results[0].Reason != "not-due" {
		t.Fatalf("second pass: want nothing due, got %+v", s)
	}
	t.Logf("first invoke (cold, issues a certificate) %s; warm invoke (nothing due) %s", cold, warm)

	// Cold start, measured: a fresh emulator (a new execution environment) on the same
	// stored state, so both invokes do the same work (nothing due).
	r2 := startRIE(t, rieEnv(info, sandboxConfig(info, ""), "120"))
	start = time.Now()
	decodeSummary(t, r2.invoke(t, `{}`))
	cold = time.Since(start)
	start = time.Now()
	decodeSummary(t, r2.invoke(t, `{}`))
	warm = time.Since(start)
	m := initDuration.FindStringSubmatch(r2.out.String())
	if m == nil {
		m = []string{"", "?"}
	}
	t.Logf("cold start: emulator Init Duration %s ms; nothing-due invoke cold %s, warm %s: cold-start cost %s", m[1], cold, warm, cold-warm)

	// 3. Bad events are refused with a clear error.
	for _, tc := range []struct{ event, typ, has string }{
		{`{"forse": true}`, "InvalidEventError", `unknown field "forse"`},
		{`{"only": "web"}`, "InvalidEventError", `"only": got a JSON string, want a list of certificate names`},
		{`{"only": ["nope"]}`, "", `"nope": no certificate of that name`},
	} {
		var e invokeError
		if err := json.Unmarshal(r.invoke(t, tc.event), &e); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(e.ErrorMessage, tc.has) || (tc.typ != "" && e.ErrorType != tc.typ) {
			t.Errorf("event %s: got %s %q, want %s containing %q", tc.event, e.ErrorType, e.ErrorMessage, tc.typ, tc.has)
		}
	}

	// Every line the function logs is one JSON object.
	for _, line := range strings.Split(r.out.String(), "\n") {
		if strings.HasPrefix(line, "{") && !json.Valid([]byte(line)) {
			t.Errorf("log line is not one JSON object: %s", line)
		}
	}
	if !strings.Contains(r.out.String(), `"msg":"pass summary"`) {
		t.Error("no pass summary logged")
	}
}

// TestRIEDeadline: the function's timeout (3 s) is far shorter than the time Route 53
// takes to turn a change INSYNC (10 s). The pass must stop, remove its TXT records and
// write nothing half-done, all before the deadline.
func TestRIEDeadline(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the bootstrap and runs it under the emulator")
	}
	sb := startSandbox(t, 10*time.Second)
	info := sb.Info()
	r := startRIE(t, rieEnv(info, sandboxConfig(info, ""), "3"))

	var e invokeError
	if err := json.Unmarshal(r.invoke(t, `{}`), &e); err != nil {
		t.Fatal(err)
	}
	if e.ErrorType != "PassFailedError" || !strings.Contains(e.ErrorMessage, "web") {
		t.Errorf("want a PassFailedError naming web before the 3s timeout, got %s %q", e.ErrorType, e.ErrorMessage)
	}
	if left := challengeRecords(t, sb); len(left) > 0 {
		t.Errorf("TXT records left behind: %v", left)
	}
	sm := awssm.NewFromConfig(sb.AWSConfig(t.Context()))
	out, err := sm.GetSecretValue(t.Context(), &awssm.GetSecretValueInput{SecretId: aws.String("certferry/web")})
	var nf *smtypes.ResourceNotFoundException
	switch {
	case errors.As(err, &nf):
		// nothing written: good
	case err != nil:
		t.Fatalf("read secret: %v", err)
	default:
		if _, perr := certs.ParseSecret([]byte(aws.ToString(out.SecretString))); perr != nil {
			t.Errorf("half-written secret: %v", perr)
		}
	}
	if !strings.Contains(r.out.String(), `"msg":"pass summary"`) {
		t.Error("the summary must be logged before the error is returned")
	}
}

// lostCertificate is a certificate whose name is in no hosted zone of the sandbox (until
// the test creates example.net).
var lostCertificate = e2etest.CertYAML("lost", "www.example.net")

// emfWait bounds the wait for the emulator to pass on the lines the function printed
// before it answered: a pipe away, the emulator's own work.
var emfWait = rieStep

// waitEMF waits until the function's output holds n pass lines and returns every EMF
// line of the last pass.
func (r *rie) waitEMF(t *testing.T, n int) (map[string]emfLine, emfLine) {
	t.Helper()
	deadline := time.Now().Add(emfWait)
	for {
		lines := parseEMF(t, r.out.String())
		var passes []int
		for i, l := range lines {
			if _, ok := l.Root[EMFDimension]; !ok {
				passes = append(passes, i)
			}
		}
		if len(passes) >= n {
			if len(passes) > n {
				t.Fatalf("want %d pass EMF lines, got %d", n, len(passes))
			}
			start := 0
			if n > 1 {
				start = passes[n-2] + 1
			}
			certs, pass := emfByCertificate(t, lines[start:passes[n-1]+1])
			return certs, pass[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("no EMF line for pass %d after %s", n, emfWait)
		}
		time.Sleep(20 * time.Millisecond) // output crossing a pipe: no event to wait on
	}
}

// TestRIEFailingCertificate: a certificate whose name is in no hosted zone fails on the
// first invocation and is skipped in backoff on the next ones; every invocation must fail
// (so the Errors alarm stays up) and print the EMF lines saying so. Once the zone exists,
// a forced run issues it and every signal returns to ready.
func TestRIEFailingCertificate(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the bootstrap and runs it under the emulator")
	}
	sb := startSandbox(t, 0)
	info := sb.Info()
	r := startRIE(t, rieEnv(info, sandboxConfig(info, "")+lostCertificate, "120"))

	// Three runs (the first fails lost, the next ones find it failing), then a dry run,
	// which measures the same stored state.
	for pass, event := range []string{`{}`, `{}`, `{}`, `{"dry_run": true}`} {
		pass++
		var e invokeError
		if err := json.Unmarshal(r.invoke(t, event), &e); err != nil {
			t.Fatal(err)
		}
		if e.ErrorType != "PassFailedError" || !strings.Contains(e.ErrorMessage, "1 of 2 certificate(s) failing: lost (lost: ") ||
			!strings.Contains(e.ErrorMessage, "www.example.net") {
			t.Errorf("pass %d: want a PassFailedError naming lost and its name, got %s %q", pass, e.ErrorType, e.ErrorMessage)
		}
		certs, p := r.waitEMF(t, pass)
		if p.num(t, MetricFailing) != 1 || p.num(t, MetricCertificates) != 2 {
			t.Errorf("pass %d: pass metrics %v, want Failing 1 of 2", pass, p.Root)
		}
		web, lost := certs["web"], certs["lost"]
		if web.Root == nil || lost.Root == nil {
			t.Fatalf("pass %d: want EMF lines for web and lost, got %v", pass, certs)
		}
		if web.num(t, MetricReady) != 1 || web.num(t, MetricDaysLeft) < 1 || web.Root["Condition"] != "ready" {
			t.Errorf("pass %d: web %v, want ready with days left", pass, web.Root)
		}
		if lost.num(t, MetricReady) != 0 || lost.Root["Condition"] != "failing" {
			t.Errorf("pass %d: lost %v, want Ready 0, failing", pass, lost.Root)
		}
		if _, ok := lost.Root[MetricDaysLeft]; ok {
			t.Errorf("pass %d: lost was never stored, yet has DaysLeft: %v", pass, lost.Root)
		}
		if time.Since(p.Timestamp) > 5*time.Minute || time.Until(p.Timestamp) > time.Minute {
			t.Errorf("pass %d: EMF timestamp %s is not the pass's time", pass, p.Timestamp)
		}
	}

	// The zone appears. A warm function lists the zones again at most once a minute, so
	// the next scheduled run is a new execution environment here; the run is forced, as
	// an operator would, in case backoff holds lost.
	if _, err := sb.Route53().CreateZone("example.net", false); err != nil {
		t.Fatal(err)
	}
	r = startRIE(t, rieEnv(info, sandboxConfig(info, "")+lostCertificate, "120"))
	// A run limited by "only" prints lost's line but no pass-wide count (it says nothing
	// of web); the next full run prints both.
	s := decodeSummary(t, r.invoke(t, `{"force": true, "only": ["lost"]}`))
	if len(s.Results) != 1 || s.Results[0].Action != "issue" {
		t.Fatalf("forced run: want lost issued, got %+v", s)
	}
	s = decodeSummary(t, r.invoke(t, `{}`))
	if s.Failed != 0 {
		t.Fatalf("after the fix: %+v", s)
	}
	certs, p := r.waitEMF(t, 1)
	if n := strings.Count(r.out.String(), `"Certificate":"lost"`); n != 2 {
		t.Errorf("want lost's EMF line from both runs, got %d", n)
	}
	if p.num(t, MetricFailing) != 0 {
		t.Errorf("after the fix: Failing %v, want 0", p.Root[MetricFailing])
	}
	for _, name := range []string{"web", "lost"} {
		if l := certs[name]; l.Root == nil || l.num(t, MetricReady) != 1 || l.num(t, MetricDaysLeft) < 1 {
			t.Errorf("after the fix: %s %v, want ready with days left", name, l.Root)
		}
	}
}
