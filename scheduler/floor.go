package scheduler

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// floorSamples bounds how many consecutive run times CheckSpec looks at: over three days
// of a spec that runs every 5 minutes (every neighbouring pair within an hour, across an
// hour, across a day), decades of a monthly one. It costs a few milliseconds. The check
// is advice given early; the daemon's loop enforces the floor whatever it misses
// (NextPass).
const floorSamples = 1000

// CheckSpec reports why a parsed schedule is unusable from `from` on: it never runs
// (robfig/cron's Next answers the zero time when nothing matches within five years, as
// "0 0 30 2 *", the 30th of February, does), or two consecutive runs are closer than
// floor. The error says which and gives the times.
func CheckSpec(s cron.Schedule, from time.Time, floor time.Duration) error {
	prev := s.Next(from)
	if prev.IsZero() {
		return errors.New("never runs: no date matches it within five years")
	}
	if prev.After(from.Add(horizon)) { // "@every 1000000h": a constant delay, never zero
		return fmt.Errorf("never runs: its first run, %s, is more than five years away", prev.UTC().Format(time.DateOnly))
	}
	for range floorSamples {
		next := s.Next(prev)
		if next.IsZero() {
			return nil // one last run, then none: not a loop
		}
		if gap := next.Sub(prev); gap < floor {
			return fmt.Errorf("runs %s apart, more often than schedule.min_period (%s) allows", formatGap(gap), formatGap(floor))
		}
		prev = next
	}
	return nil
}

// horizon is how far ahead a schedule is looked at: robfig/cron's own five years.
const horizon = 5 * 365 * 24 * time.Hour

// LongestGap is the longest wait between two runs of s (or from `from` to its first),
// over floorSamples runs or five years, whichever ends first: what a daemon on s can
// leave between two passes. Zero when s never runs.
func LongestGap(s cron.Schedule, from time.Time) time.Duration {
	var longest time.Duration
	prev, end := from, from.Add(horizon)
	for range floorSamples {
		next := s.Next(prev)
		if next.IsZero() {
			break
		}
		longest = max(longest, next.Sub(prev))
		if next.After(end) {
			break
		}
		prev = next
	}
	return longest
}

// NextPass is when the pass after one that started at lastStart may run, at now: the
// schedule's next time, but never sooner than floor after lastStart, and never the zero
// time. It holds whatever the schedule answers (a time in the past, the zero time of a
// spec that has stopped matching), so the daemon can never run passes back to back.
func NextPass(sched interface{ Next(time.Time) time.Time }, lastStart, now time.Time, floor time.Duration) time.Time {
	earliest := lastStart.Add(floor)
	if lastStart.IsZero() {
		earliest = now
	}
	next := sched.Next(now)
	if next.IsZero() || next.Before(earliest) {
		return earliest
	}
	return next
}

// formatGap prints a duration as a configuration would write it ("5m", "24h", not "5m0s",
// "24h0m").
func formatGap(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
