package scheduler

import (
	"fmt"
	"testing"
	"time"
)

// TestIntervalProblemTable covers Let's Encrypt's lifetimes (90 days now, 64 days from
// 2027-02-10, 45 days from 2028-02-16, 6-day "shortlived") against a daily runner and a
// Lambda on rate(60 days), with the exact message.
func TestIntervalProblemTable(t *testing.T) {
	t.Parallel()
	const day = 24 * time.Hour
	cases := []struct {
		interval, lifetime time.Duration
		want               string
	}{
		{day, 90 * day, ""},
		{day, 64 * day, ""},
		{day, 45 * day, ""},
		{day, 6 * day, ""},
		{60 * day, 90 * day, ""},
		{60 * day, 64 * day, ""},
		{60 * day, 45 * day, "schedule interval 1440h0m0s is not shorter than the certificate lifetime 1080h0m0s: every certificate expires before the next run; run daily instead"},
		{60 * day, 6 * day, "schedule interval 1440h0m0s is not shorter than the certificate lifetime 144h0m0s: every certificate expires before the next run; run daily instead"},
		{64 * day, 64 * day, "schedule interval 1536h0m0s is not shorter than the certificate lifetime 1536h0m0s: every certificate expires before the next run; run daily instead"},
		{0, 45 * day, ""},
		{day, 0, ""},
	}
	for _, c := range cases {
		if got := IntervalProblem(c.interval, c.lifetime); got != c.want {
			t.Errorf("IntervalProblem(%s, %s) = %q, want %q", c.interval, c.lifetime, got, c.want)
		}
	}
}

// TestIntervalKeepsCertificatesValid runs a runner started every interval for two years
// of simulated time, renewing whenever Decide says so (every order succeeds), and checks
// that a valid certificate is stored at every moment exactly when IntervalProblem finds
// nothing wrong.
func TestIntervalKeepsCertificatesValid(t *testing.T) {
	t.Parallel()
	const day = 24 * time.Hour
	t0 := time.Date(2026, 11, 1, 3, 17, 0, 0, time.UTC)
	for _, lifetime := range []time.Duration{90 * day, 64 * day, 45 * day, 6 * day} {
		for _, interval := range []time.Duration{day, 7 * day, 30 * day, 60 * day} {
			t.Run(fmt.Sprintf("%s every %s", lifetime, interval), func(t *testing.T) {
				t.Parallel()
				want := Want{Name: "web", Domains: []string{"example.com"}, KeyType: "ec256"}
				st := Stored{Exists: true, Domains: want.Domains, KeyType: "ec256", NotBefore: t0, NotAfter: t0.Add(lifetime), IssuedAt: t0}
				expired := time.Duration(0)
				renewals := 0
				for now := t0.Add(interval); now.Before(t0.Add(730 * day)); now = now.Add(interval) {
					// The gap before this run: how long the stored certificate was expired.
					if now.After(st.NotAfter) {
						expired += now.Sub(st.NotAfter)
					}
					d := Decide(Input{Want: want, Stored: st, Now: now, Interval: interval, Guard: day})
					if d.Due {
						renewals++
						st.NotBefore, st.NotAfter, st.IssuedAt = now, now.Add(lifetime), now
					}
				}
				ok := IntervalProblem(interval, lifetime) == ""
				if ok && expired > 0 {
					t.Errorf("IntervalProblem finds nothing wrong, yet the certificate was expired for %s in two years (%d renewals)", expired, renewals)
				}
				if !ok && expired == 0 {
					t.Errorf("IntervalProblem warns, yet the certificate never expired (%d renewals)", renewals)
				}
			})
		}
	}
}
