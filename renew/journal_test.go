package renew

import (
	"testing"
	"time"

	"github.com/certferry/certferry/acme"
	smsink "github.com/certferry/certferry/sinks/secretsmanager"
)

// The forced sweep of a runner that has just taken a certificate's lease removes every
// record its journal holds, but only the order tells which: when the CA does not answer
// the read (a timeout, a badNonce lego gave up on), the entry stays for a later pass,
// records untouched. It was dropped, its records left in the zone for good, and the
// runner whose lease had expired still found its value there and was validated. An
// entry whose own time has passed is dropped unread as before.
func TestSweepForcedKeepsAnEntryItCannotRead(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	r := w.runner(webCert())
	w.pass(r, Options{})
	const fqdn = "_acme-challenge.www.example.com."
	w.dns.Present(t.Context(), []Record{{FQDN: fqdn, Value: "live"}, {FQDN: fqdn, Value: "dead"}})
	// Neither order is known to the fake CA: reading either fails.
	w.secrets.setState(t, "certferry/web", "web", map[string]string{
		smsink.JournalTag(0): smsink.FormatTime(w.now.Add(time.Hour)) + " https://ca.test/order/unanswered",
		smsink.JournalTag(1): smsink.FormatTime(w.now.Add(-time.Minute)) + " https://ca.test/order/gone",
	})
	sw := &work{cert: webCert(), res: &Result{Name: "web"}}
	sw.state = newState(&secretState{secrets: w.secrets, target: *sw.cert.Secret, name: "web", found: w.secrets.tags("certferry/web"), mem: NewMemory()},
		false, r.deps.Now)
	if !r.sweepJournal(t.Context(), sw, true) {
		t.Fatal("sweep reports the CA unreachable")
	}
	tags := sw.state.tags()
	if tags[smsink.JournalTag(0)] == "" {
		t.Errorf("the entry whose order could not be read was dropped before its time: %v", tags)
	}
	if tags[smsink.JournalTag(1)] != "" {
		t.Errorf("the entry past its time was kept: %v", tags)
	}
	if vals := w.dns.values[fqdn]; !vals["live"] || !vals["dead"] {
		t.Errorf("values %v: a sweep that read no order removed records", vals)
	}

	// Once the CA answers, the next forced sweep removes the pending record at once.
	w.ca.orders["https://ca.test/order/unanswered"] = []acme.OrderRecord{{Challenge: acme.Challenge{FQDN: fqdn, Value: "live"}, Pending: true}}
	if !r.sweepJournal(t.Context(), sw, true) {
		t.Fatal("second sweep reports the CA unreachable")
	}
	if tags := sw.state.tags(); tags[smsink.JournalTag(0)] != "" {
		t.Errorf("entry left after a forced sweep that read its order: %v", tags)
	}
	if w.dns.values[fqdn]["live"] {
		t.Error("the forced sweep left the pending record")
	}
}
