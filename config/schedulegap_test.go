package config

import (
	"errors"
	"strings"
	"testing"
)

// TestScheduleGap: a daemon schedule whose passes can be further apart than a third of a
// 90-day certificate's lifetime is warned about as schedule.interval is (a yearly cron
// lets every certificate expire between two passes); one whose first pass is more than
// five years away never runs, and is refused as the 30th of February is. The jitter
// widens the gap: a daily cron with a jitter of 100000h was not warned about.
func TestScheduleGap(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		cron, jitter, err, warn string
	}{
		{"17 3,15 * * *", "", "", ""},
		{"@every 720h", "", "", ""},
		{"@every 721h", "", "", "schedule.cron: \"@every 721h\": passes up to 721h apart"},
		{"0 0 1 1 *", "", "", "longer than a third of a 90-day certificate's lifetime (30d)"},
		{"0 0 29 2 *", "", "", "passes up to"},
		{"@every 1000000h", "", "never runs", ""},
		{"17 3 * * *", "1h", "", ""},
		{"17 3 * * *", "100000h", "", "schedule.cron: \"17 3 * * *\": passes up to 100024h apart with schedule.jitter 100000h"},
	} {
		doc := "acme: {email: ops@example-corp.net}\naws: {region: us-east-1}\nschedule: {cron: \"" + c.cron +
			"\", jitter: \"" + c.jitter + "\"}\ncertificates:\n  - name: web\n    domains: [www.example.com]\n    sinks: {secretsmanager: {secret: certs/web}}\n"
		cfg, err := Parse([]byte(doc), nil)
		var ve *ValidationError
		switch {
		case c.err != "":
			if !errors.As(err, &ve) || !strings.Contains(err.Error(), c.err) {
				t.Errorf("cron %q: err = %v, want %q", c.cron, err, c.err)
			}
			continue
		case err != nil:
			t.Errorf("cron %q: %v", c.cron, err)
			continue
		}
		got := strings.Join(cfg.Warnings, "\n")
		if (c.warn == "") != (got == "") || !strings.Contains(got, c.warn) {
			t.Errorf("cron %q: warnings %q, want %q", c.cron, got, c.warn)
		}
	}
}
