package scheduler

import "time"

// Backoff steps after the 1st, 2nd, 3rd failure; from the 4th on, once a day. The
// factor of ten keeps a transient fault cheap while a persistent one costs the CA at most
// one attempt a day.
var backoffSteps = [...]time.Duration{time.Minute, 10 * time.Minute, 100 * time.Minute}

// MaxBackoff is the longest wait between two attempts for one certificate.
const MaxBackoff = 24 * time.Hour

// NextAttempt returns when a certificate that has now failed `failures` times in a row
// (failures >= 1) may be tried again. jitter in [0, 1) spreads retries by up to +20 %
// so that many certificates failing together do not retry together. A Retry-After from
// the CA is honoured when it asks for longer.
func NextAttempt(now time.Time, failures int, retryAfter time.Duration, jitter float64) time.Time {
	d := MaxBackoff
	if failures >= 1 && failures <= len(backoffSteps) {
		d = backoffSteps[failures-1]
	}
	if jitter < 0 {
		jitter = 0
	}
	if jitter >= 1 {
		jitter = 0.999
	}
	d += time.Duration(float64(d) * 0.2 * jitter)
	if d > MaxBackoff && failures <= len(backoffSteps) {
		d = MaxBackoff
	}
	if retryAfter > d {
		d = retryAfter
	}
	return now.Add(d)
}

// NextAttemptPermanent returns when a certificate whose attempt the CA refused for good
// (a CAA record, a rejected identifier: nothing a retry changes until a human acts) may
// be tried again: straight away at the daily cap, with the same jitter, skipping the
// short steps that are meant for transient faults. A Retry-After is honoured likewise.
func NextAttemptPermanent(now time.Time, retryAfter time.Duration, jitter float64) time.Time {
	return NextAttempt(now, len(backoffSteps)+1, retryAfter, jitter)
}
