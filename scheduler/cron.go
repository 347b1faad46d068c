package scheduler

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"time"

	"github.com/robfig/cron/v3"
)

// DefaultSpec returns the default schedule, twice a day at a minute and hour chosen from
// seed (the machine ID, or the host name), following Let's Encrypt's advice to renew at a
// random time rather than on the hour.
func DefaultSpec(seed string) string {
	h := fnv.New32a()
	_, _ = h.Write([]byte(seed))
	v := h.Sum32()
	minute, hour := v%60, (v/60)%12
	return fmt.Sprintf("%d %d,%d * * *", minute, hour, hour+12)
}

// Schedule is a parsed cron spec plus random jitter.
type Schedule struct {
	spec   cron.Schedule
	jitter time.Duration
	rand   func() float64
}

// ParseSchedule parses a standard five-field cron spec (or a descriptor such as
// "@daily").
func ParseSchedule(spec string, jitter time.Duration, rnd func() float64) (*Schedule, error) {
	s, err := ParseCron(spec)
	if err != nil {
		return nil, fmt.Errorf("schedule %q: %w", spec, err)
	}
	if rnd == nil {
		rnd = rand.Float64
	}
	return &Schedule{spec: s, jitter: jitter, rand: rnd}, nil
}

// Next returns the next run after now, jitter included.
func (s *Schedule) Next(now time.Time) time.Time {
	t := s.spec.Next(now)
	if s.jitter > 0 {
		t = t.Add(time.Duration(s.rand() * float64(s.jitter)))
	}
	return t
}

// Check reports why the schedule cannot be used from `from` on (CheckSpec): it never
// runs, or runs more often than floor.
func (s *Schedule) Check(from time.Time, floor time.Duration) error {
	return CheckSpec(s.spec, from, floor)
}
