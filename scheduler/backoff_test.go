package scheduler

import (
	"testing"
	"time"
)

func TestNextAttempt(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		failures   int
		retryAfter time.Duration
		jitter     float64
		want       time.Duration
	}{
		{1, 0, 0, time.Minute},
		{2, 0, 0, 10 * time.Minute},
		{3, 0, 0, 100 * time.Minute},
		{4, 0, 0, 24 * time.Hour},
		{40, 0, 0, 24 * time.Hour},
		{1, 0, 0.5, 66 * time.Second},
		{4, 0, 0.5, 24*time.Hour + 144*time.Minute}, // at most once a day, spread
		{1, 2 * time.Hour, 0, 2 * time.Hour},        // Retry-After longer than the step wins
		{3, time.Minute, 0, 100 * time.Minute},      // shorter Retry-After does not shorten it
	} {
		got := NextAttempt(now, c.failures, c.retryAfter, c.jitter).Sub(now)
		if got != c.want {
			t.Errorf("NextAttempt(failures=%d, retryAfter=%s, jitter=%v) = %s, want %s", c.failures, c.retryAfter, c.jitter, got, c.want)
		}
	}
}

// TestBackoffSequenceUnderFakeClock walks a certificate that keeps failing through a
// simulated week with a pass every minute, and counts the attempts Decide allows.
func TestBackoffSequenceUnderFakeClock(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	st := Stored{Exists: true, Domains: []string{"a.example.com"}, KeyType: "ec256", NotBefore: t0.Add(-80 * 24 * time.Hour), NotAfter: t0.Add(10 * 24 * time.Hour)}
	want := Want{Name: "a", Domains: []string{"a.example.com"}, KeyType: "ec256"}
	var attempts []time.Time
	for now := t0; now.Before(t0.Add(7 * 24 * time.Hour)); now = now.Add(time.Minute) {
		d := Decide(Input{Want: want, Stored: st, Now: now})
		if !d.Due {
			continue
		}
		attempts = append(attempts, now)
		st.Failures++
		st.NextAttempt = NextAttempt(now, st.Failures, 0, 0)
	}
	gaps := []time.Duration{time.Minute, 10 * time.Minute, 100 * time.Minute, 24 * time.Hour, 24 * time.Hour}
	for i, g := range gaps {
		if got := attempts[i+1].Sub(attempts[i]); got != g {
			t.Fatalf("gap %d = %s, want %s (attempts %v)", i, got, g, attempts)
		}
	}
	// 4 attempts on the first day, then one a day.
	if len(attempts) != 4+6 {
		t.Fatalf("%d attempts in a week, want 10", len(attempts))
	}
}

func TestNextAttemptPermanent(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		retryAfter time.Duration
		jitter     float64
		want       time.Duration
	}{
		{0, 0, MaxBackoff},
		{0, 0.5, MaxBackoff + MaxBackoff/10},
		{48 * time.Hour, 0, 48 * time.Hour},
		{time.Hour, 0, MaxBackoff},
	} {
		if got := NextAttemptPermanent(now, tc.retryAfter, tc.jitter).Sub(now); got != tc.want {
			t.Errorf("NextAttemptPermanent(retry %s, jitter %g) = now+%s, want now+%s", tc.retryAfter, tc.jitter, got, tc.want)
		}
	}
}
