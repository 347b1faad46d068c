package renew_test

import (
	"strings"
	"testing"
	"time"

	"github.com/certferry/certferry/internal/sandbox"
	"github.com/certferry/certferry/internal/sandbox/acmesim"
	"github.com/certferry/certferry/renew"
	"github.com/certferry/certferry/scheduler"
)

// TestE2EShorterProfileStored: a deliberate change to a shorter-lived profile (default
// to shortlived) is renewed on the next pass and the shorter certificate is stored on
// that first attempt (the shorter-lifetime guard is for accidents, not for changes);
// the pass after it orders nothing.
func TestE2EShorterProfileStored(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{})
	const yaml = `issuance_guard: 0s
certificates:
  - name: web
    domains: [www.example.com]
    profile: %s
    sinks:
      secretsmanager: { secret: certferry/web }
`
	cfg := func(profile string) string { return strings.Replace(yaml, "%s", profile, 1) }
	wantOK(t, e.Pass(t, e.App(t, e.Config(t, cfg("default"))), renew.Options{}), "web", renew.ActionIssue, scheduler.ReasonMissing)
	long := e.Stored(t, "certferry/web", "AWSCURRENT")

	short := e.App(t, e.Config(t, cfg(acmesim.ProfileShortLived)))
	e.SB.Calls().Reset()
	wantOK(t, e.Pass(t, short, renew.Options{}), "web", renew.ActionRenew, scheduler.ReasonProfileChanged)
	s := e.Stored(t, "certferry/web", "AWSCURRENT")
	if got := s.Leaf.NotAfter.Sub(s.Leaf.NotBefore); s.Serial == long.Serial || got > acmesim.ShortLivedValidity+time.Minute || !s.Leaf.NotAfter.Before(long.Leaf.NotAfter) {
		t.Fatalf("stored %s lasting %s (was %s until %s); want the shortlived one", s.Serial, got, long.Serial, long.Leaf.NotAfter)
	}
	if n := e.SB.Calls().Count("acme", "NewOrder"); n != 1 {
		t.Errorf("%d orders for the change, want 1", n)
	}
	e.SB.Calls().Reset()
	wantOK(t, e.Pass(t, short, renew.Options{}), "web", renew.ActionSkip, scheduler.ReasonNotDue)
	if n := e.SB.Calls().Count("acme", "NewOrder"); n != 0 {
		t.Errorf("the pass after the change ordered %d time(s)", n)
	}
}
