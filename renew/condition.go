package renew

import "time"

// Condition is a certificate's condition after a pass, computed in one place
// (conditionOf) from what is stored, the state kept with it and what the pass did. Every
// signal derives from it: renew's and status's exit codes, status's CONDITION column, the
// daemon's /healthz and metrics, the Lambda's error and metrics (README.md, "Monitoring").
type Condition string

const (
	// ConditionReady: a valid certificate is stored and nothing is failing.
	ConditionReady Condition = "ready"
	// ConditionDue: a renewal (or the first issuance) is pending and has not failed.
	ConditionDue Condition = "due"
	// ConditionFailing: the last attempt failed (issuance, a check before it, the store
	// or an on_renew hook), or a problem found before ordering blocks it. Result's
	// FailingSince, Attempts, LastError and NextAttempt say more.
	ConditionFailing Condition = "failing"
	// ConditionExpired: the stored certificate is past its not-after (whatever else holds).
	ConditionExpired Condition = "expired"
)

// Ready reports the cert-manager style Ready status: "True" for a valid certificate
// that is up to date or merely due, "False" for a failing, expired or missing one.
func (r *Result) Ready() string {
	switch r.Condition {
	case ConditionReady:
		return "True"
	case ConditionDue:
		if r.NotAfter.IsZero() {
			return "False" // nothing stored yet
		}
		return "True"
	case ConditionFailing, ConditionExpired:
		return "False"
	}
	return "Unknown"
}

// conditionOf computes w's condition at now, after the pass did what it did, from the
// state as the pass leaves it (report calls it, once).
func conditionOf(w *work, now time.Time) Condition {
	res, st := w.res, w.state.now
	stopped := w.outcome == outcomeStopped
	switch {
	case !res.NotAfter.IsZero() && !now.Before(res.NotAfter):
		return ConditionExpired
	case w.err != nil && !stopped:
		return ConditionFailing
	case w.refused != nil:
		// Its state cannot be recorded (a permission missing): failing until a write of
		// it succeeds, whatever this pass did.
		return ConditionFailing
	case w.compromised != "" && res.Bundle == nil:
		// Revoked for keyCompromise and not replaced yet (other reasons stay due).
		return ConditionFailing
	case st.Failures > 0:
		// An earlier attempt failed and none has succeeded since (a certificate waiting
		// in backoff is failing, not "due": it needs attention).
		return ConditionFailing
	case res.Bundle == nil && (st.Blocked > 0 || !st.FailingSince.IsZero() && st.LastError != ""):
		// The last pass stopped it before ordering (a problem it recorded), and no pass
		// has found the problem gone since.
		return ConditionFailing
	case res.HookError != "" || (st.HookError != "" && w.hooksPending()):
		return ConditionFailing
	case res.Action == ActionLostRace || res.Action == ActionRenewedElsewhere:
		return ConditionReady // another runner stored an equivalent or newer certificate
	case w.decision.Due || stopped || res.NotAfter.IsZero():
		if res.Bundle != nil {
			return ConditionReady // renewed in this pass
		}
		return ConditionDue
	}
	return ConditionReady
}

// Failing counts the certificates that are failing or expired: any is a reason for a
// non-zero exit, an unhealthy daemon and a failed Lambda invocation.
func (s *Summary) Failing() int {
	n := 0
	for _, r := range s.Results {
		if r.Condition == ConditionFailing || r.Condition == ConditionExpired {
			n++
		}
	}
	return n
}
