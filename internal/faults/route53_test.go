package faults_test

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsroute53 "github.com/aws/aws-sdk-go-v2/service/route53"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"

	"github.com/certferry/certferry/internal/e2etest"
	"github.com/certferry/certferry/internal/sandbox"
	"github.com/certferry/certferry/internal/sandbox/calls"
	"github.com/certferry/certferry/providers/route53"
	"github.com/certferry/certferry/renew"
)

// challengeRecord returns the _acme-challenge set of the zone, if any.
func (e *env) challengeRecord(zone string) (name string, values []string, ttl int64, ok bool) {
	for _, rs := range e.SB.Route53().Records(zone) {
		if strings.HasPrefix(rs.Name, "_acme-challenge.") && rs.Type == "TXT" {
			return rs.Name, rs.Values, rs.TTL, true
		}
	}
	return "", nil, 0, false
}

// Scenario 1: Throttling and PriorRequestNotComplete on every Route 53 call of the
// pass, beyond the SDK's own retries, while presenting and while cleaning up: the
// provider's retries absorb them, the pass succeeds and the record is removed.
func TestRoute53ThrottledMidPass(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{})
	a := e.App(t, e.Config(t, webCert))
	c := e.SB.Calls()
	throttle := calls.Fault{Code: "Throttling", Status: 400, Message: "Rate exceeded"}
	prior := calls.Fault{Code: "PriorRequestNotComplete", Status: 400, Message: "The request was rejected because Route 53 was still processing a prior request."}
	// Present: 4 throttled attempts, one more than the client's retryer would make: the
	// provider's own per-call retryer (8 attempts) outlasts them.
	c.FailNext("route53", "ChangeResourceRecordSets", 4, throttle)
	c.FailNext("route53", "GetChange", 2, prior)
	c.FailNext("route53", "GetChange", 2, throttle)
	zone := e.Info.Zones["example.com."]
	var wg sync.WaitGroup
	wg.Go(func() {
		// Cleanup: once the record is published, the next change (the DELETE) and the
		// reads before it are throttled too.
		e2etest.Eventually(t, e.PassBound(), "record published", func() bool { _, _, _, ok := e.challengeRecord(zone); return ok })
		c.FailNext("route53", "ListResourceRecordSets", 4, throttle)
		c.FailNext("route53", "ChangeResourceRecordSets", 2, prior)
		c.FailNext("route53", "ChangeResourceRecordSets", 2, throttle)
	})
	sum := e.Pass(t, a, renew.Options{})
	wg.Wait()
	if r := result(t, sum, "web"); r.Err() != nil || r.Action != renew.ActionIssue {
		t.Fatalf("pass: %+v", r)
	}
	// 1 present + 1 cleanup, plus the 8 faulted attempts.
	if n := c.Count("route53", "ChangeResourceRecordSets"); n != 10 {
		t.Errorf("ChangeResourceRecordSets calls = %d, want 10", n)
	}
	e.Stored(t, "certferry/web", "AWSCURRENT")
	if e.orders() != 1 {
		t.Errorf("%d orders, want 1", e.orders())
	}
	if strings.Contains(e.logs.String(), "left behind") {
		t.Error("a record was reported left behind")
	}
}

// Scenario 2: a change that never reaches INSYNC (the stand-ins' clock stops) fails the
// certificate with a timeout naming the change after route53.insync_timeout; the
// authorizations are deactivated, the record removed, and the certificate of the
// previous pass stays AWSCURRENT.
func TestRoute53NeverInsync(t *testing.T) {
	t.Parallel()
	clk := &e2etest.Clock{} // the AWS stand-ins' clock: real time, until frozen
	e := newEnv(t, sandbox.Options{Now: clk.Now})
	// Pass 1 waits for INSYNC with the default timeout (minutes): a short one would race
	// the GetChange polling on a loaded machine. Pass 2's 2 s is the quantity under test.
	const insyncTimeout = 2 * time.Second
	first := e.Pass(t, e.App(t, e.Config(t, webCert)), renew.Options{})
	if r := result(t, first, "web"); r.Err() != nil {
		t.Fatalf("pass 1: %v", r.Err())
	}
	old := e.Stored(t, "certferry/web", "AWSCURRENT")

	clk.Freeze()
	authz := e.SB.Calls().Count("acme", "Authorization")
	start := time.Now()
	sum := e.Pass(t, e.App(t, e.Config(t, "route53:\n  insync_timeout: "+insyncTimeout.String()+"\n"+webCert)), renew.Options{Force: true})
	r := result(t, sum, "web")
	if !errors.Is(r.Err(), route53.ErrInsyncTimeout) || !strings.Contains(r.Error, "change ") || !strings.Contains(r.Error, "still PENDING after "+insyncTimeout.String()) {
		t.Fatalf("pass 2: error %v, want an INSYNC timeout naming the change", r.Err())
	}
	// The pass gives up at the timeout, not after the default minutes: even a loaded
	// machine finishes the rest of the pass well inside 15 times the timeout.
	if d := time.Since(start); d > 15*insyncTimeout {
		t.Errorf("pass took %s with a %s INSYNC timeout", d, insyncTimeout)
	}
	// Begin fetches the authorization once; the abandon POSTs its deactivation.
	if n := e.SB.Calls().Count("acme", "Authorization") - authz; n < 2 || strings.Contains(e.logs.String(), "could not deactivate") {
		t.Errorf("authorization requests in the failed pass = %d; deactivation failed: %v", n, strings.Contains(e.logs.String(), "could not deactivate"))
	}
	if cur := e.Stored(t, "certferry/web", "AWSCURRENT"); cur.Serial != old.Serial {
		t.Errorf("AWSCURRENT moved to %s", cur.Serial)
	}
	if n := e.orders(); n != 2 {
		t.Errorf("orders = %d, want 2", n)
	}
}

// Scenario 3: the record is deleted out of band after validation and before cleanup;
// the cleanup counts it as done and the pass succeeds.
func TestRoute53RecordGoneBeforeCleanup(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{})
	a := e.App(t, e.Config(t, webCert))
	zone := e.Info.Zones["example.com."]
	c := e.SB.Calls()
	// Hold the finalize a moment: by then the challenge is validated and the cleanup has
	// not started.
	c.FailNext("acme", "Finalize", 1, calls.Fault{Hang: time.Second})
	var wg sync.WaitGroup
	var delErr error
	wg.Go(func() {
		e2etest.Eventually(t, e.PassBound(), "finalize", func() bool { return c.Count("acme", "Finalize") > 0 })
		name, values, ttl, ok := e.challengeRecord(zone)
		if !ok {
			delErr = errors.New("no record to delete")
			return
		}
		rrs := make([]r53types.ResourceRecord, len(values))
		for i, v := range values {
			rrs[i] = r53types.ResourceRecord{Value: aws.String(v)}
		}
		_, delErr = e.r53.ChangeResourceRecordSets(t.Context(), &awsroute53.ChangeResourceRecordSetsInput{
			HostedZoneId: aws.String(zone),
			ChangeBatch: &r53types.ChangeBatch{Changes: []r53types.Change{{Action: r53types.ChangeActionDelete,
				ResourceRecordSet: &r53types.ResourceRecordSet{Name: aws.String(name), Type: r53types.RRTypeTxt, TTL: aws.Int64(ttl), ResourceRecords: rrs}}}},
		})
	})
	changes := c.Count("route53", "ChangeResourceRecordSets")
	sum := e.Pass(t, a, renew.Options{})
	wg.Wait()
	if delErr != nil {
		t.Fatalf("out-of-band delete: %v", delErr)
	}
	if r := result(t, sum, "web"); r.Err() != nil {
		t.Fatalf("pass: %v", r.Err())
	}
	// Our present and the out-of-band delete; the cleanup found nothing to change.
	if n := c.Count("route53", "ChangeResourceRecordSets") - changes; n != 2 {
		t.Errorf("ChangeResourceRecordSets calls = %d, want 2", n)
	}
	if strings.Contains(e.logs.String(), "left behind") {
		t.Error("the gone record was reported left behind")
	}
	e.Stored(t, "certferry/web", "AWSCURRENT")
}
