package main

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/certferry/certferry/config"
	"github.com/certferry/certferry/scheduler"
	smsink "github.com/certferry/certferry/sinks/secretsmanager"
)

// ConfigError is a configuration the Lambda cannot run: unreadable, invalid, or asking
// for local state that does not survive an invocation.
type ConfigError struct{ err error }

func (e *ConfigError) Error() string { return e.err.Error() }
func (e *ConfigError) Unwrap() error { return e.err }

// lambdaProblems lists what a valid configuration asks for that a Lambda cannot keep:
// nothing under /tmp survives, so the ACME account must live in Secrets Manager and
// certificates cannot be kept (nor inventoried) as files.
func lambdaProblems(cfg *config.Config) error {
	var errs []error
	if cfg.ACME.AccountStore.Kind == config.AccountStoreFile {
		errs = append(errs, fmt.Errorf("acme.account_store: %q keeps the ACME account on the Lambda's local disk, which does not survive the invocation (every cold start would register a new account): use account_store: secretsmanager", cfg.ACME.AccountStore.String()))
	}
	for i, c := range cfg.Certificates {
		if c.Sinks.File != nil {
			errs = append(errs, fmt.Errorf("certificates[%d].sinks.file (%s): a Lambda's disk does not survive the invocation; store the certificate in Secrets Manager only (sinks.secretsmanager)", i, c.Name))
		}
	}
	return errors.Join(errs...)
}

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

// intervalWarnings are the loud warnings for a schedule.interval that cannot keep the
// configured certificates valid: for the lifetime each is expected to get now, and for
// the shorter defaults Let's Encrypt has announced.
func intervalWarnings(cfg *config.Config) []string {
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

// ScheduleError refuses a pass whose schedule cannot keep a stored certificate valid.
type ScheduleError struct{ Problems []string }

func (e *ScheduleError) Error() string {
	return "certferry: refusing the pass: " + strings.Join(e.Problems, "; ")
}

// observedProblems compares the interval with the lifetime of what is actually stored
// (not_after - not_before from the secrets' tags): a certificate that lives no longer
// than the interval expires before every next run.
func observedProblems(interval time.Duration, certs []config.Certificate, inv map[string]smsink.Stored) []string {
	if interval <= 0 {
		return nil
	}
	var out []string
	for _, c := range certs {
		if c.Sinks.SecretsManager == nil {
			continue
		}
		s, ok := inv[c.Sinks.SecretsManager.Secret]
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
