package renew_test

// Helpers of the fault tests (issue 7): an app whose logs, at debug level, are kept and
// searched for key material when the test ends; a settable clock; the secret's tags.

import (
	"bytes"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"

	"github.com/certferry/certferry/config"
	"github.com/certferry/certferry/internal/app"
)

// logBuf is a zap sink safe for the pass's goroutines.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) Sync() error { return nil }

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// lines returns the JSON log lines that contain every one of subs.
func (l *logBuf) lines(subs ...string) []string {
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

// clock is a settable fake clock for the pass (Pebble and the AWS stand-ins keep the
// real one).
type clock struct{ ns atomic.Int64 }

func newClock(t time.Time) *clock {
	c := &clock{}
	c.set(t)
	return c
}
func (c *clock) now() time.Time      { return time.Unix(0, c.ns.Load()) }
func (c *clock) set(t time.Time)     { c.ns.Store(t.UnixNano()) }
func (c *clock) add(d time.Duration) { c.ns.Add(int64(d)) }

// loggedApp builds an app with the pass clock now (nil: the real clock) that logs at
// debug level into the returned buffer (warnings and errors also go to the test log).
// When the test ends, the buffer must hold no key material (scenario 12).
func (e *env) loggedApp(t *testing.T, cfg *config.Config, now func() time.Time) (*app.App, *logBuf) {
	t.Helper()
	buf := &logBuf{}
	core := zapcore.NewTee(
		zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.AddSync(buf), zap.DebugLevel),
		zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)).Core(),
	)
	t.Cleanup(func() {
		s := buf.String()
		if s == "" {
			t.Errorf("no log output captured")
		}
		for _, bad := range []string{"PRIVATE KEY", "BEGIN EC", "BEGIN RSA"} {
			if strings.Contains(s, bad) {
				t.Errorf("the debug log holds %q", bad)
			}
		}
	})
	return e.AppWith(t, cfg, now, zap.New(core)), buf
}

// tags returns the secret's tags.
func (e *env) tags(t *testing.T, secret string) map[string]string {
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

// tagTime parses a time tag.
func tagTime(t *testing.T, tags map[string]string, k string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, tags[k])
	if err != nil {
		t.Fatalf("tag %s = %q: %v", k, tags[k], err)
	}
	return v
}
