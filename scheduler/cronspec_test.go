package scheduler

import (
	"strings"
	"testing"
	"time"
)

func TestParseCron(t *testing.T) {
	t.Parallel()
	from := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		spec    string
		next    time.Time // zero: an error is expected
		errText string
	}{
		{"17 3,15 * * *", time.Date(2026, 11, 27, 3, 17, 0, 0, time.UTC), ""},
		{"@daily", time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC), ""},
		{"@every 90m", from.Add(90 * time.Minute), ""},
		{"CRON_TZ=UTC 0 6 * * *", time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC), ""},
		{"TZ=0", time.Time{}, "a time zone prefix needs a zone and a schedule"}, // panicked in robfig/cron
		{"CRON_TZ=UTC", time.Time{}, "a time zone prefix needs"},
		{"TZ= 1 * * * *", time.Time{}, "a time zone prefix needs"},
		{"TZ=Nowhere/City 1 * * * *", time.Time{}, "bad location"},
		{"61 * * * *", time.Time{}, "end of range"},
		{"* * *", time.Time{}, "expected exactly 5 fields"},
	} {
		s, err := ParseCron(c.spec)
		if c.next.IsZero() {
			if err == nil || !strings.Contains(err.Error(), c.errText) {
				t.Errorf("ParseCron(%q) error = %v, want one containing %q", c.spec, err, c.errText)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseCron(%q): %v", c.spec, err)
			continue
		}
		if got := s.Next(from); !got.Equal(c.next) {
			t.Errorf("ParseCron(%q).Next = %s, want %s", c.spec, got, c.next)
		}
	}
}
