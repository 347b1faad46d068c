package renew

import (
	"github.com/certferry/certferry/acme"
	"testing"
	"time"

	"github.com/certferry/certferry/config"
	"github.com/certferry/certferry/scheduler"
	smsink "github.com/certferry/certferry/sinks/secretsmanager"
)

// limitsRunner is w.runner with acme.limits set.
func (w *world) limitsRunner(l config.Limits, cs ...Cert) *Runner {
	r := w.runner(cs...)
	r.settings.Limits = l
	return r
}

func namedCert(name, domain string) Cert {
	return Cert{Name: name, Domains: []string{domain}, KeyType: "ec256", Secret: &smsink.Target{Secret: "certferry/" + name}}
}

// A CA that backdates not_before (Let's Encrypt: by an hour; the fake CA: a minute)
// counted an order when it was placed, not at the not_before. A process that placed the
// order remembers when: once the certificate is stored, its order still counts from then,
// so the next pass does not find the window free a backdating early.
func TestLimitsStoredOrderCountsFromTheOrder(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	l := config.Limits{NewOrders: config.Limit{N: 1, Window: time.Hour}}
	t0 := w.now
	if res := only(t, w.pass(w.limitsRunner(l, namedCert("a", "a.example.com")), Options{})); res.Action != ActionIssue {
		t.Fatalf("first pass: %+v", res)
	}
	// Inside the CA's window of the first order, past the window counted from its not_before.
	w.now = t0.Add(time.Hour - 30*time.Second)
	sum := w.pass(w.limitsRunner(l, namedCert("a", "a.example.com"), namedCert("b", "b.example.com")), Options{})
	b := sum.Results[1]
	if b.Action != ActionWait || w.ca.begins != 1 {
		t.Fatalf("second pass ordered inside the CA's window: %+v, %d orders", b, w.ca.begins)
	}
	if want := t0.Add(time.Hour); b.WaitingUntil.Before(want) {
		t.Errorf("waiting until %s, before the CA's window frees at %s", b.WaitingUntil, want)
	}
}

// An order of a certificate whose secret has since been written again (forced, or its
// names changed) still counts inside its window: the secret shows only the newest.
func TestLimitsEarlierOrderOfOneSecretCounts(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	l := config.Limits{NewOrders: config.Limit{N: 2, Window: time.Hour}}
	a := namedCert("a", "a.example.com")
	w.pass(w.limitsRunner(l, a), Options{})
	w.now = w.now.Add(time.Minute)
	if res := only(t, w.pass(w.limitsRunner(l, a), Options{Force: true})); res.Action == ActionWait || w.ca.begins != 2 {
		t.Fatalf("forced pass: %+v, %d orders", res, w.ca.begins)
	}
	w.now = w.now.Add(time.Minute)
	sum := w.pass(w.limitsRunner(l, a, namedCert("b", "b.example.com")), Options{})
	if b := sum.Results[1]; b.Action != ActionWait || w.ca.begins != 2 {
		t.Fatalf("a third order inside a window of two: %+v, %d orders", b, w.ca.begins)
	}
}

// The CA's rateLimited answer outlives the process: a one-shot run (a Lambda's cold
// start, a timer's `certferry renew`) after the one that met it sends no new order
// before the Retry-After, so the runs inside one window meet one rateLimited answer,
// not one each; the certificates wait, not failing, until it. A stored certificate
// clears it.
func TestLimitsCAStopOutlivesTheProcess(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	refused := 0
	w.ca.newOrderErr = func(req acme.OrderRequest) error {
		if w.now.Before(w.ca.stopUntil) {
			refused++
			return &acme.RateLimitedError{RetryAfter: w.ca.stopUntil.Sub(w.now), Detail: "too many new orders"}
		}
		return nil
	}
	t0 := w.now
	w.ca.stopUntil = t0.Add(time.Hour)
	cs := []Cert{namedCert("a", "a.example.com"), namedCert("b", "b.example.com")}
	for run := range 3 {
		w.mem = NewMemory() // a new process
		sum := w.pass(w.runner(cs...), Options{})
		for _, r := range sum.Results {
			if r.Action != ActionWait || r.Condition != ConditionDue || r.WaitingUntil.Before(w.ca.stopUntil) {
				t.Errorf("run %d: %s: %s %s until %s, want waiting until %s", run, r.Name, r.Action, r.Condition, r.WaitingUntil, w.ca.stopUntil)
			}
		}
		if sum.Failing() != 0 {
			t.Errorf("run %d: %d failing", run, sum.Failing())
		}
		w.now = w.now.Add(10 * time.Minute)
	}
	if refused != 1 {
		t.Errorf("%d rateLimited answers in three runs inside one Retry-After, want 1", refused)
	}
	w.now = t0.Add(time.Hour + time.Second)
	w.mem = NewMemory()
	sum := w.pass(w.runner(cs...), Options{})
	for _, r := range sum.Results {
		if r.Action != ActionIssue {
			t.Errorf("after the Retry-After: %s: %s %q", r.Name, r.Action, r.Message)
		}
	}
	for _, c := range cs {
		if v := w.secrets.tags(c.Secret.Secret)[smsink.TagCAWait]; v != "" {
			t.Errorf("%s: %s=%q left after the certificate was stored", c.Name, smsink.TagCAWait, v)
		}
	}
}

// Without acme.limits nothing reads the ledger, and it keeps nothing: a daemon ordering
// from a CA without known limits must not grow it for as long as it runs.
func TestLimitsLedgerEmptyWithoutLimits(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	a := namedCert("a", "a.example.com")
	for range 3 {
		w.pass(w.runner(a), Options{Force: true})
		w.now = w.now.Add(time.Minute)
	}
	if n := len(w.mem.limits.entries("https://ca.test/dir", w.now, 24*time.Hour)); n != 0 {
		t.Errorf("%d ledger entries without limits, want none", n)
	}
	// With limits, only what is inside the longest window is kept.
	l := config.Limits{NewOrders: config.Limit{N: 100, Window: 90 * time.Second}}
	for range 3 {
		w.pass(w.limitsRunner(l, a), Options{Force: true})
		w.now = w.now.Add(time.Minute)
	}
	w.mem.limits.mu.Lock()
	n := len(w.mem.limits.ledger["https://ca.test/dir"])
	w.mem.limits.mu.Unlock()
	if n > 2 {
		t.Errorf("%d ledger entries kept, want at most the 2 inside the window", n)
	}
}

// A Retry-After longer than any limit's window (a year: a garbled or hostile answer)
// stops new orders for at most maxCAStop, in the process and for the runners after it
// alike, and the refused certificates say so.
func TestLimitsCAStopBounded(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.ca.newOrderErr = func(acme.OrderRequest) error {
		return &acme.RateLimitedError{RetryAfter: 365 * 24 * time.Hour, Detail: "come back next year"}
	}
	cs := []Cert{namedCert("a", "a.example.com"), namedCert("b", "b.example.com")}
	sum := w.pass(w.runner(cs...), Options{})
	bound := w.now.Add(maxCAStop + time.Second)
	for _, r := range sum.Results {
		if r.Action != ActionWait || r.WaitingUntil.After(bound) {
			t.Errorf("%s: %s until %s, want waiting until at most %s", r.Name, r.Action, r.WaitingUntil, bound)
		}
	}
	if u := w.mem.limits.stoppedUntil("https://ca.test/dir").until; u.After(bound) {
		t.Errorf("the process stops new orders until %s, past %s", u, bound)
	}
}

// The daemon runs its next pass when the summary says the wait ends: that pass orders
// (the stop recorded with the certificate, in whole seconds, ends no later), rather than
// finding it a fraction of a second away and waiting out schedule.min_period again.
func TestLimitsCAStopEndsWhenTheSummarySays(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.now = w.now.Truncate(time.Second).Add(300 * time.Millisecond)
	w.ca.stopUntil = w.now.Add(90 * time.Second)
	w.ca.newOrderErr = func(acme.OrderRequest) error {
		if w.now.Before(w.ca.stopUntil) {
			return &acme.RateLimitedError{RetryAfter: w.ca.stopUntil.Sub(w.now), Detail: "too many new orders"}
		}
		return nil
	}
	r := w.runner(namedCert("a", "a.example.com"))
	sum := w.pass(r, Options{})
	if sum.Waiting() != 1 {
		t.Fatalf("first pass: %d waiting, want 1", sum.Waiting())
	}
	w.now = sum.WaitUntil()
	if res := only(t, w.pass(r, Options{})); res.Action != ActionIssue || res.Bundle == nil {
		t.Errorf("the pass at the end of the wait (%s): %s %q", w.now, res.Action, res.Message)
	}
}

// The stop recorded with one certificate holds a run of others: `renew --only b` after
// a run that met rateLimited ordering a sends nothing before the Retry-After.
func TestLimitsCAStopHoldsOnly(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	refused := 0
	w.ca.stopUntil = w.now.Add(time.Hour)
	w.ca.newOrderErr = func(acme.OrderRequest) error {
		if w.now.Before(w.ca.stopUntil) {
			refused++
			return &acme.RateLimitedError{RetryAfter: w.ca.stopUntil.Sub(w.now), Detail: "too many new orders"}
		}
		return nil
	}
	cs := []Cert{namedCert("a", "a.example.com"), namedCert("b", "b.example.com")}
	w.pass(w.runner(cs...), Options{Only: []string{"a"}})
	w.mem = NewMemory() // a new process
	w.now = w.now.Add(time.Minute)
	if res := only(t, w.pass(w.runner(cs...), Options{Only: []string{"b"}})); res.Action != ActionWait {
		t.Errorf("b: %s %q, want waiting for the CA's Retry-After", res.Action, res.Message)
	}
	if refused != 1 {
		t.Errorf("%d rateLimited answers, want 1", refused)
	}
}

// TestLimitsStaleTagsCountedApart: a certificate counts once by its serial only where the
// serial is bound to the secret's value (certferry:sum). A secret whose tags no longer
// describe its value (a write interrupted before its tags, a hand edit) holds another
// certificate than the serial its tags name: it counts on its own. Merged by that stale
// serial with a moved copy of the old certificate, the newer one counted for nothing.
func TestLimitsStaleTagsCountedApart(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	r := w.runner(namedCert("a", "a.example.com"))
	t0 := w.now.Add(-time.Hour)
	names := []string{"a.example.com"}
	moved := &work{cert: namedCert("a", "a.example.com"), res: &Result{Serial: "01"},
		in: scheduler.Input{Stored: scheduler.Stored{Exists: true, Domains: names, NotBefore: t0}}}
	inv := map[string]smsink.Stored{
		"certferry/a-old": {Secret: "certferry/a-old", Serial: "01", Domains: names, NotBefore: t0, TagsCurrent: false},
		"certferry/a-two": {Secret: "certferry/a-two", Serial: "01", Domains: names, NotBefore: t0, TagsCurrent: true},
	}
	if got := r.issuances([]*work{moved}, inv, w.now); len(got) != 2 {
		t.Errorf("%d issuances, want 2: the moved certificate once, and the secret whose tags are stale", len(got))
	}
}
