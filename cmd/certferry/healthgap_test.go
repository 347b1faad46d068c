package main

import (
	"strings"
	"testing"
	"time"

	"github.com/certferry/certferry/config"
)

// TestHealthGapWarning: --unhealthy-after shorter than the longest wait between two
// scheduled passes (a weekly cron under the default 36h) would fail /healthz between
// passes that all went well; run warns at start. One that covers the gap, or an empty
// schedule (twice a day), is silent.
func TestHealthGapWarning(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		cron   string
		jitter time.Duration
		maxAge time.Duration
		want   string
	}{
		{"", 0, 36 * time.Hour, ""},
		{"17 3,15 * * *", 0, 36 * time.Hour, ""},
		{"0 3 * * *", 0, 36 * time.Hour, ""},
		{"0 3 * * 0", 0, 36 * time.Hour, "--unhealthy-after 36h0m0s is shorter than the longest wait between two scheduled passes (168h0m0s"},
		{"0 3 * * *", 0, time.Hour, "shorter than the longest wait"},
		{"0 3 * * *", 13 * time.Hour, 36 * time.Hour, "shorter than the longest wait"},
	} {
		cfg := &config.Config{Schedule: config.Schedule{Cron: c.cron, Jitter: c.jitter}}
		got := healthGapWarning(cfg, c.maxAge, time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC))
		if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
			t.Errorf("cron %q jitter %s --unhealthy-after %s: %q, want %q", c.cron, c.jitter, c.maxAge, got, c.want)
		}
	}
}
