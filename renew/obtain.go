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
	"github.com/certferry/certferry/scheduler"
	smsink "github.com/certferry/certferry/sinks/secretsmanager"
)

// obtain gets and stores every due certificate, in phases that run one after the other
// over every due certificate at once, so that DNS work is shared:
//
//  1. order: begin every order (unless the pass's deadline leaves too little time);
//  2. publish: journal every order, then publish every TXT record in one change per
//     zone and wait for INSYNC once;
//  3. complete: complete every order and verify each chain;
//  4. store: write each issued certificate to its sinks;
//  5. clean up: remove every record published in 2, and the journal entries;
//  6. hooks: run the on_renew hooks of what was stored.
//
// A certificate issued by an earlier pass but not stored, or moved from the secret its
// secret was renamed from (move.go), joins at 4, without a new order. Every phase after
// 2 runs whatever happened before it: 4 and 5 under a fresh context (an issued
// certificate is stored, and the records go, even when the pass is stopped); the records
// are removed before the hooks run, which may take long.
func (r *Runner) obtain(ctx context.Context, due []*work, opts Options) {
	toOrder := r.takeUnstored(due)
	var client ACME
	if len(toOrder) > 0 {
		client = r.begin(ctx, toOrder, opts)
	}
	recs := r.publish(ctx, client, toOrder)
	r.complete(ctx, client, toOrder, opts)
	fresh, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.settings.CleanupTimeout)
	defer cancel()
	r.forEach(fresh, due, func(ctx context.Context, w *work) {
		if w.alive() && w.issued != nil {
			r.store(ctx, w, w.issued, opts)
			r.movedDone(w)
		}
	})
	r.cleanUp(ctx, toOrder, recs)
	for _, w := range due {
		r.runStoredHooks(ctx, w)
	}
}

// takeUnstored readies for the store phase every certificate issued by an earlier pass
// and not stored, and every move, and returns the others, to be ordered.
func (r *Runner) takeUnstored(due []*work) []*work {
	var toOrder []*work
	for _, w := range due {
		if r.takeMoved(w) {
			continue
		}
		if b := r.unstored(w.cert); b != nil {
			r.log.Info("storing a certificate issued earlier", zap.String("cert", w.cert.Name), zap.Time("not_after", b.NotAfter))
			w.res.Action, w.issued = ActionStore, b
			continue
		}
		toOrder = append(toOrder, w)
	}
	return toOrder
}

// begin is the order phase: it opens the ACME client and begins every order, unless
// the pass's deadline (a Lambda's) leaves too little time to finish one: an order begun
// and abandoned costs the CA and proves nothing. It returns nil when nothing was ordered.
func (r *Runner) begin(ctx context.Context, ws []*work, opts Options) ACME {
	client, err := r.deps.ACME(ctx)
	if err != nil {
		for _, w := range ws {
			r.fail(ctx, w, err) // already "acme: <operation>: ..."
		}
		return nil
	}
	if dl, ok := ctx.Deadline(); ok && r.settings.MinOrderTime > 0 && time.Until(dl) < r.settings.MinOrderTime {
		for _, w := range ws {
			r.stop(w, fmt.Errorf("not started: %s left before the deadline, an order needs %s; it is due on the next run",
				time.Until(dl).Round(time.Second), r.settings.MinOrderTime))
		}
		return nil
	}
	fallback := &persistFallback{log: r.log}
	gate := r.newOrderGate()
	r.forEach(ctx, ws, func(ctx context.Context, w *work) {
		req := acme.OrderRequest{Name: w.cert.Name, Domains: w.cert.Domains, KeyType: w.cert.KeyType, Profile: w.cert.Profile,
			Gate: gate.forWork(w)}
		if w.persist != "" {
			req.Challenge, req.PersistIssuer = acme.ChallengeDNSPersist01, w.persist
		}
		// "replaces" only to the CA that issued the certificate being replaced, and only
		// for the same names.
		stored := w.in.Stored
		if stored.Exists && w.decision.Reason != scheduler.ReasonNamesChanged && w.decision.Reason != scheduler.ReasonCAChanged &&
			!opts.DryRun && (stored.Directory == "" || stored.Directory == r.settings.Directory) {
			req.Replaces = w.ariID
		}
		if err := r.journalRoom(w); err != nil {
			r.fail(ctx, w, fmt.Errorf("not ordered: %w", err))
			return
		}
		r.log.Info("ordering", zap.String("cert", w.cert.Name), zap.Strings("domains", w.cert.Domains), zap.String("replaces", req.Replaces))
		req.StopIfReplaced = req.Replaces != ""
		o, err := client.Begin(ctx, req)
		if errors.Is(err, acme.ErrAlreadyReplaced) {
			o, err = r.afterReplaced(ctx, client, w, req)
		}
		if err != nil {
			if !r.caHeld(w, err) {
				r.fail(ctx, w, fmt.Errorf("order: %w", err))
			}
			return
		}
		if o == nil {
			return // another runner renewed it meanwhile (afterReplaced)
		}
		w.order = o
		fallback.note(w)
	})
	return client
}

// publish is the publish phase: each order is journaled (so that a runner killed before
// the clean-up leaves nothing a later pass cannot find; see journal.go), then every TXT
// record of the pass is published at once and waited for. It returns the records, for
// the clean-up, which removes them whatever happens next.
func (r *Runner) publish(ctx context.Context, client ACME, ws []*work) []Record {
	var toPublish []*work
	for _, w := range ws {
		if !w.alive() || w.order == nil || len(w.order.Challenges) == 0 {
			continue // nothing to publish (dns-persist-01, authorizations reused): nothing to journal
		}
		toPublish = append(toPublish, w)
	}
	// A record is never published that no later pass could find: an order that could
	// not be journaled is abandoned, and the certificate fails (tried again later).
	r.forEach(ctx, toPublish, func(ctx context.Context, w *work) {
		if err := r.journal(ctx, w); err != nil {
			r.abandon(ctx, client, w)
			r.fail(ctx, w, fmt.Errorf("dns: not published: %w", err))
		}
	})
	var recs []Record
	var published []*work
	for _, w := range toPublish {
		if !w.alive() {
			continue
		}
		published = append(published, w)
		for _, ch := range w.order.Challenges {
			w.records = append(w.records, len(recs))
			recs = append(recs, w.cert.record(ch.FQDN, ch.Value))
		}
	}
	if len(recs) == 0 {
		return nil
	}
	r.log.Info("publishing DNS-01 records", zap.Int("records", len(recs)), zap.Int("orders", len(published)))
	errs := r.deps.DNS.Present(ctx, recs)
	for _, w := range published {
		var failed []error
		for _, i := range w.records {
			if i < len(errs) && errs[i] != nil {
				failed = append(failed, errs[i])
			}
		}
		if len(failed) > 0 && w.alive() {
			r.abandon(ctx, client, w)
			r.fail(ctx, w, fmt.Errorf("dns: %w", errors.Join(failed...)))
		}
	}
	return recs
}

// complete is the complete phase: every published order is completed (validation,
// finalize, download) and its chain and key verified. A dry run stops there.
func (r *Runner) complete(ctx context.Context, client ACME, ws []*work, opts Options) {
	var live []*work
	for _, w := range ws {
		if w.alive() && w.order != nil {
			live = append(live, w)
		}
	}
	r.forEach(ctx, live, func(ctx context.Context, w *work) {
		// An order stuck at the CA (an authorization or order left "processing") must not
		// hold the daemon's pass forever.
		octx, cancel := context.WithTimeout(ctx, r.settings.OrderTimeout)
		c, err := client.Complete(octx, w.order)
		cancel()
		if err != nil {
			r.fail(ctx, w, fmt.Errorf("finalize: %w", err))
			return
		}
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
			r.fail(ctx, w, &unverifiedError{err: err})
			return
		}
		if opts.DryRun {
			r.dryRunDone(w, b)
			return
		}
		r.log.Info("issued", zap.String("cert", w.cert.Name), zap.Strings("domains", b.Domains), zap.Time("not_after", b.NotAfter), zap.String("serial", b.Serial))
		w.issued = b
	})
}

// cleanUp is the clean-up phase: every record publish published is removed, under a
// fresh context (the pass's may be cancelled: SIGTERM, a Lambda's deadline), and the
// journal entry of every order whose records are all gone is cleared.
func (r *Runner) cleanUp(ctx context.Context, ws []*work, recs []Record) {
	if len(recs) == 0 {
		return
	}
	errs := r.removeRecords(ctx, recs)
	for _, w := range ws {
		if len(w.records) > 0 && !slices.ContainsFunc(w.records, func(i int) bool { return errs[i] != nil }) {
			r.unjournal(w, w.journal)
		}
	}
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
	hs := smsink.HookProgress{Version: "files", StoredAt: now}
	if w.cert.Secret != nil {
		// The value only: its tags, the cleared state and the hooks' progress are written
		// in one write after the hooks (record). A runner that stops in between leaves a
		// version that the next pass finds unfinished (repairTags).
		saved, err := r.deps.Secrets.Save(ctx, *w.cert.Secret, b, smsink.StoreOptions{Force: opts.Force, Profile: w.cert.Profile,
			Directory: r.settings.Directory, AllowShorter: w.decision.Reason.IsChange() || w.decision.Reason.ReplacesUntrusted(), Known: w.secret, Expect: &w.version})
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
		v := saved.VersionID
		state := r.clearedState()
		state[smsink.TagIssued] = r.issued(w, b, now)
		if len(w.cert.OnRenew) > 0 {
			state[smsink.TagHooks] = smsink.HookProgress{Version: v, StoredAt: now}.String()
		}
		w.state.set(state)
		w.state.describe(smsink.Tagging{Bundle: b, Version: v, Profile: w.cert.Profile, Directory: r.settings.Directory})
		w.res.VersionID, w.res.SecretARN = v, saved.ARN
		hs.Version = v
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
			state := r.clearedState()
			state[smsink.TagIssued] = r.issued(w, b, now)
			w.state.set(state)
		}
	}
	w.res.NotAfter, w.res.NotBefore = b.NotAfter, b.NotBefore
	w.res.Bundle = b
	w.version = hs.Version
	w.hooks = &storedHooks{state: hs, ev: hooks.Event{Name: w.cert.Name, Domains: b.Domains, SecretARN: w.res.SecretARN,
		VersionID: hs.Version, NotAfter: b.NotAfter, StoredAt: now, Kind: hooks.KindRenew}}
	w.res.Duration = r.deps.Now().Sub(w.started)
}

// storedHooks are the on_renew hooks a store readied.
type storedHooks struct {
	state smsink.HookProgress
	ev    hooks.Event
}

// runStoredHooks runs the on_renew hooks store readied for w, once.
func (r *Runner) runStoredHooks(ctx context.Context, w *work) {
	if w.hooks == nil || !w.alive() {
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
	return map[string]string{smsink.TagFailures: "", smsink.TagNextAttempt: "", smsink.TagLastError: "", smsink.TagFailingSince: "", smsink.TagBlocked: "", smsink.TagARIStart: "", smsink.TagARIEnd: "",
		smsink.TagCAWait: "", smsink.TagHooks: "", smsink.TagHookError: "", smsink.TagARINext: smsink.FormatTime(r.deps.Now().Add(ariFirstCheck))}
}

// issued is TagIssued once b is stored: the recorded issuances and b's, by the CA this
// runner orders from, for the issuance guard to count (scheduler.IssuanceKey).
func (r *Runner) issued(w *work, b *certs.Bundle, now time.Time) string {
	this := smsink.Issuance{Key: scheduler.IssuanceKey(r.settings.Directory, b.Domains), At: b.NotBefore.UTC().Truncate(time.Second)}
	list := slices.Clone(w.state.now.Issued)
	if !slices.Contains(list, this) { // stored again (a retried write): one issuance
		list = append(list, this)
	}
	return smsink.EncodeIssued(list, now)
}

// ariFirstCheck is how long after issuance certferry first asks for ARI.
const ariFirstCheck = 6 * time.Hour

// syncFiles writes the secret's current certificate into the file sink of every
// certificate whose files are behind it (missing, older, edited by hand, or a store that
// failed after the secret's write), without a new order. The on_renew hooks that wait
// for that version run after it (retryHooks), never before the files hold it.
func (r *Runner) syncFiles(ctx context.Context, works []*work) {
	for _, w := range works {
		if !w.filesBehind || w.decision.Due || !w.alive() || w.plan {
			continue
		}
		b, _, err := r.deps.Secrets.GetStage(ctx, w.cert.Secret.Secret, "AWSCURRENT")
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

// removeRecords removes recs under a fresh context, and returns the error of each.
func (r *Runner) removeRecords(ctx context.Context, recs []Record) []error {
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
			// Say what was left and how to remove it: a stop bounds this clean-up, and a
			// run stopped under a hung Route 53 leaves the record to a later pass.
			r.log.Error("DNS-01 record left behind: the challenge journal keeps it and a later pass removes it; to remove it now, delete this value from the TXT set at fqdn",
				zap.String("fqdn", recs[i].FQDN), zap.String("value", recs[i].Value), zap.String("zone_id", recs[i].ZoneID),
				zap.Stringer("cleanup_bound", r.settings.CleanupTimeout), zap.Error(err))
		}
	}
	r.log.Info("removed DNS-01 records", zap.Int("records", len(recs)-n), zap.Int("failed", n))
	return errs
}

// fail records that an attempt for w failed: counted, backed off (the state is written
// at once when an order was placed, else at the end of the pass) and told to the
// on_failure hooks. A failure that is the pass's being stopped is stop instead.
func (r *Runner) fail(ctx context.Context, w *work, err error) {
	if w.err != nil {
		return
	}
	if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		// The pass was stopped (SIGTERM, a deadline): not the certificate's fault, so no
		// backoff and no alert; it is still due on the next pass.
		r.stop(w, err)
		return
	}
	if w.lease != nil && r.renewedElsewhere(ctx, w) {
		// This runner lost the lease (it paused past the expiry) and the runner that took
		// it over stored a newer certificate, sweeping this one's records: the failure is
		// this runner's late attempt, not the certificate's. Recorded, it would turn the
		// fresh certificate failing for every runner.
		r.log.Warn("failed after another runner renewed the certificate: not recorded", zap.String("cert", w.cert.Name), zap.Error(err))
		return
	}
	w.err, w.outcome = err, outcomeFailed
	w.res.Duration = r.deps.Now().Sub(w.started)
	var rl *acme.RateLimitedError
	if errors.As(err, &rl) {
		w.res.RetryAfter = rl.RetryAfter
	}
	w.res.NewFailure = true
	st := w.state.now
	failures := st.Failures + 1
	now := r.deps.Now()
	var next time.Time
	if what, ok := storeNeedsHuman(err, w.secretName()); ok {
		// Retrying cannot fix it; every retry would order again (a one-shot run or a
		// Lambda keeps no issued certificate). Wait a day, and say what to fix.
		next = scheduler.NextAttemptPermanent(now, 0, r.deps.Rand())
		err = fmt.Errorf("%s%s: %w", storeRefusedPrefix, what, err) // first: the state keeps 256 characters
		w.storeRefused = true
		r.log.Error("certferry may not write the certificate's secret; not retryable: it needs a human, next attempt in a day",
			zap.String("cert", w.cert.Name), zap.String("fix", what), zap.Int("attempt", failures),
			zap.Time("next_attempt", next), zap.Bool("permanent", true), zap.Error(err))
		w.err = err
	} else if ue := (*unverifiedError)(nil); errors.As(err, &ue) {
		// The next order's certificate would not verify either: each retry on the
		// ordinary backoff issued one more and threw it away.
		next = scheduler.NextAttemptPermanent(now, 0, r.deps.Rand())
		err = fmt.Errorf("%w: it needs a human: check that acme.issuer_roots holds the roots the CA issues under (not acme.ca_bundle's), and the host's clock", err)
		r.log.Error("the issued certificate does not verify; not retryable: it needs a human, next attempt in a day",
			zap.String("cert", w.cert.Name), zap.Int("attempt", failures), zap.Time("next_attempt", next), zap.Bool("permanent", true), zap.Error(err))
		w.err = err
	} else if acme.IsPermanent(err) {
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
	since := st.FailingSince
	if since.IsZero() || st.Failures == 0 {
		since = now
	}
	w.state.set(map[string]string{
		smsink.TagFailures:     fmt.Sprint(failures),
		smsink.TagNextAttempt:  smsink.FormatTime(next),
		smsink.TagFailingSince: smsink.FormatTime(since),
		smsink.TagLastError:    smsink.EncodeText(err.Error()),
	})
	if w.order != nil {
		// An order was placed: its backoff is written now, not with the rest of the state
		// at the end of the pass. A runner killed in between (a Lambda's timeout, SIGKILL,
		// a crash loop; the on_failure hooks below may run for minutes) would otherwise
		// order again on its next start, a certificate each time after a store failure,
		// until the CA's duplicates limit stopped it. A failure before any order costs the
		// CA nothing and waits for that one write.
		r.record(ctx, w)
	}
	r.runFailureHooks(ctx, w, err)
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
			r.stop(w, fmt.Errorf("not started: the pass was stopped: %w", context.Cause(ctx)))
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

// unstored returns a certificate issued earlier for c and not yet stored, if it still
// fits the configuration and has most of its life left.
func (r *Runner) unstored(c Cert) *certs.Bundle {
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
