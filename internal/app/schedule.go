package app

import (
	"fmt"
	"time"

	"github.com/certferry/certferry/config"
	"github.com/certferry/certferry/scheduler"
	smsink "github.com/certferry/certferry/sinks/secretsmanager"
)

// Schedule checks shared by "certferry validate" and the Lambda: a runner started on a
// fixed period (schedule.interval) must renew every certificate before it expires.

// Let's Encrypt's announced lifetimes.
const (
	day               = 24 * time.Hour
	shortLivedProfile = "shortlived"
	shortLivedLife    = 6 * day
)

// futureLifetimes are the default lifetimes Let's Encrypt has announced.
var futureLifetimes = []struct {
	lifetime time.Duration
	from     string
}{
	{64 * day, "2027-02-10"},
	{45 * day, "2028-02-16"},
}

// expectedLifetime is the lifetime a certificate of the profile is expected to get
// before anything is stored: 6 days for "shortlived", the configuration's default
// (90 days) otherwise.
func expectedLifetime(profile string) time.Duration {
	if profile == shortLivedProfile {
		return shortLivedLife
	}
	return config.DefaultLifetime
}

// ScheduleWarnings are the loud warnings for a schedule.interval that cannot keep the
// configured certificates valid: for the lifetime each is expected to get now, and for
// the shorter defaults Let's Encrypt has announced.
func ScheduleWarnings(cfg *config.Config) []string {
	iv := cfg.Schedule.Interval
	if iv <= 0 {
		return nil
	}
	var out []string
	defaultProfile := false
	for i, c := range cfg.Certificates {
		life := expectedLifetime(c.Profile)
		if life == config.DefaultLifetime {
			defaultProfile = true
		}
		if p := scheduler.IntervalProblem(iv, life); p != "" {
			out = append(out, fmt.Sprintf("schedule.interval: certificates[%d] (%s, profile %q, expected lifetime %s): %s", i, c.Name, c.Profile, fmtDays(life), p))
		}
	}
	if defaultProfile {
		for _, f := range futureLifetimes {
			if p := scheduler.IntervalProblem(iv, f.lifetime); p != "" {
				out = append(out, fmt.Sprintf("schedule.interval: Let's Encrypt's default lifetime becomes %s on %s: %s", fmtDays(f.lifetime), f.from, p))
				break // the first future that breaks is the one to act on
			}
		}
	}
	return out
}

// ObservedScheduleProblems compares the interval with the lifetime of what is actually stored
// (not_after - not_before from the secrets' tags): a certificate that lives no longer
// than the interval expires before every next run.
func ObservedScheduleProblems(interval time.Duration, certs []config.Certificate, inv map[string]smsink.Stored) []string {
	if interval <= 0 {
		return nil
	}
	var out []string
	for _, c := range certs {
		if c.Sinks.SecretsManager == nil {
			continue
		}
		s, ok := smsink.Lookup(inv, c.Sinks.SecretsManager.Secret)
		if !ok || s.NotBefore.IsZero() || !s.NotAfter.After(s.NotBefore) {
			continue
		}
		life := s.NotAfter.Sub(s.NotBefore)
		if p := scheduler.IntervalProblem(interval, life); p != "" {
			out = append(out, fmt.Sprintf("%s: the stored certificate lives %s (%s to %s): %s", c.Name, fmtDays(life),
				s.NotBefore.UTC().Format(time.RFC3339), s.NotAfter.UTC().Format(time.RFC3339), p))
		}
	}
	return out
}

func fmtDays(d time.Duration) string {
	if d%day == 0 {
		return fmt.Sprintf("%dd", d/day)
	}
	return d.String()
}
