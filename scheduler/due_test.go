package scheduler

import (
	"strings"
	"testing"
	"time"
)

func TestDecide(t *testing.T) {
	t.Parallel()
	day := 24 * time.Hour
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	names := []string{"www.example.com", "example.com"}
	want := Want{Name: "web", Domains: names, KeyType: "ec256"}
	stored := func(lifetime time.Duration) Stored {
		return Stored{Exists: true, Domains: []string{"example.com", "www.example.com"}, KeyType: "ec256",
			NotBefore: t0, NotAfter: t0.Add(lifetime), IssuedAt: t0}
	}
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	type tc struct {
		name    string
		in      Input
		due     bool
		reason  Reason
		msgHas  string
		wantDue time.Time // checked when non-zero
		// wantNext is the checked Decision.NextAttempt when non-zero.
		wantNext time.Time
	}
	cases := []tc{
		{name: "nothing stored", in: Input{Want: want, Now: t0}, due: true, reason: ReasonMissing},
		{name: "force beats everything", in: Input{Want: want, Stored: stored(90 * day), Now: at(time.Hour), Guard: day, Force: true}, due: true, reason: ReasonForced},

		// 90-day certificates: a third of the lifetime (30 days) before expiry.
		{name: "90d fresh", in: Input{Want: want, Stored: stored(90 * day), Now: at(2 * day)}, reason: ReasonNotDue, wantDue: at(60 * day)},
		{name: "90d day 59", in: Input{Want: want, Stored: stored(90 * day), Now: at(59 * day)}, reason: ReasonNotDue},
		{name: "90d day 60", in: Input{Want: want, Stored: stored(90 * day), Now: at(60 * day)}, due: true, reason: ReasonLifetime},
		{name: "90d expired", in: Input{Want: want, Stored: stored(90 * day), Now: at(91 * day)}, due: true, reason: ReasonExpired},
		{name: "90d renew_before 45d", in: Input{Want: Want{Name: "web", Domains: names, KeyType: "ec256", RenewBefore: 45 * day}, Stored: stored(90 * day), Now: at(46 * day)}, due: true, reason: ReasonRenewBefore},

		// 64-day certificates (Let's Encrypt's default from 2027-02-10).
		{name: "64d day 42", in: Input{Want: want, Stored: stored(64 * day), Now: at(42 * day)}, reason: ReasonNotDue},
		{name: "64d day 43", in: Input{Want: want, Stored: stored(64 * day), Now: at(43 * day)}, due: true, reason: ReasonLifetime},

		// 45-day certificates (from 2028-02-16): due with 15 days left.
		{name: "45d day 29", in: Input{Want: want, Stored: stored(45 * day), Now: at(29 * day)}, reason: ReasonNotDue},
		{name: "45d day 30", in: Input{Want: want, Stored: stored(45 * day), Now: at(30 * day)}, due: true, reason: ReasonLifetime},

		// 6-day certificates: renewed at half their lifetime.
		{name: "6d day 2", in: Input{Want: want, Stored: stored(6 * day), Now: at(2 * day)}, reason: ReasonNotDue, wantDue: at(3 * day)},
		{name: "6d day 3", in: Input{Want: want, Stored: stored(6 * day), Now: at(3 * day)}, due: true, reason: ReasonLifetime},

		// ARI: a point inside the window; before the window nothing is due.
		{name: "ari before window", in: Input{Want: want, Stored: stored(90 * day), Now: at(50 * day), ARI: &Window{at(55 * day), at(57 * day)}}, reason: ReasonNotDue},
		{name: "ari after window", in: Input{Want: want, Stored: stored(90 * day), Now: at(57 * day), ARI: &Window{at(55 * day), at(57 * day)}}, due: true, reason: ReasonARIWindow},
		{name: "ari window in the past (revocation)", in: Input{Want: want, Stored: stored(90 * day), Now: at(3 * day), ARI: &Window{at(-2 * day), at(-day)}}, due: true, reason: ReasonARIWindow},
		{name: "ari later than lifetime rule wins over it", in: Input{Want: want, Stored: stored(90 * day), Now: at(61 * day), ARI: &Window{at(70 * day), at(72 * day)}}, reason: ReasonNotDue},
		{name: "emergency overrides a late ARI window", in: Input{Want: want, Stored: stored(90 * day), Now: at(76 * day), ARI: &Window{at(88 * day), at(89 * day)}}, due: true, reason: ReasonEmergency},

		// Configuration changes.
		{name: "names changed", in: Input{Want: Want{Name: "web", Domains: []string{"example.com"}, KeyType: "ec256"}, Stored: stored(90 * day), Now: at(3 * day)}, due: true, reason: ReasonNamesChanged},
		{name: "names reordered is not a change", in: Input{Want: want, Stored: stored(90 * day), Now: at(3 * day)}, reason: ReasonNotDue},
		{name: "key type changed", in: Input{Want: Want{Name: "web", Domains: names, KeyType: "rsa2048"}, Stored: stored(90 * day), Now: at(3 * day)}, due: true, reason: ReasonKeyTypeChanged},
		{name: "profile changed", in: Input{Want: Want{Name: "web", Domains: names, KeyType: "ec256", Profile: "shortlived"}, Stored: stored(90 * day), Now: at(3 * day)}, due: true, reason: ReasonProfileChanged},

		// The issuance guard.
		{name: "guard stops a stale ARI window", in: Input{Want: want, Stored: stored(90 * day), Now: at(time.Hour), Guard: day, ARI: &Window{at(-2 * day), at(-day)}}, reason: ReasonIssuanceGuard, wantNext: at(day)},
		{name: "guard stops a names-change loop", in: Input{Want: Want{Name: "web", Domains: []string{"example.com"}, KeyType: "ec256"}, Stored: stored(90 * day), Now: at(time.Hour), Guard: day,
			Issued: []Issued{{Key: IssuanceKey("", []string{"example.com"}), At: at(-time.Hour)}}}, reason: ReasonIssuanceGuard, msgHas: "stored names", wantNext: at(23 * time.Hour)},
		{name: "guard: names not issued in the window pass", in: Input{Want: Want{Name: "web", Domains: []string{"example.com"}, KeyType: "ec256"}, Stored: stored(90 * day), Now: at(time.Hour), Guard: day}, due: true, reason: ReasonNamesChanged},
		{name: "guard: another CA's issuance never holds a ca-changed renewal", in: Input{Want: Want{Name: "web", Domains: names, KeyType: "ec256", Directory: "https://b/dir"},
			Stored: func() Stored { s := stored(90 * day); s.Directory = "https://a/dir"; return s }(), Now: at(time.Minute), Guard: day}, due: true, reason: ReasonCAChanged},
		{name: "guard: back to a CA that issued these names in the window waits", in: Input{Want: Want{Name: "web", Domains: names, KeyType: "ec256", Directory: "https://a/dir"},
			Stored: func() Stored { s := stored(90 * day); s.Directory = "https://b/dir"; return s }(), Now: at(time.Hour), Guard: day,
			Issued: []Issued{{Key: IssuanceKey("https://a/dir", names), At: at(-time.Hour)}, {Key: IssuanceKey("https://b/dir", names), At: t0}}}, reason: ReasonIssuanceGuard, wantNext: at(23 * time.Hour)},
		{name: "guard: a key-type change is allowed once, and says so", in: Input{Want: Want{Name: "web", Domains: names, KeyType: "rsa2048"}, Stored: stored(90 * day), Now: at(time.Hour), Guard: day},
			due: true, reason: ReasonKeyTypeChanged, msgHas: "allowed once inside the issuance guard"},
		{name: "guard: a second profile change in the window waits", in: Input{Want: Want{Name: "web", Domains: names, KeyType: "ec256", Profile: "shortlived"}, Stored: stored(90 * day), Now: at(time.Hour), Guard: day,
			Issued: []Issued{{Key: IssuanceKey("", names), At: at(-2 * time.Hour)}, {Key: IssuanceKey("", names), At: t0}}}, reason: ReasonIssuanceGuard, msgHas: "2 certificates", wantNext: at(22 * time.Hour)},
		{name: "guard does not mask a certificate that is simply not due", in: Input{Want: want, Stored: stored(90 * day), Now: at(time.Hour), Guard: day}, reason: ReasonNotDue, wantDue: at(60 * day)},
		{name: "guard holds an expired-soon change only until expiry", in: Input{Want: want, Stored: stored(6 * day), Now: at(7 * day), Guard: 30 * day}, due: true, reason: ReasonExpired},
		{name: "guard over: ARI renews", in: Input{Want: want, Stored: stored(90 * day), Now: at(day), Guard: day, ARI: &Window{at(-2 * day), at(-day)}}, due: true, reason: ReasonARIWindow},

		// Backoff.
		{name: "backoff holds", in: Input{Want: want, Stored: func() Stored { s := stored(90 * day); s.Failures = 2; s.NextAttempt = at(70 * day); return s }(), Now: at(69 * day)}, reason: ReasonBackoff, wantDue: at(60 * day), wantNext: at(70 * day)},
		{name: "backoff over", in: Input{Want: want, Stored: func() Stored { s := stored(90 * day); s.Failures = 2; s.NextAttempt = at(70 * day); return s }(), Now: at(70 * day)}, due: true, reason: ReasonLifetime},

		{name: "backoff holds a certificate never stored", in: Input{Want: want, Stored: Stored{Failures: 1, NextAttempt: at(time.Minute)}, Now: t0}, reason: ReasonBackoff},
		{name: "backoff over: never stored is due", in: Input{Want: want, Stored: Stored{Failures: 1, NextAttempt: at(time.Minute)}, Now: at(time.Minute)}, due: true, reason: ReasonMissing},

		// Problems found before the CA, and certificates waiting to be stored.
		{name: "a problem blocks even --force", in: Input{Want: want, Stored: stored(90 * day), Now: at(80 * day), Force: true, Problem: &Problem{Reason: "too-large", Message: "m"}}, reason: "too-large", wantDue: at(60 * day)},
		{name: "a problem beats backoff", in: Input{Want: want, Stored: Stored{Failures: 3, NextAttempt: at(day)}, Now: t0, Problem: &Problem{Reason: "foreign-secret", Message: "m"}}, reason: "foreign-secret"},
		// A renamed secret (MoveFrom): the certificate found in the old secret is moved
		// when it is not due, ordered when it is, the guard counting its issuances.
		{name: "moved: not due, moved", in: Input{Want: want, Stored: stored(90 * day), Now: at(2 * day), Guard: day, MoveFrom: "old"}, due: true, reason: ReasonMoved, msgHas: "moved from secret old", wantDue: at(60 * day)},
		{name: "moved: due by lifetime, ordered", in: Input{Want: want, Stored: stored(90 * day), Now: at(61 * day), Guard: day, MoveFrom: "old"}, due: true, reason: ReasonLifetime, msgHas: "the certificate in secret old"},
		{name: "moved: expired, ordered", in: Input{Want: want, Stored: stored(90 * day), Now: at(91 * day), Guard: day, MoveFrom: "old"}, due: true, reason: ReasonExpired},
		{name: "moved: untrusted, ordered", in: Input{Want: want, Stored: stored(90 * day), Now: at(2 * day), Guard: day, MoveFrom: "old", Untrusted: &Problem{Reason: ReasonNotFromCA, Message: "no"}}, due: true, reason: ReasonNotFromCA},
		{name: "moved: revoked, ordered", in: Input{Want: want, Stored: stored(90 * day), Now: at(2 * day), Guard: day, MoveFrom: "old", Revoked: "serial 1 was revoked"}, due: true, reason: ReasonRevoked},
		{name: "moved: a key-type change counts the old secret's issuances", in: Input{Want: Want{Name: "web", Domains: names, KeyType: "rsa2048"}, Stored: stored(90 * day), Now: at(time.Hour), Guard: day, MoveFrom: "old",
			Issued: []Issued{{Key: IssuanceKey("", names), At: at(-time.Hour)}}}, reason: ReasonIssuanceGuard, msgHas: "the certificate in secret old", wantNext: at(23 * time.Hour)},
		{name: "moved: backoff holds a move that failed", in: Input{Want: want, Stored: func() Stored { s := stored(90 * day); s.Failures = 1; s.NextAttempt = at(3 * day); return s }(), Now: at(2 * day), MoveFrom: "old"}, reason: ReasonBackoff},
		{name: "moved: --force orders", in: Input{Want: want, Stored: stored(90 * day), Now: at(2 * day), Force: true, MoveFrom: "old"}, due: true, reason: ReasonForced},
		{name: "unstored beats backoff and the guard", in: Input{Want: want, Stored: func() Stored { s := stored(90 * day); s.Failures = 2; s.NextAttempt = at(70 * day); return s }(), Now: at(65 * day), Guard: 100 * day, Unstored: true}, due: true, reason: ReasonUnstored},
		{name: "unstored beats --force", in: Input{Want: want, Now: t0, Force: true, Unstored: true}, due: true, reason: ReasonUnstored},
		{name: "a change is due from the moment it is seen", in: Input{Want: Want{Name: "web", Domains: names, KeyType: "rsa2048"}, Stored: stored(90 * day), Now: at(3 * day)}, due: true, reason: ReasonKeyTypeChanged, wantDue: at(3 * day)},

		// Fixed-interval runners (a Lambda on a rate).
		{name: "90d, 60-day interval, run at day 1: due before next run", in: Input{Want: want, Stored: stored(90 * day), Now: at(day), Interval: 60 * day}, due: true, reason: ReasonInterval},
		{name: "90d, 1-day interval, day 58: not yet", in: Input{Want: want, Stored: stored(90 * day), Now: at(58 * day), Interval: day}, reason: ReasonNotDue},
		{name: "90d, 1-day interval, day 59: due before tomorrow's run", in: Input{Want: want, Stored: stored(90 * day), Now: at(59 * day), Interval: day}, due: true, reason: ReasonInterval},
		{name: "64d, 60-day interval, day 2", in: Input{Want: want, Stored: stored(64 * day), Now: at(2 * day), Interval: 60 * day}, due: true, reason: ReasonInterval},
		{name: "45d, 1-day interval, day 28", in: Input{Want: want, Stored: stored(45 * day), Now: at(28 * day), Interval: day}, reason: ReasonNotDue},
		{name: "45d, 1-day interval, day 29", in: Input{Want: want, Stored: stored(45 * day), Now: at(29 * day), Interval: day}, due: true, reason: ReasonInterval},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			d := Decide(c.in)
			if d.Due != c.due || d.Reason != c.reason {
				t.Fatalf("Decide = due %v reason %q (%s), want due %v reason %q", d.Due, d.Reason, d.Message, c.due, c.reason)
			}
			if d.Message == "" {
				t.Errorf("empty message for reason %q", d.Reason)
			}
			if c.msgHas != "" && !strings.Contains(d.Message, c.msgHas) {
				t.Errorf("message %q lacks %q", d.Message, c.msgHas)
			}
			if !c.wantNext.IsZero() && !d.NextAttempt.Equal(c.wantNext) {
				t.Errorf("NextAttempt = %s, want %s", d.NextAttempt, c.wantNext)
			}
			if !c.wantDue.IsZero() && !d.DueAt.Equal(c.wantDue) {
				t.Errorf("DueAt = %s, want %s", d.DueAt, c.wantDue)
			}
		})
	}
}

// TestARIPointIsStableAndInside checks the per-certificate point: inside the window,
// the same on every call, and different certificates spread over the window.
func TestARIPointIsStableAndInside(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	win := &Window{t0.Add(60 * 24 * time.Hour), t0.Add(62 * 24 * time.Hour)}
	seen := map[time.Time]bool{}
	for i := 0; i < 50; i++ {
		in := Input{Want: Want{Name: "c" + string(rune('a'+i))}, Stored: Stored{Exists: true, NotBefore: t0, NotAfter: t0.Add(90 * 24 * time.Hour)}, ARI: win, Now: t0}
		at, r, _ := dueTime(in, 90*24*time.Hour)
		at2, _, _ := dueTime(in, 90*24*time.Hour)
		if r != ReasonARIWindow || at.Before(win.Start) || !at.Before(win.End) || !at.Equal(at2) {
			t.Fatalf("point %s (%s) not stable inside %v", at, r, win)
		}
		seen[at] = true
	}
	if len(seen) < 45 {
		t.Fatalf("only %d distinct points for 50 certificates", len(seen))
	}
}

func TestIntervalProblem(t *testing.T) {
	t.Parallel()
	day := 24 * time.Hour
	for _, c := range []struct {
		interval, lifetime time.Duration
		bad                bool
	}{
		{60 * day, 90 * day, false}, {60 * day, 64 * day, false}, {60 * day, 45 * day, true},
		{day, 45 * day, false}, {day, 6 * day, false}, {7 * day, 6 * day, true}, {0, 6 * day, false},
	} {
		if got := IntervalProblem(c.interval, c.lifetime) != ""; got != c.bad {
			t.Errorf("IntervalProblem(%s, %s) bad=%v, want %v", c.interval, c.lifetime, got, c.bad)
		}
	}
}
