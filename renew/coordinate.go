package renew

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/certferry/certferry/acme"
	"github.com/certferry/certferry/lease"
	"github.com/certferry/certferry/scheduler"
	smsink "github.com/certferry/certferry/sinks/secretsmanager"
)

// Several runners on the same certificates (docs/coordination.md): with Deps.Leases, a
// runner orders a due certificate only while it holds that certificate's lease. The
// lease is taken after the preflight and before any ACME request, kept while the
// runner works, and released once the certificate is stored, its hooks have run and its
// state is recorded. A pass with nothing due makes no lease call.

// Leases takes per-certificate leases (*lease.Manager).
type Leases interface {
	Take(ctx context.Context, key string) (*lease.Lease, error)
	HeldElsewhere(ctx context.Context, key string) (*lease.HeldError, error)
}

var _ Leases = (*lease.Manager)(nil)

// leaseReleaseTimeout bounds a release under a fresh context (the pass's may be
// cancelled); a lease that is not released expires on its own.
const leaseReleaseTimeout = 30 * time.Second

// elsewhere reports whether another runner deals with w in this pass.
func (w *work) elsewhere() bool {
	return w.res.Action == ActionElsewhere || w.res.Action == ActionRenewedElsewhere
}

// takeLeases takes the lease of every due certificate and returns those this runner
// now holds. A certificate whose lease another runner holds is left to it ("renewing
// elsewhere": not a failure). Holding the lease, the runner checks again that the
// certificate is still due (another runner may have stored a new one since the
// inventory), and sweeps the records that an earlier holder journaled and left behind.
// A lease that cannot be taken (DynamoDB unreachable) fails the certificate: ordering
// without it could order twice.
func (r *Runner) takeLeases(ctx context.Context, due []*work, opts Options, table *leaseTable) []*work {
	if r.deps.Leases == nil || opts.DryRun || len(due) == 0 {
		return due
	}
	r.forEach(ctx, due, func(ctx context.Context, w *work) {
		if !r.takeLease(ctx, w, table) || r.renewedElsewhere(ctx, w) {
			return
		}
		r.sweepJournal(ctx, w, true)
	})
	return slices.DeleteFunc(slices.Clone(due), func(w *work) bool { return !w.alive() || w.elsewhere() })
}

// leaseTable is what one pass knows of the lease table. Once a lease call has timed out
// (a hung DynamoDB: each call waits its full timeout), the table is taken as unreachable
// for the rest of the pass, which says so once: the certificates whose lease is not yet
// taken fail without a call, so a hung table costs the pass one timeout (one per
// certificate in flight at once, waited in parallel), not one per due certificate.
// Safe for concurrent use.
type leaseTable struct {
	mu   sync.Mutex
	down error // the timeout that made the table unreachable; nil: reachable
}

// unreachable returns the timeout that made the table unreachable in this pass, if any.
func (t *leaseTable) unreachable() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.down
}

// failed takes in a lease call's error; it reports whether it is the first timeout of
// the pass (the caller says so). ctx is the pass's: its own end is no timeout of the table.
func (t *leaseTable) failed(ctx context.Context, err error) (first bool) {
	if ctx.Err() != nil || !errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.down != nil {
		return false
	}
	t.down = err
	return true
}

// takeLease takes w's lease and keeps it until releaseLeases; it reports whether this
// runner now holds it. Held by another runner, w is left to it; a lease that cannot be
// taken fails w, as does a lease table that timed out earlier in the pass (table).
func (r *Runner) takeLease(ctx context.Context, w *work, table *leaseTable) bool {
	if down := table.unreachable(); down != nil {
		r.fail(ctx, w, fmt.Errorf("lease: take %s: not asked: the lease table did not answer earlier in this pass: %w", w.cert.Name, down))
		return false
	}
	l, err := r.deps.Leases.Take(ctx, w.cert.Name)
	var held *lease.HeldError
	switch {
	case errors.As(err, &held):
		r.renewingElsewhere(w, held)
		return false
	case err != nil:
		if table.failed(ctx, err) {
			r.log.Error("the lease table does not answer: no other lease is asked for in this pass, and the certificates that need one fail",
				zap.String("cert", w.cert.Name), zap.Error(err))
		}
		r.fail(ctx, w, err) // "lease: take NAME: ..."
		return false
	}
	w.lease = l
	w.leaseKept, w.leaseStop = l.Keep(context.WithoutCancel(ctx))
	r.log.Info("lease taken", zap.String("cert", w.cert.Name), zap.Int64("generation", l.Generation()), zap.Time("until", l.Expires()))
	return true
}

// leaseHookRetries takes the lease of every certificate whose on_renew hooks are left
// to run and not due (a version stored and not yet tagged, hooks that failed). The
// runner that stores a version runs its hooks holding the lease and tags the version
// only after them, so a second runner that found it untagged would run the same hooks
// at the same time. Held elsewhere, the certificate is left to its holder, and so is
// what this pass would have written in its tags. Holding it, the runner reads the
// secret's tags again: when they moved since the inventory (the holder finished and
// released), the certificate is left as the other runner left it.
func (r *Runner) leaseHookRetries(ctx context.Context, works []*work, table *leaseTable) {
	if r.deps.Leases == nil {
		return
	}
	var retry []*work
	for _, w := range works {
		if !w.decision.Due && w.alive() && !w.elsewhere() && w.lease == nil && w.cert.Secret != nil && w.hooksPending() {
			retry = append(retry, w)
		}
	}
	r.forEach(ctx, retry, func(ctx context.Context, w *work) {
		if !r.takeLease(ctx, w, table) {
			if w.elsewhere() {
				w.state.drop(nil)
			}
			return
		}
		in, err := r.deps.Secrets.Inspect(ctx, *w.cert.Secret)
		if err != nil {
			return // the hooks' own progress tags settle it
		}
		found := w.state.found()
		if in.Tags[smsink.TagVersion] == found[smsink.TagVersion] && in.Tags[smsink.TagHooks] == found[smsink.TagHooks] {
			return
		}
		w.res.Action = ActionRenewedElsewhere
		w.res.Message = "renewed elsewhere: another runner tagged the version and ran its hooks since the inventory"
		w.state.drop(in.Tags)
		r.log.Info("another runner finished the certificate since the inventory: its hooks are not run again", zap.String("cert", w.cert.Name))
	})
}

func (r *Runner) renewingElsewhere(w *work, held *lease.HeldError) {
	w.res.Action, w.res.ElsewhereUntil = ActionElsewhere, held.Until
	w.res.Message = fmt.Sprintf("renewing elsewhere (%s, until %s)", held.Holder, held.Until.UTC().Format(time.RFC3339))
	r.log.Info("another runner holds the certificate's lease: left to it", zap.String("cert", w.cert.Name),
		zap.String("holder", held.Holder), zap.Time("until", held.Until))
}

// renewedElsewhere reads the secret again under the lease: when another runner stored a
// newer certificate for the same names since the inventory, there is nothing to order,
// and nothing to move either (a move found the same certificate in the secret it was
// renamed from: once another runner has copied it, a second copy would run the on_renew
// hooks again). A secret that cannot be read is no reason to stop: the store's
// compare-and-swap settles what is kept. A certificate this process issued and could
// not store is its own, and stored whatever the secret holds.
func (r *Runner) renewedElsewhere(ctx context.Context, w *work) bool {
	if w.cert.Secret == nil || r.deps.Secrets == nil || r.mem.hasUnstored(w.cert.Name) {
		return false
	}
	b, version, err := r.deps.Secrets.GetStage(ctx, w.cert.Secret.Secret, "AWSCURRENT")
	// Another version that lasts at least as long: two certificates issued within one
	// second share their not-after.
	if err != nil || b == nil || version == w.version || b.NotAfter.Before(w.in.Stored.NotAfter) ||
		!slices.Equal(b.Domains, w.cert.Domains) || b.KeyType != w.cert.KeyType {
		return false
	}
	w.res.Action = ActionRenewedElsewhere
	w.res.Message = fmt.Sprintf("renewed elsewhere: version %s, not after %s", version, b.NotAfter.UTC().Format(time.RFC3339))
	w.res.NotBefore, w.res.NotAfter, w.res.Serial = b.NotBefore, b.NotAfter, b.Serial
	w.res.DueAt = scheduler.DueAt(scheduler.Input{
		Want:   scheduler.Want{Name: w.cert.Name, Domains: b.Domains, RenewBefore: w.cert.RenewBefore},
		Stored: scheduler.Stored{Exists: true, Domains: b.Domains, NotBefore: b.NotBefore, NotAfter: b.NotAfter},
		Now:    r.deps.Now(),
	})
	r.log.Info("another runner renewed the certificate since the inventory: nothing to order", zap.String("cert", w.cert.Name),
		zap.String("version_id", version), zap.Time("not_after", b.NotAfter))
	return true
}

// releaseLeases releases every lease this pass took. A lease lost meanwhile (this
// runner paused past its expiry) is reported: what it stored is still fenced by the
// secret's compare-and-swap (docs/coordination.md). The releases go one after the other,
// each bounded by its timeout; once the lease table has timed out in this pass (table:
// a take, or a release), the leases left are not released but expire on their own, so
// that a hung table costs the end of the pass one timeout, not one per lease held.
func (r *Runner) releaseLeases(ctx context.Context, works []*work, table *leaseTable) {
	skipped := 0
	for _, w := range works {
		if w.lease == nil {
			continue
		}
		w.leaseStop()
		if cause := context.Cause(w.leaseKept); errors.Is(cause, lease.ErrLost) {
			r.log.Warn("the certificate's lease was lost while this runner worked on it", zap.String("cert", w.cert.Name), zap.Error(cause))
		}
		if table.unreachable() != nil {
			skipped++
		} else {
			r.releaseLease(ctx, w, table)
		}
		w.lease = nil
	}
	if skipped > 0 {
		r.log.Warn("leases not released: the lease table did not answer earlier in this pass; they expire on their own",
			zap.Int("leases", skipped), zap.Error(table.unreachable()))
	}
}

// releaseLease releases w's lease, bounded by leaseReleaseTimeout; a timeout makes the
// table unreachable for the rest of the pass (table).
func (r *Runner) releaseLease(ctx context.Context, w *work, table *leaseTable) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), leaseReleaseTimeout)
	defer cancel()
	if err := w.lease.Release(rctx); err != nil {
		// rctx outlives a stop of the pass: its timeout is the table's, stopped or not
		// (a stopped pass waited one release timeout per lease held).
		table.failed(context.WithoutCancel(ctx), err)
		r.log.Warn("could not release the certificate's lease; it expires on its own", zap.String("cert", w.cert.Name), zap.Error(err))
	}
}

// peekLeases shows, in a plan (renew --plan, status), which due certificates another
// runner is renewing now. One read per due certificate; none when nothing is due. The
// first read that fails ends the reads: the table is unreachable or refuses, and each
// read waits out its timeout (status would take that long for every due certificate).
func (r *Runner) peekLeases(ctx context.Context, works []*work) {
	if r.deps.Leases == nil {
		return
	}
	for _, w := range works {
		if !w.decision.Due || !w.alive() {
			continue
		}
		held, err := r.deps.Leases.HeldElsewhere(ctx, w.cert.Name)
		if err != nil {
			r.log.Warn("could not read the certificate's lease; the other due certificates' leases are not read either",
				zap.String("cert", w.cert.Name), zap.Error(err))
			return
		}
		if held != nil {
			r.renewingElsewhere(w, held)
		}
	}
}

// afterReplaced handles the CA's alreadyReplaced answer to an order that named the
// stored certificate in "replaces": another runner renewed it first. When the secret now
// holds a newer certificate for these names, nothing is ordered (renewed elsewhere: nil
// order, no error). Only when it is unchanged is the certificate ordered again, once,
// without "replaces" (an order the CA's ARI exemption no longer covers).
func (r *Runner) afterReplaced(ctx context.Context, client ACME, w *work, req acme.OrderRequest) (*acme.Order, error) {
	if r.renewedElsewhere(ctx, w) {
		return nil, nil
	}
	r.log.Warn("the CA answered alreadyReplaced, and the stored certificate is unchanged: ordering once more without replaces",
		zap.String("cert", w.cert.Name), zap.String("replaces", req.Replaces))
	req.Replaces, req.StopIfReplaced = "", false
	o, err := client.Begin(ctx, req)
	if err != nil {
		return nil, err
	}
	o.ReplacesRefused = true
	return o, nil
}
