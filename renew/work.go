package renew

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/certferry/certferry/acme"
	"github.com/certferry/certferry/certs"
	"github.com/certferry/certferry/lease"
	"github.com/certferry/certferry/scheduler"
	smsink "github.com/certferry/certferry/sinks/secretsmanager"
)

// work is one certificate's way through a pass. It only goes forward: gather builds the
// scheduler's input once (in), plan decides once (decision), and every later step adds
// what it learns (a problem the preflight found, an order, an issued certificate, a
// failure) without deciding again. report turns it into the Result at the end.
type work struct {
	cert     Cert
	res      *Result
	in       scheduler.Input    // everything the decision looked at, built once by gather
	decision scheduler.Decision // decided once by plan; a problem found later blocks it
	state    *state             // the state kept between passes, as found and as changed
	// dryJournal, in a dry run, is where the challenge journal is kept: the certificate's
	// real state (its secret, its state file), while the rest of a dry run's state stays
	// in its own Memory (state). nil: the journal is in state. See journalState.
	dryJournal *state
	ariID      string             // the stored certificate's ARI identifier, for "replaces"
	version    string             // the stored AWSCURRENT version id, "" when unknown
	secret     *smsink.Inspection // what the preflight learnt of the secret, for the store
	started    time.Time
	plan       bool // Options.Plan or DryRun: nothing stored, no hook
	dry        bool // Options.DryRun: no on_failure hook either
	// filesBehind: the certificate has a secret and a file sink, and the files do not
	// hold the secret's current certificate (missing, older, edited, a store that
	// failed after the secret's write): the pass writes them from the secret.
	filesBehind bool
	// compromised, when set, says the stored certificate was revoked for keyCompromise:
	// it is failing until this or a later pass stores its replacement.
	compromised   string
	compromisedAt time.Time // when it was revoked
	// moved is the certificate found in the secret w's was renamed from (move.go), and
	// movedIssued the issuances recorded on every such secret, for the guard.
	moved       *moved
	movedIssued []smsink.Issuance
	// borrowed: w stands for a secret swept for its certificate's sake (sweepRenamed),
	// which may be another configuration's: an entry it cannot read is left to the
	// runner that wrote it, never dropped.
	borrowed bool

	persist string // the issuer the dns-persist-01 records name (persist.go); empty: order with dns-01
	order   *acme.Order
	records []int         // indexes into the pass's record list
	journal string        // the journal slot that records order, "" when none
	issued  *certs.Bundle // obtained (or issued earlier and kept), to be stored
	hooks   *storedHooks  // on_renew hooks readied by store, run in the hooks phase

	// lease is the certificate's lease while this pass holds it (Deps.Leases), kept
	// alive until leaseStop; leaseKept ends when the lease is lost.
	lease     *lease.Lease
	leaseKept context.Context
	leaseStop func()

	// err is this pass's failure of the certificate, and how it came about.
	err     error
	outcome outcome
	// refused, when set, is a write of the certificate's state refused for good, by this
	// pass or an earlier one of the process (Memory), and no write has succeeded since.
	refused *refusal
	// storeRefused: this pass's failure is a store refused for good (fail: a permission
	// missing, the KMS key disabled), which waits a day and needs a human.
	storeRefused bool

	// exempt: the certificate's order is an ARI renewal, which the CA's limits exempt
	// (set by holdForLimits); caRefused, when the CA answered its new order rateLimited,
	// is the end of the CA's Retry-After.
	exempt    bool
	caRefused time.Time
}

// outcome is how a certificate's failure in this pass came about.
type outcome int

const (
	outcomeNone    outcome = iota
	outcomeFailed          // an attempt failed: counted, backed off, on_failure told
	outcomeBlocked         // a problem found before any order: counted, no backoff
	outcomeStopped         // the pass was stopped: no fault of the certificate, no state
	// outcomeUnrecorded: the certificate's state could not be recorded, for good
	// (unrecorded); whatever else the pass did for it.
	outcomeUnrecorded
)

// journalState is where w's challenge journal is kept: with the rest of its state, or,
// in a dry run, in the certificate's real state (dryJournal).
func (w *work) journalState() *state {
	if w.dryJournal != nil {
		return w.dryJournal
	}
	return w.state
}

// journals reports whether w's pass keeps the challenge journal: every pass that may
// publish DNS-01 records, a dry run included; not a plan.
func (w *work) journals() bool { return !w.plan || w.dry }

// know tells w's state stores what the preflight learnt of the certificate's secret
// (state.know).
func (w *work) know(in *smsink.Inspection) {
	w.state.know(in)
	if w.dryJournal != nil {
		w.dryJournal.know(in)
	}
}

// alive reports whether w is still on its way (nothing failed, blocked or stopped it).
func (w *work) alive() bool { return w.err == nil }

// hooksPending reports whether on_renew hooks of the stored version are still to run.
func (w *work) hooksPending() bool {
	return w.pendingHookCount() > 0
}

func (w *work) pendingHookCount() int {
	st := w.state.now
	if len(w.cert.OnRenew) == 0 || !st.HooksOK || st.Hooks.Version != w.version {
		return 0
	}
	return max(len(w.cert.OnRenew)-st.Hooks.Done, 0)
}

// setDecision copies a decision into the result.
func (r *Runner) setDecision(w *work, d scheduler.Decision, opts Options) {
	w.decision = d
	w.res.Reason, w.res.Message, w.res.DueAt = d.Reason, d.Message, d.DueAt
	if d.Due {
		w.res.Action = ActionIssue
		if w.in.Stored.Exists {
			w.res.Action = ActionRenew
		}
		if opts.Plan {
			w.res.Action = ActionPlan
		}
	} else {
		w.res.Action = ActionSkip
	}
	r.log.Info("planned", zap.String("cert", w.cert.Name), zap.Strings("domains", w.cert.Domains), zap.Bool("due", d.Due),
		zap.String("reason", string(d.Reason)), zap.String("detail", d.Message))
}

// stop marks w not done because the pass was stopped: reported as a failure (the run
// did not do its job), without state or on_failure hooks; it is still due next time.
func (r *Runner) stop(w *work, err error) {
	if w.err != nil {
		return
	}
	w.err, w.outcome = err, outcomeStopped
	w.res.Duration = r.deps.Now().Sub(w.started)
	r.log.Warn("certificate not done: the pass was stopped", zap.String("cert", w.cert.Name), zap.Error(err))
}

// record writes what the pass changed in w's state, in one write (see state.flush). A
// write refused for a reason retrying cannot fix (a permission missing, the KMS key
// disabled) fails the certificate (unrecorded); any other failed write is remembered by
// the process and tried again with the next.
func (r *Runner) record(ctx context.Context, w *work) {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), stateWriteTimeout)
	defer cancel()
	if err := w.state.flush(sctx, nil); err != nil {
		if what, ok := storeNeedsHuman(err, w.secretName()); ok {
			r.unrecorded(w, what, err)
		} else {
			r.log.Warn("could not record the certificate's state; this process remembers it", zap.String("cert", w.cert.Name), zap.Error(err))
		}
	}
	if w.dryJournal != nil {
		// A dry run's journal entries cleared by its clean-up or its sweep.
		if err := w.dryJournal.flush(sctx, nil); err != nil {
			r.log.Warn("could not clear the dry run's challenge journal entry; a later pass sweeps it", zap.String("cert", w.cert.Name), zap.Error(err))
		}
	}
}

// unrecorded fails w because its state cannot be recorded, for good (what says why):
// its backoff, last error, ARI window and hooks' progress would be lost with the process,
// so a one-shot run would not see them and no other runner would. It needs a human in the
// run that sees it, and the process's Memory keeps it failing until a write of its
// state succeeds (docs/architecture.md, "Where state lives").
func (r *Runner) unrecorded(w *work, what string, err error) {
	err = fmt.Errorf("%s%s: its state (backoff, last error, ARI window, hooks' progress) cannot be recorded: %w", storeRefusedPrefix, what, err)
	r.mem.refuse(w.cert.Name, r.deps.Now(), err.Error())
	r.log.Error("the certificate's state cannot be recorded; not retryable: it needs a human", zap.String("cert", w.cert.Name),
		zap.String("fix", what), zap.Error(err))
	if w.err == nil {
		w.err, w.outcome = err, outcomeUnrecorded
		w.res.NewFailure = true
	}
}

// stateWriteTimeout bounds a state write made under a fresh context (the pass's own
// may be cancelled: its failures must still be recorded).
const stateWriteTimeout = 30 * time.Second

// report fills in w's result from what the pass left behind: the one place where a
// certificate's error, last error, condition and failure details are set.
func (r *Runner) report(w *work, now time.Time) {
	w.state.reload(now)
	if ref, ok := r.mem.refusalOf(w.cert.Name); ok {
		w.refused = &ref
	}
	res, st := w.res, w.state.now
	if w.err != nil {
		res.err, res.Error, res.Action = w.err, w.err.Error(), ActionFailed
		res.Interrupted = w.outcome == outcomeStopped
	}
	if b := res.Bundle; b != nil && w.err == nil {
		// Renewed in this pass: the decision's due time was the old certificate's.
		res.DueAt = scheduler.DueAt(scheduler.Input{
			Want:   scheduler.Want{Name: w.cert.Name, Domains: b.Domains, RenewBefore: w.cert.RenewBefore},
			Stored: scheduler.Stored{Exists: true, Domains: b.Domains, NotBefore: b.NotBefore, NotAfter: b.NotAfter},
			Now:    now,
		})
		res.Serial, res.KeyType, res.Profile = b.Serial, b.KeyType, w.cert.Profile
	} else if w.in.Stored.Exists {
		res.KeyType, res.Profile = w.in.Stored.KeyType, w.in.Stored.Profile
	}
	if c := w.cert; c.Secret != nil {
		res.Sinks = append(res.Sinks, "secretsmanager:"+c.Secret.Secret)
	}
	if c := w.cert; c.File != nil {
		res.Sinks = append(res.Sinks, "file:"+c.File.Dir)
	}
	res.Condition = conditionOf(w, now)
	res.NeedsHuman = res.Condition == ConditionFailing && (w.needsHuman() || w.refused != nil)
	res.HooksPending = w.pendingHookCount()
	if w.decision.Reason == scheduler.ReasonIssuanceGuard {
		// Due, and held: when the guard lets it be ordered (status's NEXT RENEWAL).
		res.NextAttempt = w.decision.NextAttempt
	}
	res.LastError = lastError(w)
	if res.Condition == ConditionFailing {
		res.Attempts = st.Failures + st.Blocked
		res.FailingSince = st.FailingSince
		if res.FailingSince.IsZero() && w.err != nil {
			res.FailingSince = w.started // a problem found before ordering: no state kept
		}
		if w.refused != nil && (res.FailingSince.IsZero() || w.refused.since.Before(res.FailingSince)) {
			res.FailingSince = w.refused.since
		}
		if res.FailingSince.IsZero() && w.compromised != "" {
			res.FailingSince = w.compromisedAt
		}
		res.NextAttempt = st.NextAttempt
		if res.NextAttempt.IsZero() {
			res.NextAttempt = w.decision.NextAttempt
		}
		if res.NextAttempt.IsZero() {
			// Nothing holds it back (a problem found before ordering has no backoff): the
			// next pass tries again. A failing certificate always says when.
			res.NextAttempt = now
		}
	}
}

// secretName is the configured secret of w's certificate, "" without one.
func (w *work) secretName() string {
	if w.cert.Secret == nil {
		return ""
	}
	return w.cert.Secret.Secret
}

// needsHuman reports whether w's failure is one that no wait or retry fixes
// (Result.NeedsHuman): the preflight refused the certificate's secret, or a store was
// refused for good, in this pass or in an earlier one whose day's wait holds it (its
// recorded last error starts with storeRefusedPrefix, as fail writes it).
func (w *work) needsHuman() bool {
	switch {
	case w.storeRefused:
		return true
	case w.outcome == outcomeBlocked && errors.As(w.err, new(sinkProblem)):
		return true
	}
	return w.err == nil && w.state.now.Failures > 0 && strings.HasPrefix(w.state.now.LastError, storeRefusedPrefix)
}

// lastError is the last failure: this pass's, or the one an earlier pass recorded (an
// issuance, a check before it, a store, or an on_renew hook).
func lastError(w *work) string {
	st := w.state.now
	switch {
	case w.err != nil:
		return w.err.Error()
	case w.refused != nil:
		return w.refused.err
	case w.res.HookError != "":
		return w.res.HookError
	case st.Failures > 0:
		return st.LastError
	case w.pendingHookCount() > 0:
		return st.HookError
	case w.compromised != "" && w.res.Bundle == nil:
		return w.compromised
	case w.res.Condition == ConditionFailing:
		return st.LastError
	}
	return ""
}
