package renew

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/certferry/certferry/acme"
	"github.com/certferry/certferry/certs"
	"github.com/certferry/certferry/hooks"
	"github.com/certferry/certferry/providers/route53"
	"github.com/certferry/certferry/scheduler"
	smsink "github.com/certferry/certferry/sinks/secretsmanager"
)

// obtain gets and stores every due certificate. The steps are pass-wide so that DNS work
// is shared: begin every order, publish every TXT record in one change per zone and wait
// for INSYNC once, complete every order, store, then remove every record.
func (r *Runner) obtain(ctx context.Context, due []*work, opts Options) {
	// A certificate issued on an earlier pass but not stored is stored now, without a
	// new order.
	var toOrder []*work
	for _, w := range due {
		if b := r.takeUnstored(w.cert); b != nil {
			r.log.Info("storing a certificate issued earlier", zap.String("cert", w.cert.Name), zap.Time("not_after", b.NotAfter))
			w.res.Action = ActionStore
			r.store(ctx, w, b, opts)
			r.runStoredHooks(ctx, w)
			continue
		}
		toOrder = append(toOrder, w)
	}
	if len(toOrder) == 0 {
		return
	}

	client, err := r.deps.ACME(ctx)
	if err != nil {
		for _, w := range toOrder {
			r.fail(ctx, w, err) // already "acme: <operation>: ..."
		}
		return
	}

	// 1. Begin every order, unless the pass's deadline (a Lambda's) leaves too little time
	// to finish one: an order begun and abandoned costs the CA and proves nothing.
	if dl, ok := ctx.Deadline(); ok && r.settings.MinOrderTime > 0 && time.Until(dl) < r.settings.MinOrderTime {
		for _, w := range toOrder {
			r.stopped(w, fmt.Errorf("not started: %s left before the deadline, an order needs %s; it is due on the next run",
				time.Until(dl).Round(time.Second), r.settings.MinOrderTime))
		}
		return
	}
	r.forEach(ctx, toOrder, func(ctx context.Context, w *work) {
		req := acme.OrderRequest{Name: w.cert.Name, Domains: w.cert.Domains, KeyType: w.cert.KeyType, Profile: w.cert.Profile}
		// "replaces" only to the CA that issued the certificate being replaced, and only
		// for the same names.
		if w.stored.Exists && w.decision.Reason != scheduler.ReasonNamesChanged && w.decision.Reason != scheduler.ReasonCAChanged &&
			!opts.DryRun && (w.stored.Directory == "" || w.stored.Directory == r.settings.Directory) {
			req.Replaces = w.ariID
		}
		r.log.Info("ordering", zap.String("cert", w.cert.Name), zap.Strings("domains", w.cert.Domains), zap.String("replaces", req.Replaces))
		o, err := client.Begin(ctx, req)
		if err != nil {
			r.fail(ctx, w, fmt.Errorf("order: %w", err))
			return
		}
		w.order = o
	})
	toOrder = r.alive(toOrder)

	// The on_renew hooks of what this pass stored run last (see the cleanup below).
	defer func() {
		for _, w := range toOrder {
			r.runStoredHooks(ctx, w)
		}
	}()

	// 2. Publish every TXT record of the pass at once.
	var recs []route53.Record
	for _, w := range toOrder {
		for _, ch := range w.order.Challenges {
			w.records = append(w.records, len(recs))
			recs = append(recs, w.cert.DNS.Record(ch.FQDN, ch.Value, w.cert.ZoneID))
		}
	}
	if len(recs) > 0 {
		// Cleanup runs whatever happens next, under a fresh context: the pass's context
		// may be cancelled (SIGTERM, Lambda deadline) and the records must still go.
		// Deferred after the hooks' defer, it runs before them: records are removed as
		// soon as every order is complete, not after hooks that may take long.
		//
		// Each certificate's order is journaled first, so that a runner killed before
		// this cleanup leaves nothing a later pass cannot find (see journal.go).
		published := slices.Clone(toOrder)
		var jmu sync.Mutex
		journals := map[*work]string{}
		r.forEach(ctx, published, func(ctx context.Context, w *work) {
			if k := r.journal(ctx, w); k != "" {
				jmu.Lock()
				journals[w] = k
				jmu.Unlock()
			}
		})
		defer func() {
			errs := r.cleanup(ctx, recs)
			for _, w := range published {
				if !slices.ContainsFunc(w.records, func(i int) bool { return errs[i] != nil }) {
					r.unjournal(ctx, w, journals[w])
				}
			}
		}()
		r.log.Info("publishing DNS-01 records", zap.Int("records", len(recs)), zap.Int("orders", len(toOrder)))
		errs := r.deps.DNS.Present(ctx, recs)
		for _, w := range toOrder {
			var failed []error
			for _, i := range w.records {
				if i < len(errs) && errs[i] != nil {
					failed = append(failed, errs[i])
				}
			}
			if len(failed) > 0 {
				r.abandon(ctx, client, w)
				r.fail(ctx, w, fmt.Errorf("dns: %w", errors.Join(failed...)))
			}
		}
		toOrder = r.alive(toOrder)
	}

	// 3. Complete every order and store it.
	r.forEach(ctx, toOrder, func(ctx context.Context, w *work) {
		// An order stuck at the CA (an authorization or order left "processing") must not
		// hold the daemon's pass forever.
		octx, cancel := context.WithTimeout(ctx, r.settings.OrderTimeout)
		c, err := client.Complete(octx, w.order)
		cancel()
		if err != nil {
			r.fail(ctx, w, fmt.Errorf("finalize: %w", err))
			return
		}
		// Issued: from here the certificate is stored even if the pass is being stopped
		// (SIGTERM, a Lambda deadline), under a fresh, bounded context; thrown away, it
		// would cost the CA a duplicate on the next run.
		ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), r.settings.CleanupTimeout)
		defer cancel()
		b, err := certs.NewBundle(w.cert.Name, w.cert.Domains, c.FullchainPEM, c.Key, c.ARIID)
		if err != nil {
			r.fail(ctx, w, err)
			return
		}
		// A runner whose clock is a little behind the CA's would find a certificate
		// whose not_before is seconds ahead "not yet valid" and throw it away: within
		// maxClockSkew, verify it as of its not_before.
		at := r.deps.Now()
		if at.Before(b.NotBefore) && b.NotBefore.Sub(at) <= maxClockSkew {
			at = b.NotBefore
		}
		if err := b.Verify(r.verifyRoots(b), at); err != nil {
			r.fail(ctx, w, fmt.Errorf("verify issued certificate: %w", err))
			return
		}
		if opts.DryRun {
			r.dryRunDone(w, b)
			return
		}
		r.log.Info("issued", zap.String("cert", w.cert.Name), zap.Strings("domains", b.Domains), zap.Time("not_after", b.NotAfter), zap.String("serial", b.Serial))
		r.store(ctx, w, b, opts)
	})
}

// verifyRoots are the roots an issued bundle is verified against: the configured ones,
// or (Settings.TrustChainTop) the chain's own topmost certificate.
func (r *Runner) verifyRoots(b *certs.Bundle) *x509.CertPool {
	if !r.settings.TrustChainTop {
		return r.settings.Roots
	}
	pool := x509.NewCertPool()
	var top *x509.Certificate
	for rest := b.ChainPEM; ; {
		var blk *pem.Block
		if blk, rest = pem.Decode(rest); blk == nil {
			break
		}
		if c, err := x509.ParseCertificate(blk.Bytes); err == nil {
			top = c
		}
	}
	if top != nil {
		pool.AddCert(top)
	}
	return pool
}

// dryRunDone reports a certificate a dry run obtained and verified; it is dropped.
func (r *Runner) dryRunDone(w *work, b *certs.Bundle) {
	w.res.Action = ActionDryRun
	w.res.Message = fmt.Sprintf("dry run: issued by %s and verified (serial %s, expires %s); not stored", r.settings.Directory,
		b.Serial, b.NotAfter.UTC().Format(time.RFC3339))
	w.res.Duration = r.deps.Now().Sub(w.started)
	r.log.Info("dry run: certificate issued and verified; not stored", zap.String("cert", w.cert.Name), zap.String("directory", r.settings.Directory),
		zap.String("serial", b.Serial), zap.Time("not_after", b.NotAfter))
}

// maxClockSkew is how far ahead of this runner's clock an issued certificate's
// not_before may be (the CA's clock, or a CA that does not backdate) and still be stored.
const maxClockSkew = 5 * time.Minute

// store writes b to every sink of the certificate and readies its on_renew hooks
// (runStoredHooks runs them). When a sink fails, b is kept in memory so the next pass
// of this process stores it without a new order, and no hook runs.
func (r *Runner) store(ctx context.Context, w *work, b *certs.Bundle, opts Options) {
	now := r.deps.Now()
	hs := hookState{version: "files", storedAt: now}
	if w.cert.Secret != nil {
		state := r.clearedState()
		if len(w.cert.OnRenew) > 0 {
			// Recorded with the write: if this runner dies before the hooks ran, the next
			// pass (any runner) finds them pending for this version.
			state[TagHooks] = hookState{version: smsink.Token(b), storedAt: now}.String()
		}
		saved, err := r.deps.Secrets.Save(ctx, *w.cert.Secret, b, smsink.StoreOptions{Force: opts.Force, Profile: w.cert.Profile,
			Directory: r.settings.Directory, AllowShorter: w.decision.Reason.IsChange(), State: state, Expect: &w.version})
		var lost *smsink.LostRaceError
		if errors.As(err, &lost) {
			// Another runner stored an equivalent certificate meanwhile: it is kept, and
			// that runner tags it and runs the hooks.
			w.res.VersionID, w.res.Message = lost.Winner.VersionID, err.Error()
			w.res.Action, w.res.NotAfter = ActionLostRace, lost.Winner.NotAfter
			r.log.Warn("another runner stored this certificate first; keeping its version", zap.String("cert", w.cert.Name),
				zap.String("winner_version", lost.Winner.VersionID), zap.Time("winner_not_after", lost.Winner.NotAfter), zap.Error(err))
			return
		}
		if err != nil {
			r.mem.keep(w.cert.Name, b)
			r.fail(ctx, w, fmt.Errorf("store: %w", err))
			return
		}
		w.state.written(state)
		v := saved.VersionID
		w.res.VersionID, w.res.SecretARN = v, saved.ARN
		hs.version = v
		r.log.Info("stored", zap.String("cert", w.cert.Name), zap.String("secret", w.cert.Secret.Secret), zap.String("version_id", v))
	}
	if w.cert.File != nil {
		if err := r.deps.Files.Store(ctx, *w.cert.File, b); err != nil {
			r.mem.keep(w.cert.Name, b)
			r.fail(ctx, w, fmt.Errorf("store files: %w", err))
			return
		}
		r.log.Info("stored files", zap.String("cert", w.cert.Name), zap.String("dir", w.cert.File.Dir))
		if w.cert.Secret == nil {
			_ = w.state.save(ctx, r.clearedState()) // memory: cannot fail
		}
	}
	w.res.NotAfter, w.res.NotBefore = b.NotAfter, b.NotBefore
	w.res.Bundle = b
	w.version = hs.version
	w.hooks = &storedHooks{state: hs, ev: hooks.Event{Name: w.cert.Name, Domains: b.Domains, SecretARN: w.res.SecretARN,
		VersionID: hs.version, NotAfter: b.NotAfter, StoredAt: now, Kind: hooks.KindRenew}}
	w.res.Duration = r.deps.Now().Sub(w.started)
}

// storedHooks are the on_renew hooks a store readied.
type storedHooks struct {
	state hookState
	ev    hooks.Event
}

// runStoredHooks runs the on_renew hooks store readied for w, once.
func (r *Runner) runStoredHooks(ctx context.Context, w *work) {
	if w.hooks == nil || w.res.err != nil {
		return
	}
	h := w.hooks
	w.hooks = nil
	r.runRenewHooks(ctx, w, h.state, h.ev)
	w.res.Duration = r.deps.Now().Sub(w.started)
}

// clearedState resets the backoff tags when a certificate is stored (an empty value
// removes the tag). The new certificate's ARI window is first asked for after
// ariFirstCheck: a fresh certificate's window is weeks away, and this keeps the pass
// right after a renewal free of ACME requests.
func (r *Runner) clearedState() map[string]string {
	return map[string]string{TagFailures: "", TagNextAttempt: "", TagLastError: "", TagFailingSince: "", TagBlocked: "", TagARIStart: "", TagARIEnd: "",
		TagHooks: "", TagHookError: "", TagARINext: formatTime(r.deps.Now().Add(ariFirstCheck))}
}

// ariFirstCheck is how long after issuance certferry first asks for ARI.
const ariFirstCheck = 6 * time.Hour

// stopped marks a certificate not done because the pass was stopped: reported as a
// failure (the run did not do its job), without backoff state or on_failure hooks.
func (r *Runner) stopped(w *work, err error) {
	if w.res.Error != "" {
		return
	}
	w.res.err = err
	w.res.stopped = true
	w.res.Error = err.Error()
	w.res.Action = ActionFailed
	w.res.Duration = r.deps.Now().Sub(w.started)
	r.log.Warn("certificate not done: the pass was stopped", zap.String("cert", w.cert.Name), zap.Error(err))
}

// failNoState marks a certificate failed without touching its backoff state.
func (r *Runner) failNoState(w *work, err error) {
	w.res.err = err
	w.res.Error = err.Error()
	w.res.Action = ActionFailed
	if w.plan {
		// A plan (status, --plan) reports it; it changes nothing, so it is no error log.
		r.log.Info("certificate would be refused", zap.String("cert", w.cert.Name), zap.Error(err))
		return
	}
	r.log.Error("certificate failed", zap.String("cert", w.cert.Name), zap.Error(err))
}

// syncFiles writes the secret's current certificate into the file sink of every
// certificate whose files are behind it (missing, older, edited by hand, or a store that
// failed after the secret's write), without a new order. The on_renew hooks that wait
// for that version run after it (retryHooks), never before the files hold it.
func (r *Runner) syncFiles(ctx context.Context, works []*work) {
	for _, w := range works {
		if !w.filesBehind || w.decision.Due || w.res.err != nil || w.plan {
			continue
		}
		b, _, err := r.deps.Secrets.Get(ctx, w.cert.Secret.Secret)
		if err == nil {
			err = b.Verify(r.settings.Roots, r.deps.Now())
		}
		if err == nil {
			b.Name = w.cert.Name
			err = r.deps.Files.Store(ctx, *w.cert.File, b)
		}
		if err != nil {
			r.fail(ctx, w, fmt.Errorf("store files from the secret: %w", err))
			continue
		}
		w.res.Action, w.res.Message = ActionStore, "the files were behind the secret; written from it"
		r.log.Info("files brought up to date from the secret", zap.String("cert", w.cert.Name), zap.String("dir", w.cert.File.Dir),
			zap.String("serial", b.Serial))
	}
}

func (r *Runner) abandon(ctx context.Context, client ACME, w *work) {
	if w.order == nil {
		return
	}
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := client.Abandon(actx, w.order); err != nil {
		r.log.Warn("could not deactivate authorizations", zap.String("cert", w.cert.Name), zap.Error(err))
	}
}

func (r *Runner) cleanup(ctx context.Context, recs []route53.Record) []error {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.settings.CleanupTimeout)
	defer cancel()
	errs := r.deps.DNS.CleanUp(cctx, recs)
	if len(errs) != len(recs) {
		errs = make([]error, len(recs)) // a provider that reports nothing per record
	}
	n := 0
	for i, err := range errs {
		if err != nil {
			n++
			r.log.Error("DNS-01 record left behind", zap.String("fqdn", recs[i].FQDN), zap.Error(err))
		}
	}
	r.log.Info("removed DNS-01 records", zap.Int("records", len(recs)-n), zap.Int("failed", n))
	return errs
}

// fail records a certificate's failure and its backoff state with the secret.
func (r *Runner) fail(ctx context.Context, w *work, err error) {
	if w.res.Error != "" {
		return
	}
	if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		// The pass was stopped (SIGTERM, a deadline): not the certificate's fault, so no
		// backoff and no alert; it is still due on the next pass.
		r.stopped(w, err)
		return
	}
	w.res.err = err
	w.res.Error = err.Error()
	w.res.Action = ActionFailed
	w.res.Duration = r.deps.Now().Sub(w.started)
	var rl *acme.RateLimitedError
	if errors.As(err, &rl) {
		w.res.RetryAfter = rl.RetryAfter
	}
	w.res.NewFailure = true
	failures := w.st.failures + 1
	now := r.deps.Now()
	var next time.Time
	if acme.IsPermanent(err) {
		// The CA refused for good (CAA, a rejected identifier, ...): retrying in a minute
		// only spends the CA's patience. Back off straight to the daily cap and say that
		// a human has to act; on_failure hooks alert them.
		next = scheduler.NextAttemptPermanent(now, w.res.RetryAfter, r.deps.Rand())
		r.log.Error("certificate refused by the CA; not retryable: it needs a human (fix the CAA records, names or account), next attempt in a day",
			zap.String("cert", w.cert.Name), zap.Strings("domains", w.cert.Domains), zap.Int("attempt", failures),
			zap.Time("next_attempt", next), zap.Bool("permanent", true), zap.Error(err))
	} else {
		next = scheduler.NextAttempt(now, failures, w.res.RetryAfter, r.deps.Rand())
		r.log.Error("certificate failed", zap.String("cert", w.cert.Name), zap.Int("attempt", failures), zap.Time("next_attempt", next), zap.Error(err))
	}
	defer r.runFailureHooks(ctx, w, err)
	since := w.st.failingSince
	if since.IsZero() || w.st.failures == 0 {
		since = now
	}
	tags := map[string]string{
		TagFailures:     fmt.Sprint(failures),
		TagNextAttempt:  formatTime(next),
		TagFailingSince: formatTime(since),
		TagLastError:    smsink.SanitizeTagValue(err.Error()),
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := w.state.save(sctx, tags); err != nil {
		r.log.Warn("could not record the backoff state; this process remembers it", zap.String("cert", w.cert.Name), zap.Error(err))
	}
}

func (r *Runner) alive(ws []*work) []*work {
	out := ws[:0:0]
	for _, w := range ws {
		if w.res.err == nil {
			out = append(out, w)
		}
	}
	return out
}

// forEach runs fn for every work item, at most Concurrency at once. It stops starting
// new items once ctx is done.
func (r *Runner) forEach(ctx context.Context, ws []*work, fn func(context.Context, *work)) {
	sem := make(chan struct{}, r.settings.Concurrency)
	var wg sync.WaitGroup
	for _, w := range ws {
		// ctx first: select picks at random when a slot is free too, and a stopped pass
		// must not start new work.
		if ctx.Err() == nil {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
			}
		}
		if ctx.Err() != nil {
			if w.res.err == nil {
				r.stopped(w, fmt.Errorf("not started: the pass was stopped: %w", context.Cause(ctx)))
			}
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			fn(ctx, w)
		}()
	}
	wg.Wait()
}

// takeUnstored returns a certificate issued earlier for c and not yet stored, if it still
// fits the configuration and has most of its life left.
func (r *Runner) takeUnstored(c Cert) *certs.Bundle {
	b := r.mem.take(c.Name)
	if b == nil {
		return nil
	}
	if !scheduler.SameNames(b.Domains, c.Domains) || b.KeyType != c.KeyType || r.deps.Now().After(b.NotBefore.Add(b.NotAfter.Sub(b.NotBefore)/2)) {
		r.log.Info("a certificate issued earlier no longer fits; it is dropped", zap.String("cert", c.Name), zap.String("serial", b.Serial))
		return nil
	}
	return b
}
