package e2etest

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"

	"github.com/certferry/certferry/internal/sandbox"
	"github.com/certferry/certferry/internal/testwait"
)

// PassBound is a generous bound on one pass of a few certificates against this sandbox,
// derived from its settings, for a test that waits on something a pass does: each pass
// waits for Route 53 twice (publish, clean up) and for Pebble's one-second Retry-After on
// authorizations and orders, plus its optional validation sleep; testwait.Factor
// covers a loaded machine running the suite with the race detector. A test that needs
// more states why.
func (e *Env) PassBound() time.Duration { return PassBound(e.Opts) }

// PassBound is Env.PassBound for a sandbox started with opts.
func PassBound(opts sandbox.Options) time.Duration {
	one := 2*opts.InsyncAfter + 2*time.Second
	if opts.ValidationSleep {
		one += 5 * time.Second
	}
	return testwait.Factor * one
}

// Eventually polls cond every 10 ms until it holds, and fails the test when it still
// does not after within (derive it from what is awaited: PassBound, testwait.For of a
// hook's timeout or a schedule's period).
func Eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, within)
		}
		select {
		case <-t.Context().Done():
			t.Fatalf("%s: the test ended first", what)
		case <-tick.C:
		}
	}
}

// LogBuffer is a zap sink that the goroutines of a pass may share.
type LogBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// Sync makes LogBuffer a zapcore.WriteSyncer.
func (l *LogBuffer) Sync() error { return nil }

func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Lines returns the log lines that contain every one of subs.
func (l *LogBuffer) Lines(subs ...string) []string {
	var out []string
	for _, line := range strings.Split(l.String(), "\n") {
		ok := line != ""
		for _, s := range subs {
			ok = ok && strings.Contains(line, s)
		}
		if ok {
			out = append(out, line)
		}
	}
	return out
}

// DebugLog returns a logger that writes every level, as JSON, into the returned buffer,
// and warnings and errors to the test's log too. When the test ends the buffer must hold
// no key material, else the test fails.
func DebugLog(t *testing.T) (*LogBuffer, *zap.Logger) {
	t.Helper()
	buf := &LogBuffer{}
	core := zapcore.NewTee(
		zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), buf, zap.DebugLevel),
		zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)).Core(),
	)
	t.Cleanup(func() {
		s := buf.String()
		// Split so that this file holds no PEM header itself.
		for _, bad := range []string{"PRIVATE" + " KEY", "BEGIN" + " EC", "BEGIN" + " RSA"} {
			if strings.Contains(s, bad) {
				t.Errorf("the debug log holds %q", bad)
			}
		}
	})
	return buf, zap.New(core)
}

// Clock is a test clock. NewClock's starts at a fixed time that only Set and Add move;
// the zero Clock follows the real time until Freeze, Set or Add fixes it.
type Clock struct {
	mu    sync.Mutex
	fixed time.Time
}

// NewClock returns a clock fixed at t.
func NewClock(t time.Time) *Clock { return &Clock{fixed: t} }

// Now is the clock's time; pass it as a Now func.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fixed.IsZero() {
		return time.Now()
	}
	return c.fixed
}

// Set fixes the clock at t.
func (c *Clock) Set(t time.Time) { c.mu.Lock(); c.fixed = t; c.mu.Unlock() }

// Add moves the clock by d (fixing it first if it followed the real time).
func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fixed.IsZero() {
		c.fixed = time.Now()
	}
	c.fixed = c.fixed.Add(d)
}

// Freeze stops the clock at the current time.
func (c *Clock) Freeze() { c.Set(time.Now()) }

// HookScript writes an exec hook into dir. Each run appends to log one line
// "run <event> <name> <version id> <domains> <secret ARN>" and one line counting its
// environment's lines that hold a private key (HookRuns checks it is 0); the hook fails
// (exit 3, "redeploy failed" on stderr) while the file fail exists.
func HookScript(t *testing.T, dir string) (script, log, fail string) {
	t.Helper()
	script = filepath.Join(dir, "hook.sh")
	log = filepath.Join(dir, "hook.log")
	fail = filepath.Join(dir, "hook.fail")
	body := "#!/bin/sh\n" +
		"echo \"run $CERTFERRY_EVENT $CERTFERRY_NAME $CERTFERRY_VERSION_ID $CERTFERRY_DOMAINS $CERTFERRY_SECRET_ARN\" >> " + log + "\n" +
		"env | grep -c 'PRIVATE" + " KEY' >> " + log + "\n" +
		"if [ -e " + fail + " ]; then echo 'redeploy failed' >&2; exit 3; fi\n"
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	return script, log, fail
}

// HookRuns returns the "run ..." lines of a HookScript log (none when it does not exist)
// and fails the test when a run's environment held key material.
func HookRuns(t *testing.T, log string) []string {
	t.Helper()
	b, err := os.ReadFile(log)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if strings.HasPrefix(l, "run ") {
			out = append(out, l)
		} else if l != "0" {
			t.Fatalf("a hook's environment held key material: %q", l)
		}
	}
	return out
}

// Tags returns the secret's tags.
func (e *Env) Tags(t *testing.T, secret string) map[string]string {
	t.Helper()
	out, err := e.SM.DescribeSecret(t.Context(), &awssm.DescribeSecretInput{SecretId: aws.String(secret)})
	if err != nil {
		t.Fatalf("DescribeSecret %s: %v", secret, err)
	}
	m := map[string]string{}
	for _, tg := range out.Tags {
		m[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
	}
	return m
}
