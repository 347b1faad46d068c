package r53sim

import "golang.org/x/time/rate"

// newLimiter returns the account-wide request bucket Route 53 applies before answering
// Throttling (since July 2026: 10 requests/s, burst 50). rps <= 0 means no limit.
func newLimiter(rps float64, burst int) *rate.Limiter {
	if rps <= 0 {
		return nil
	}
	if burst <= 0 {
		burst = 1 // a zero-sized bucket would refuse every request
	}
	return rate.NewLimiter(rate.Limit(rps), burst)
}

// allow takes one token at the injected clock's time, so tests can refill the bucket
// by advancing the clock instead of sleeping.
func (s *Service) allow() bool {
	return s.limiter == nil || s.limiter.AllowN(s.now(), 1)
}
