package renew

import (
	"testing"
	"time"

	"github.com/certferry/certferry/config"
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
