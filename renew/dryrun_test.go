package renew

import (
	"context"
	"maps"
	"sync/atomic"
	"testing"
	"time"

	"github.com/certferry/certferry/acme"
	"github.com/certferry/certferry/hooks"
)

// countingHook counts its runs.
type countingHook struct{ runs atomic.Int32 }

func (h *countingHook) Name() string                           { return "exec:/count" }
func (h *countingHook) Run(context.Context, hooks.Event) error { h.runs.Add(1); return nil }

// requests records the order requests a pass makes.
type requests struct {
	ACME
	got []acme.OrderRequest
}

func (r *requests) Begin(ctx context.Context, req acme.OrderRequest) (*acme.Order, error) {
	r.got = append(r.got, req)
	return r.ACME.Begin(ctx, req)
}

// A dry run orders and verifies a certificate that is not due, and changes nothing: no
// store, no state tag, no hook (on success or failure), no record left, no "replaces";
// what it learnt or failed stays out of the process's Memory, so the next real pass
// sees neither a backoff nor anything to store.
func TestPassDryRunChangesNothing(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	onRenew, onFailure := &countingHook{}, &countingHook{}
	c := webCert()
	c.OnRenew, c.OnFailure = []hooks.Hook{onRenew}, []hooks.Hook{onFailure}
	r := w.runner(c)
	if res := only(t, w.pass(r, Options{})); res.Action != ActionIssue || onRenew.runs.Load() != 1 {
		t.Fatalf("first pass: %+v", res)
	}
	rec := &requests{ACME: w.ca}
	r.deps.ACME = func(context.Context) (ACME, error) { return rec, nil }
	tags, saves := w.secrets.tags("certferry/web"), w.secrets.saves

	w.now = w.now.Add(time.Hour)
	sum := w.pass(r, Options{DryRun: true})
	res := only(t, sum)
	if res.Action != ActionDryRun || res.Err() != nil || res.Bundle != nil || !sum.DryRun || len(rec.got) != 1 || rec.got[0].Replaces != "" {
		t.Fatalf("dry run: %+v, requests %+v", res, rec.got)
	}
	// A failed dry run: no backoff, no on_failure hook.
	w.ca.failComplete = 1
	if res := only(t, w.pass(r, Options{DryRun: true})); res.Err() == nil || res.Action != ActionFailed {
		t.Fatalf("failed dry run: %+v", res)
	}
	if w.secrets.saves != saves || !maps.Equal(w.secrets.tags("certferry/web"), tags) {
		t.Errorf("the dry runs wrote: %d saves (was %d), tags %v (were %v)", w.secrets.saves, saves, w.secrets.tags("certferry/web"), tags)
	}
	if onRenew.runs.Load() != 1 || onFailure.runs.Load() != 0 || w.dns.left() != 0 || w.mem.stateTags("web") != nil || w.mem.hasUnstored("web") {
		t.Errorf("hooks %d/%d, %d records left, memory %v", onRenew.runs.Load(), onFailure.runs.Load(), w.dns.left(), w.mem.stateTags("web"))
	}
	if res := only(t, w.pass(r, Options{})); res.Action != ActionSkip || res.Condition != ConditionReady {
		t.Errorf("the real pass after the dry runs: %+v", res)
	}
}

// TrustChainTop verifies an issued chain up to its own top certificate, without roots.
func TestPassDryRunTrustChainTop(t *testing.T) {
	t.Parallel()
	for _, trust := range []bool{false, true} {
		w := newWorld(t)
		r := w.runner(webCert())
		r.settings.Roots, r.settings.TrustChainTop = nil, trust
		res := only(t, w.pass(r, Options{DryRun: true}))
		if ok := res.Action == ActionDryRun; ok != trust {
			t.Errorf("TrustChainTop %v: %+v", trust, res)
		}
	}
}
