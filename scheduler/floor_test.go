package scheduler

import (
	"strings"
	"testing"
	"time"
)

const minPeriod = 5 * time.Minute

func TestCheckSpec(t *testing.T) {
	t.Parallel()
	from := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		spec    string
		errText string // "": accepted
	}{
		{"17 3,15 * * *", ""},
		{"@daily", ""},
		{"*/5 * * * *", ""},
		{"0 0 29 2 *", ""}, // once in four years is rare, not never
		{"@every 5m", ""},
		{"0 0 30 2 *", "never runs"},
		{"0 0 31 4 *", "never runs"},
		{"@every 1000000h", "never runs: its first run"}, // a constant delay: never the zero time
		{"* * * * *", "runs 1m apart"},
		{"*/4 * * * *", "runs 4m apart"},
		{"@every 1m", "more often than schedule.min_period (5m)"},
		{"0,59 0,23 1,31 * *", "runs 1m apart"}, // 23:59 on the 31st, then 00:00 on the 1st
	} {
		s, err := ParseCron(c.spec)
		if err != nil {
			t.Fatalf("ParseCron(%q): %v", c.spec, err)
		}
		err = CheckSpec(s, from, minPeriod)
		switch {
		case c.errText == "" && err != nil:
			t.Errorf("CheckSpec(%q) = %v, want nil", c.spec, err)
		case c.errText != "" && (err == nil || !strings.Contains(err.Error(), c.errText)):
			t.Errorf("CheckSpec(%q) = %v, want an error containing %q", c.spec, err, c.errText)
		}
	}
}

// fixedNext is a schedule library gone wrong: it answers the same time whatever it is asked.
type fixedNext time.Time

func (f fixedNext) Next(time.Time) time.Time { return time.Time(f) }

func TestNextPassFloor(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	last := now.Add(-time.Minute)
	for _, c := range []struct {
		name  string
		sched fixedNext
		last  time.Time
		want  time.Time
	}{
		{"zero time", fixedNext{}, last, last.Add(minPeriod)},
		{"in the past", fixedNext(now.Add(-time.Hour)), last, last.Add(minPeriod)},
		{"now", fixedNext(now), last, last.Add(minPeriod)},
		{"sooner than the floor", fixedNext(now.Add(time.Minute)), last, last.Add(minPeriod)},
		{"after the floor", fixedNext(now.Add(time.Hour)), last, now.Add(time.Hour)},
		{"no pass yet, zero time", fixedNext{}, time.Time{}, now},
	} {
		if got := NextPass(c.sched, c.last, now, minPeriod); !got.Equal(c.want) {
			t.Errorf("%s: NextPass = %s, want %s", c.name, got, c.want)
		}
	}
}

// TestFormatGap: a gap is written as a configuration writes it, with no zero minutes or
// seconds trailing ("24h", not "24h0m").
func TestFormatGap(t *testing.T) {
	t.Parallel()
	for d, want := range map[time.Duration]string{
		5 * time.Minute:                "5m",
		24 * time.Hour:                 "24h",
		8760 * time.Hour:               "8760h",
		90 * time.Minute:               "1h30m",
		4*time.Minute + 59*time.Second: "4m59s",
		time.Second:                    "1s",
	} {
		if got := formatGap(d); got != want {
			t.Errorf("formatGap(%v) = %q, want %q", d, got, want)
		}
	}
}
