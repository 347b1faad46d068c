package renew_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/certferry/certferry/internal/app"
	"github.com/certferry/certferry/internal/e2etest"
	"github.com/certferry/certferry/internal/sandbox"
	"github.com/certferry/certferry/internal/sandbox/calls"
	"github.com/certferry/certferry/internal/testwait"
	"github.com/certferry/certferry/lease"
	"github.com/certferry/certferry/renew"
	"github.com/certferry/certferry/scheduler"
)

// coordination turns the lease on, on the sandbox's lease table.
func coordination(e *env, d time.Duration) string {
	return fmt.Sprintf("coordination:\n  dynamodb_table: %s\n  lease_duration: %s\n", e.Info.LeaseTable, d)
}

func twelveCerts() string {
	var entries []string
	for i := range 12 {
		entries = append(entries, certYAML(fmt.Sprintf("c%02d", i), fmt.Sprintf("c%02d.example.com", i)))
	}
	return certsYAML(entries...)
}

// TestE2ECoordinationOneOrderEach: three runners (each its own app and lease holder)
// pass at once over twelve due certificates with coordination: exactly twelve orders,
// no failure, each certificate renewed by one runner and reported elsewhere by the
// others, and every secret holds one valid certificate. The leases are released.
func TestE2ECoordinationOneOrderEach(t *testing.T) {
	if raceEnabled {
		t.Skip("Pebble v2.10.3 races on concurrent newAccount of one key (inside pebble); make test runs this without -race")
	}
	t.Parallel()
	e := newEnv(t, sandbox.Options{})
	cfg := e.Config(t, coordination(e, 30*time.Second)+twelveCerts())
	sums := make([]*renew.Summary, 3)
	errs := make([]error, 3)
	ctx, cancel := context.WithTimeout(t.Context(), 2*e.PassBound())
	defer cancel()
	var wg sync.WaitGroup
	for i := range sums {
		a := e.App(t, cfg)
		wg.Add(1)
		go func() {
			defer wg.Done()
			sums[i], errs[i] = a.Runner.Pass(ctx, renew.Options{})
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatalf("Pass: %v", err)
		}
	}
	e.NoChallengeLeft(t)
	if n := e.SB.Calls().Count("acme", "NewOrder"); n != 12 {
		t.Errorf("acme.NewOrder = %d, want 12", n)
	}
	issued := map[string]int{}
	for _, sum := range sums {
		for _, r := range sum.Results {
			switch {
			case r.Err() != nil || r.Condition == renew.ConditionFailing:
				t.Errorf("%s: %s %s", r.Name, r.Action, r.Error)
			case r.Action == renew.ActionIssue:
				issued[r.Name]++
			case r.Action == renew.ActionElsewhere:
				if !strings.HasPrefix(r.Message, "renewing elsewhere (") {
					t.Errorf("%s: message %q", r.Name, r.Message)
				}
			}
		}
		if sum.Failing() != 0 {
			t.Errorf("a runner reports %d failing", sum.Failing())
		}
	}
	for i := range 12 {
		name := fmt.Sprintf("c%02d", i)
		if issued[name] != 1 {
			t.Errorf("%s issued %d times, want once", name, issued[name])
		}
		e.Stored(t, "certferry/"+name, "AWSCURRENT")
		if n := e.VersionCount(t, "certferry/"+name); n != 1 {
			t.Errorf("%s: %d versions, want 1", name, n)
		}
	}
	if n := e.SB.DynamoDB().Items(e.Info.LeaseTable); n != 0 {
		t.Errorf("%d leases left after the passes, want 0", n)
	}
	// An idle pass makes no DynamoDB call.
	e.SB.Calls().Reset()
	e.Pass(t, e.App(t, cfg), renew.Options{})
	if n := e.SB.Calls().ServiceTotal("dynamodb"); n != 0 {
		t.Errorf("an idle pass made %d DynamoDB calls", n)
	}
}

// TestE2EAlreadyReplacedRenewedElsewhere: without coordination, runner B reads the
// inventory and orders a renewal naming the stored certificate in "replaces"; runner A
// renews and stores it first. The CA answers B alreadyReplaced: B reads the secret again,
// finds A's certificate and stops ("renewed elsewhere", not failing). No order without
// replaces is made.
func TestE2EAlreadyReplacedRenewedElsewhere(t *testing.T) {
	skipPebbleReplacesRace(t)
	t.Parallel()
	e := newEnv(t, sandbox.Options{})
	cfg := e.Config(t, certsYAML(certYAML("web", "www.example.com")))
	wantOK(t, e.Pass(t, e.App(t, cfg), renew.Options{}), "web", renew.ActionIssue, scheduler.ReasonMissing)
	a, b := e.App(t, cfg), e.App(t, cfg)

	gate := make(chan struct{})
	e.SB.Calls().Reset()
	e.SB.Calls().FailNext("acme", "NewOrder", 1, calls.Fault{Gate: gate})
	ctx, cancel := context.WithTimeout(t.Context(), 2*e.PassBound())
	defer cancel()
	var sumB *renew.Summary
	var errB error
	done := make(chan struct{})
	go func() {
		defer close(done)
		sumB, errB = b.Runner.Pass(ctx, renew.Options{Force: true})
	}()
	e2etest.Eventually(t, e.PassBound(), "B's order held at the CA", func() bool { return e.SB.Calls().Count("acme", "NewOrder") == 1 })
	wantOK(t, e.Pass(t, a, renew.Options{Force: true}), "web", renew.ActionRenew, scheduler.ReasonForced)
	renewedByA := e.Stored(t, "certferry/web", "AWSCURRENT")
	close(gate)
	<-done
	if errB != nil {
		t.Fatal(errB)
	}
	e.NoChallengeLeft(t)
	r := result(t, sumB, "web")
	if r.Action != renew.ActionRenewedElsewhere || r.Err() != nil || r.Condition != renew.ConditionReady || !strings.HasPrefix(r.Message, "renewed elsewhere") {
		t.Errorf("B: action %q condition %q message %q error %v; want renewed elsewhere, ready", r.Action, r.Condition, r.Message, r.Err())
	}
	if n := e.SB.Calls().Count("acme", "NewOrder"); n != 2 {
		t.Errorf("acme.NewOrder = %d, want 2 (A's, B's refused one): no order without replaces", n)
	}
	if cur := e.Stored(t, "certferry/web", "AWSCURRENT"); cur.Serial != renewedByA.Serial {
		t.Errorf("AWSCURRENT %s, want A's %s", cur.Serial, renewedByA.Serial)
	}
	if n := e.VersionCount(t, "certferry/web"); n != 2 {
		t.Errorf("%d versions, want 2", n)
	}
}

// TestE2ELeaseHeldOrUnavailable: a certificate whose lease another runner holds is
// shown "renewing elsewhere" by --plan and skipped by a pass (due, not failing, no
// order); when DynamoDB answers errors, the certificate fails before any order.
func TestE2ELeaseHeldOrUnavailable(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{})
	cfg := e.Config(t, coordination(e, time.Minute)+certsYAML(certYAML("web", "www.example.com")))
	other, err := lease.New(lease.Options{Client: dynamodb.NewFromConfig(e.AWS), Table: e.Info.LeaseTable, Duration: time.Minute, Holder: "bastion-2/42/abcdef"})
	if err != nil {
		t.Fatal(err)
	}
	held, err := other.Take(t.Context(), "web")
	if err != nil {
		t.Fatal(err)
	}
	a := e.App(t, cfg)
	for _, opts := range []renew.Options{{Plan: true}, {}} {
		r := result(t, e.Pass(t, a, opts), "web")
		if r.Action != renew.ActionElsewhere || r.Err() != nil || r.Condition != renew.ConditionDue ||
			!strings.HasPrefix(r.Message, "renewing elsewhere (bastion-2/42/abcdef, until ") {
			t.Errorf("plan %v: action %q condition %q message %q error %v", opts.Plan, r.Action, r.Condition, r.Message, r.Err())
		}
	}
	if n := e.SB.Calls().Count("acme", "NewOrder"); n != 0 {
		t.Errorf("%d orders for a certificate renewing elsewhere", n)
	}
	if err := held.Release(t.Context()); err != nil {
		t.Fatal(err)
	}

	e.SB.Calls().FailNext("dynamodb", "UpdateItem", 1<<10, calls.Fault{Code: "ServiceUnavailable"})
	r := result(t, e.Pass(t, a, renew.Options{}), "web")
	if r.Err() == nil || !strings.Contains(r.Error, "lease: take web: ") || r.Condition != renew.ConditionFailing {
		t.Errorf("DynamoDB down: action %q condition %q error %q", r.Action, r.Condition, r.Error)
	}
	if n := e.SB.Calls().Count("acme", "NewOrder"); n != 0 {
		t.Errorf("%d orders without a lease", n)
	}
	e.SB.Calls().DropFaults()
}

// TestE2ELostLeaseFailureAfterRenewalElsewhere: runner A holds the lease and waits at the
// CA with its records published; its lease is lost (the item is gone, as after A paused
// past its expiry), B takes it over, sweeps A's records, renews and stores. A resumes,
// and its validation fails (its records were swept). That failure comes after another
// runner renewed the certificate: A reports it renewed elsewhere, records no failure,
// and the certificate stays ready for every runner (status, /healthz), not failing.
//
// Pebble v2.10.3 reuses a valid authorization about once in a hundred orders even when
// told never to (see TestE2ESecretsManagerCalls): the first issuance's. An order of A
// that reuses it answers no challenge and A's pass just renews: that step is run again.
// An order of B that reuses it answers no challenge either, so B publishes nothing and
// waits for no INSYNC: its pass ended within the sandbox's INSYNC delay of the sweep's
// change, before the CA's DNS served the sweep, and A was validated and lost the race at
// the store (safe, and not this scenario). That step is run again as well; B's own
// records, once INSYNC, come after the sweep's change, which is served by then.
func TestE2ELostLeaseFailureAfterRenewalElsewhere(t *testing.T) {
	skipPebbleReplacesRace(t)
	t.Parallel()
	e := newEnv(t, sandbox.Options{})
	cfg := e.Config(t, coordination(e, 30*time.Second)+certsYAML(certYAML("web", "www.example.com")))
	wantOK(t, e.Pass(t, e.App(t, cfg), renew.Options{}), "web", renew.ActionIssue, scheduler.ReasonMissing)
	a, b := e.App(t, cfg), e.App(t, cfg)

	gate := make(chan struct{})
	e.SB.Calls().Reset()
	e.SB.Calls().FailNext("acme", "Challenge", 1, calls.Fault{Gate: gate})
	defer e.SB.Calls().DropFaults()
	var sumA *renew.Summary
	var errA error
	var done chan struct{}
	var opened sync.Once
	openGate := func() { opened.Do(func() { close(gate) }) }
	defer func() {
		// On every way out A's pass ends before the test does (and the sandbox with it).
		openGate()
		if done != nil {
			<-done
		}
	}()
	// holdA starts A's pass and waits until its challenge is held at the CA; false: the
	// pass ended first, having answered no challenge (its order reused an authorization).
	// A's pass lasts as long as B's, run twice at most, and its own.
	holdA := func() bool {
		ctx, cancel := context.WithTimeout(t.Context(), 3*e.PassBound())
		t.Cleanup(cancel)
		done = make(chan struct{})
		go func(done chan struct{}) {
			defer close(done)
			sumA, errA = a.Runner.Pass(ctx, renew.Options{Force: true})
		}(done)
		ended := func() bool {
			select {
			case <-done:
				return true
			default:
				return false
			}
		}
		e2etest.Eventually(t, e.PassBound(), "A's challenge held at the CA", func() bool {
			return e.SB.Calls().Count("acme", "Challenge") == 1 || ended()
		})
		if e.SB.Calls().Count("acme", "Challenge") == 1 {
			return true
		}
		if errA != nil {
			t.Fatal(errA)
		}
		wantOK(t, sumA, "web", renew.ActionRenew, scheduler.ReasonForced)
		return false
	}
	if !holdA() {
		t.Logf("A: the CA reused a valid authorization (no challenge answered); once more")
		if !holdA() {
			t.Fatal("A: the CA reused a valid authorization twice in a row")
		}
	}
	db := dynamodb.NewFromConfig(e.AWS)
	if _, err := db.DeleteItem(t.Context(), &dynamodb.DeleteItemInput{TableName: &e.Info.LeaseTable,
		Key: map[string]ddbtypes.AttributeValue{lease.KeyAttribute: &ddbtypes.AttributeValueMemberS{Value: "web"}}}); err != nil {
		t.Fatal(err)
	}
	wantOK(t, e.Pass(t, b, renew.Options{Force: true}), "web", renew.ActionRenew, scheduler.ReasonForced)
	if e.SB.Calls().Count("acme", "Challenge") == 1 {
		// B answered no challenge: A's (held) is the only one.
		t.Logf("B: the CA reused a valid authorization (no challenge answered, no INSYNC waited after the sweep); once more")
		wantOK(t, e.Pass(t, b, renew.Options{Force: true}), "web", renew.ActionRenew, scheduler.ReasonForced)
		if e.SB.Calls().Count("acme", "Challenge") == 1 {
			t.Fatal("B: the CA reused a valid authorization twice in a row")
		}
	}
	renewedByB := e.Stored(t, "certferry/web", "AWSCURRENT")
	openGate()
	<-done
	if errA != nil {
		t.Fatal(errA)
	}
	e.NoChallengeLeft(t)
	r := result(t, sumA, "web")
	if r.Action != renew.ActionRenewedElsewhere || r.Err() != nil || r.Condition != renew.ConditionReady {
		t.Errorf("A: action %q condition %q message %q error %v; want renewed elsewhere, ready", r.Action, r.Condition, r.Message, r.Err())
	}
	if cur := e.Stored(t, "certferry/web", "AWSCURRENT"); cur.Serial != renewedByB.Serial {
		t.Errorf("AWSCURRENT %s, want B's %s", cur.Serial, renewedByB.Serial)
	}
	st := result(t, e.Pass(t, e.App(t, cfg), renew.Options{Plan: true}), "web")
	if st.Condition != renew.ConditionReady || st.Attempts != 0 || st.LastError != "" {
		t.Errorf("status after both: condition %q attempts %d last error %q; want ready, no failure recorded", st.Condition, st.Attempts, st.LastError)
	}
}

// TestE2EHooksRunOnceWithCoordination: runner A stores a renewal and runs its on_renew
// webhook holding the lease (the version is tagged only after the hooks). Runner B,
// passing meanwhile, finds the version untagged with its hooks to run: it leaves them to
// A, who holds the lease, and writes nothing. Runner C reads the inventory before A
// finishes and takes the lease after A released it: it reads the tags again, finds them
// moved and does not run the hooks either. The webhook is called once, and nothing is
// left pending.
func TestE2EHooksRunOnceWithCoordination(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{})
	var hookCalls atomic.Int32
	running, release := make(chan struct{}, 1), make(chan struct{})
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hookCalls.Add(1) == 1 {
			running <- struct{}{}
			<-release
		}
	}))
	defer hook.Close()
	var releaseOnce sync.Once
	unblock := func() { releaseOnce.Do(func() { close(release) }) }
	defer unblock() // before hook.Close, which waits for A's request, on every way out
	// An hour's lease: A renews it every twenty minutes, never during the test, so the
	// only UpdateItem calls are takes.
	cfg := e.Config(t, coordination(e, time.Hour)+certsYAML(certYAML("web", "www.example.com")+
		"    hooks:\n      on_renew:\n        - webhook: { url: "+hook.URL+"/deploy, secret: s3cret }\n"))
	ctx, cancel := context.WithTimeout(t.Context(), 3*e.PassBound())
	defer cancel()
	var sumA *renew.Summary
	var errA error
	doneA := make(chan struct{})
	go func() {
		defer close(doneA)
		sumA, errA = e.App(t, cfg).Runner.Pass(ctx, renew.Options{})
	}()
	select {
	case <-running:
	case <-ctx.Done():
		t.Fatal("A's webhook never called")
	}
	rB := result(t, e.Pass(t, e.App(t, cfg), renew.Options{}), "web")
	if rB.Action != renew.ActionElsewhere || rB.Err() != nil || rB.Condition == renew.ConditionFailing {
		t.Errorf("B: action %q condition %q message %q error %v; want renewing elsewhere", rB.Action, rB.Condition, rB.Message, rB.Err())
	}

	gate := make(chan struct{})
	takes := e.SB.Calls().Count("dynamodb", "UpdateItem")
	e.SB.Calls().FailNext("dynamodb", "UpdateItem", 1, calls.Fault{Gate: gate})
	var sumC *renew.Summary
	var errC error
	doneC := make(chan struct{})
	go func() {
		defer close(doneC)
		sumC, errC = e.App(t, cfg).Runner.Pass(ctx, renew.Options{})
	}()
	defer e.SB.Calls().DropFaults()
	e2etest.Eventually(t, e.PassBound(), "C's take held", func() bool { return e.SB.Calls().Count("dynamodb", "UpdateItem") > takes })
	unblock()
	<-doneA
	close(gate)
	<-doneC
	if errA != nil || errC != nil {
		t.Fatalf("A: %v, C: %v", errA, errC)
	}
	wantOK(t, sumA, "web", renew.ActionIssue, scheduler.ReasonMissing)
	if rC := result(t, sumC, "web"); rC.Action != renew.ActionRenewedElsewhere || rC.Err() != nil || rC.Condition != renew.ConditionReady {
		t.Errorf("C: action %q condition %q message %q error %v; want renewed elsewhere, ready", rC.Action, rC.Condition, rC.Message, rC.Err())
	}
	if n := hookCalls.Load(); n != 1 {
		t.Errorf("webhook called %d times, want once", n)
	}
	if r := result(t, e.Pass(t, e.App(t, cfg), renew.Options{}), "web"); r.Action != renew.ActionSkip || r.HooksPending != 0 || r.Condition != renew.ConditionReady {
		t.Errorf("after: action %q hooks pending %d condition %q", r.Action, r.HooksPending, r.Condition)
	}
	if n := hookCalls.Load(); n != 1 {
		t.Errorf("webhook called %d times in the end, want once", n)
	}
}

// TestE2EPlanLeaseTableDown: when the lease table cannot be read, a plan (renew --plan,
// status) reads it once, not once per due certificate: each read waits out its timeout
// when DynamoDB does not answer, so status took that long for every due certificate.
// The plan still shows every certificate due.
func TestE2EPlanLeaseTableDown(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{})
	cfg := e.Config(t, coordination(e, time.Minute)+certsYAML(
		certYAML("one", "one.example.com"), certYAML("two", "two.example.com"), certYAML("three", "three.example.com")))
	a := e.App(t, cfg)
	e.SB.Calls().FailNext("dynamodb", "GetItem", 1<<10, calls.Fault{Code: "ServiceUnavailable"})
	defer e.SB.Calls().DropFaults()
	e.Pass(t, a, renew.Options{Plan: true, Only: []string{"one"}})
	one := e.SB.Calls().Count("dynamodb", "GetItem")
	sum := e.Pass(t, a, renew.Options{Plan: true})
	if all := e.SB.Calls().Count("dynamodb", "GetItem") - one; all != one || one == 0 {
		t.Errorf("dynamodb.GetItem: %d for three due certificates, %d for one; want the same", all, one)
	}
	for _, name := range []string{"one", "two", "three"} {
		if r := result(t, sum, name); r.Action != renew.ActionPlan || r.Condition != renew.ConditionDue || r.Err() != nil {
			t.Errorf("%s: action %q condition %q error %v", name, r.Action, r.Condition, r.Err())
		}
	}
}

// TestE2ELeaseTableHung: DynamoDB hangs. Each lease call waits its whole timeout, so a
// pass over many due certificates waited one timeout per certificate (about 250 s for
// 100 at concurrency 4). The first timeout makes the table unreachable for the rest of
// the pass, said once: only the first wave of takes (one per concurrency slot, waited
// in parallel) is sent, every due certificate fails before any order, and the pass ends
// after one timeout.
func TestE2ELeaseTableHung(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{})
	const concurrency, due = 4, 9 // three waves of takes without the bound
	a, logs := leaseTableHanging(t, e, "h", due, "UpdateItem")
	// Bounded by the lease calls' timeout: one wave of it, with the factor for a loaded
	// machine (three waves before the bound).
	ctx, cancel := context.WithTimeout(t.Context(), testwait.For(lease.MinCallTimeout))
	defer cancel()
	start := time.Now()
	sum, err := a.Runner.Pass(ctx, renew.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("pass with the lease table hung: %s", time.Since(start).Round(time.Millisecond))
	if n := e.SB.Calls().Count("dynamodb", "UpdateItem"); n != concurrency {
		t.Errorf("dynamodb.UpdateItem: %d takes for %d due certificates, want %d (one wave)", n, due, concurrency)
	}
	for _, r := range sum.Results {
		if r.Err() == nil || !strings.Contains(r.Error, "lease: take "+r.Name+": ") || r.Condition != renew.ConditionFailing {
			t.Errorf("%s: action %q condition %q error %q", r.Name, r.Action, r.Condition, r.Error)
		}
	}
	if n := len(logs.Lines("the lease table does not answer")); n != 1 {
		t.Errorf("the lease table's outage said %d times, want once", n)
	}
	if n := e.SB.Calls().Count("acme", "NewOrder"); n != 0 {
		t.Errorf("%d orders without a lease", n)
	}
}

// TestE2ELeaseReleaseHung: a lease table that hangs once the certificates are renewed
// costs the end of the pass one release timeout, not one per lease held (they were
// released one after the other: 10 s each here, 30 s with the default lease); the leases
// left expire on their own, said once.
func TestE2ELeaseReleaseHung(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{})
	const due = 3
	a, logs := leaseTableHanging(t, e, "r", due, "DeleteItem")
	start := time.Now()
	sum, err := a.Runner.Pass(t.Context(), renew.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("pass with the lease table hung for releases: %s", time.Since(start).Round(time.Millisecond))
	for _, r := range sum.Results {
		if r.Err() != nil || r.Condition != renew.ConditionReady {
			t.Errorf("%s: action %q condition %q error %q", r.Name, r.Action, r.Condition, r.Error)
		}
	}
	if n := e.SB.Calls().Count("dynamodb", "DeleteItem"); n != 1 {
		t.Errorf("dynamodb.DeleteItem: %d releases asked of a hung table for %d leases, want 1", n, due)
	}
	if n := len(logs.Lines("leases not released: the lease table did not answer")); n != 1 {
		t.Errorf("the leases left to expire said %d times, want once", n)
	}
}

// TestE2EMoveOnceWithCoordination: two runners pass at once over a certificate whose
// secret was renamed. C reads the inventory and plans the move, then waits for its lease
// while A moves the certificate and runs its on_renew hook. Holding the lease at last, C
// reads the new secret again, finds the certificate there and reports it renewed
// elsewhere: it moved it again and ran the hook a second time.
func TestE2EMoveOnceWithCoordination(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{Zones: []string{"example.com"}})
	script, log, _ := e2etest.HookScript(t, e.Dir)
	wantOK(t, e.Pass(t, e.App(t, e.Config(t, coordination(e, time.Hour)+renamedYAML("web", "ec256", script))), renew.Options{}),
		"web", renew.ActionIssue, scheduler.ReasonMissing)
	cfg := e.Config(t, coordination(e, time.Hour)+renamedYAML("web-new", "ec256", script))
	ctx, cancel := context.WithTimeout(t.Context(), 3*e.PassBound())
	defer cancel()
	gate := make(chan struct{})
	takes := e.SB.Calls().Count("dynamodb", "UpdateItem")
	e.SB.Calls().FailNext("dynamodb", "UpdateItem", 1, calls.Fault{Gate: gate})
	defer e.SB.Calls().DropFaults()
	var sumC *renew.Summary
	var errC error
	doneC := make(chan struct{})
	go func() {
		defer close(doneC)
		sumC, errC = e.App(t, cfg).Runner.Pass(ctx, renew.Options{})
	}()
	e2etest.Eventually(t, e.PassBound(), "C's take held", func() bool { return e.SB.Calls().Count("dynamodb", "UpdateItem") > takes })
	wantOK(t, e.Pass(t, e.App(t, cfg), renew.Options{}), "web", renew.ActionMove, scheduler.ReasonMoved)
	close(gate)
	<-doneC
	if errC != nil {
		t.Fatalf("C: %v", errC)
	}
	if rC := result(t, sumC, "web"); rC.Action != renew.ActionRenewedElsewhere || rC.Err() != nil || rC.Condition != renew.ConditionReady {
		t.Errorf("C: action %q condition %q message %q error %v; want renewed elsewhere, ready", rC.Action, rC.Condition, rC.Message, rC.Err())
	}
	if runs := e2etest.HookRuns(t, log); len(runs) != 2 {
		t.Errorf("hook runs %q: want the issuance's and one for the move", runs)
	}
}

// leaseTableHanging is an app for due certificates named prefix0, prefix1, … under a
// 3 s lease (its calls wait lease.MinCallTimeout), logging at debug level, with the
// lease table hanging on every op call until the test ends.
func leaseTableHanging(t *testing.T, e *env, prefix string, due int, op string) (*app.App, *e2etest.LogBuffer) {
	t.Helper()
	var entries []string
	for i := range due {
		entries = append(entries, certYAML(fmt.Sprintf("%s%d", prefix, i), fmt.Sprintf("%s%d.example.com", prefix, i)))
	}
	cfg := e.Config(t, coordination(e, 3*time.Second)+certsYAML(entries...))
	logs, log := e2etest.DebugLog(t)
	a := e.AppWith(t, cfg, nil, log)
	e.SB.Calls().FailNext("dynamodb", op, 1<<10, calls.Fault{Hang: calls.HangForever})
	t.Cleanup(e.SB.Calls().DropFaults)
	return a, logs
}
