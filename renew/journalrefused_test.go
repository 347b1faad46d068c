package renew

import (
	"strings"
	"testing"

	smsink "github.com/certferry/certferry/sinks/secretsmanager"
)

// A journal write refused once (a role that lost secretsmanager:TagResource for a
// moment) abandons the order unpublished; the entry it could not write is not written
// later with the pass's other state: no order of it was published, and it held a slot
// of the journal until its needed-until time.
func TestPassRefusedJournalEntryNotWrittenLater(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	only(t, w.pass(w.runner(webCert()), Options{}))
	w.secrets.failTags = 1 // the journal's write; the failure's state write goes through
	res := only(t, w.pass(w.runner(webCert()), Options{Force: true}))
	if res.Action != ActionFailed || !strings.Contains(res.Error, "not published") {
		t.Fatalf("forced pass with the journal's write refused: %+v", res)
	}
	if w.dns.presents != 1 {
		t.Errorf("%d publications, want the first issuance's only", w.dns.presents)
	}
	tags := w.secrets.tags("certferry/web")
	for n := range smsink.JournalSlots {
		if v := tags[smsink.JournalTag(n)]; v != "" {
			t.Errorf("journal slot %d holds %q, an order never published", n, v)
		}
	}
	if tags[smsink.TagNextAttempt] == "" {
		t.Errorf("the failure's backoff was not written: %v", tags)
	}
}
