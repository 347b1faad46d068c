package renew

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/certferry/certferry/acme"
	"github.com/certferry/certferry/certs"
	"github.com/certferry/certferry/scheduler"
	smsink "github.com/certferry/certferry/sinks/secretsmanager"
)

// Reasons renew adds to the scheduler's.
const (
	// ReasonStoredUnreadable: the stored secret could not be read or is not a valid
	// certificate secret; it is reported and left alone unless --force.
	ReasonStoredUnreadable scheduler.Reason = "stored-unreadable"
	// ReasonUnstored: a certificate issued by an earlier pass of this process could not
	// be stored; it is stored now without a new order.
	ReasonUnstored = scheduler.ReasonUnstored
	// ReasonTooLarge: the certificate's secret would exceed Secrets Manager's limit.
	ReasonTooLarge scheduler.Reason = "too-large"
	// ReasonPreflight: a check made before any request to the CA failed (a sink that
	// cannot take the certificate, a name in no hosted zone, ...).
	ReasonPreflight scheduler.Reason = "preflight"
)

// plan decides what to do with one certificate, once: gather what is known (the stored
// certificate, the state kept with it, the CA's ARI window, a certificate waiting to be
// stored, problems that make an order pointless) into the scheduler's input, decide with
// scheduler.Decide, and note what was learnt (the ARI window) as a change of the state.
// Later steps add facts to w; nothing decides again.
func (r *Runner) plan(ctx context.Context, c Cert, inv map[string]smsink.Stored, opts Options) *work {
	now := r.deps.Now()
	w := &work{cert: c, res: &Result{Name: c.Name, Domains: c.Domains, Action: ActionSkip}, started: now,
		plan: opts.Plan || opts.DryRun, dry: opts.DryRun}
	ariTags, problem := r.gather(ctx, w, inv, opts)
	d := scheduler.Decide(w.in)
	if opts.DryRun && !opts.Force && d.Reason == scheduler.ReasonForced {
		d.Message = "a dry run tries every certificate"
	}
	if ctx.Err() == nil {
		w.state.set(ariTags)
	}
	r.setDecision(w, d, opts)
	if d.Blocked {
		r.block(ctx, w, problem, opts)
	}
	return w
}

// clearSolved forgets a problem an earlier pass found before ordering (and kept with the
// state) once the checks pass again.
//
// A failed attempt is forgotten the same way once its backoff is over and nothing is
// due any more (a deliberate change that failed and was reverted, a forced renewal that
// failed): what failed is no longer asked for, so nothing is failing.
func (r *Runner) clearSolved(w *work) {
	st := w.state.now
	if !w.alive() || w.decision.Blocked || w.plan {
		return
	}
	solvedFailure := st.Failures > 0 && !w.decision.Due && w.decision.Reason == scheduler.ReasonNotDue
	if st.Failures > 0 && !solvedFailure || (!solvedFailure && st.LastError == "" && st.FailingSince.IsZero() && st.Blocked == 0) {
		return
	}
	tags := map[string]string{smsink.TagLastError: "", smsink.TagFailingSince: "", smsink.TagBlocked: ""}
	if solvedFailure {
		tags[smsink.TagFailures], tags[smsink.TagNextAttempt] = "", ""
		r.log.Info("an earlier failure is over: nothing is due any more", zap.String("cert", w.cert.Name), zap.Int("attempts", st.Failures))
	}
	w.state.set(tags)
}

// gather builds the scheduler's input for w (w.in), choosing where w's state lives. It
// returns the ARI state to record, if the CA was asked, and the problem that blocks an
// order (stored value unreadable, secret too large), if any.
func (r *Runner) gather(ctx context.Context, w *work, inv map[string]smsink.Stored, opts Options) (map[string]string, error) {
	c := w.cert
	found := r.chooseState(w, inv, opts)
	if c.Secret != nil && found.Secret == "" && !w.plan && r.deps.Secrets != nil {
		found = r.unlisted(ctx, w)
	}
	w.in = scheduler.Input{
		Want: scheduler.Want{Name: c.Name, Domains: c.Domains, KeyType: c.KeyType, Profile: c.Profile, RenewBefore: c.RenewBefore,
			Directory: r.settings.Directory},
		Now:      w.started,
		Interval: r.settings.Interval,
		Guard:    r.settings.Guard,
		Force:    opts.Force || opts.DryRun, // a dry run tries every certificate
	}
	srcs := r.namesakes(w, inv, opts)
	stored, err := r.storedState(ctx, w, found)
	if err == nil && !stored.Exists {
		stored, err = r.findMoved(ctx, w, srcs, opts) // a rename is not a new certificate
	}
	stored.Failures, stored.NextAttempt = w.state.now.Failures, w.state.now.NextAttempt
	w.in.Stored = stored
	for _, is := range w.state.now.Issued {
		w.in.Issued = append(w.in.Issued, scheduler.Issued{Key: is.Key, At: is.At})
	}
	r.carryIssued(w)
	if !stored.NotAfter.IsZero() {
		w.res.NotAfter, w.res.NotBefore = stored.NotAfter, stored.NotBefore
	}
	var problem error
	if err != nil {
		// An unreadable or corrupt stored secret is reported, never silently
		// overwritten: --force replaces it, and AWSPREVIOUS then keeps the old value.
		if !opts.Force {
			w.in.Problem = &scheduler.Problem{Reason: ReasonStoredUnreadable, Message: err.Error()}
			problem = err
		} else {
			r.log.Warn("stored certificate unreadable; --force replaces it", zap.String("cert", c.Name), zap.Error(err))
		}
	}
	if c.Secret != nil && c.File != nil && r.deps.Files != nil && stored.Exists && w.res.Serial != "" && !opts.DryRun {
		if b, err := r.deps.Files.Load(c.File.Dir); err != nil || b.Serial != w.res.Serial {
			w.filesBehind = true
		}
	}
	r.revokedStored(w, found, srcs)
	if found.PendingVersionID != "" && !r.mem.hasUnstored(c.Name) && !opts.Plan && !opts.DryRun {
		r.adoptInterruptedWrite(ctx, w, found.PendingVersionID)
	}
	w.in.Unstored = r.mem.hasUnstored(c.Name)
	if w.in.Problem == nil && !w.in.Unstored {
		// A certificate that cannot be stored is never ordered: checked before any
		// request to the CA, every pass (it costs nothing), until the configuration
		// changes.
		if err := checkSecretSize(c); err != nil {
			w.in.Problem = &scheduler.Problem{Reason: ReasonTooLarge, Message: err.Error()}
			problem = err
		}
	}
	var ariTags map[string]string
	w.in.ARI, ariTags = r.ariWindow(ctx, w, opts)
	return ariTags, problem
}

// revokedStored marks w's stored certificate revoked when its serial is recorded revoked
// on its own secret or on a namesake (a secret it was renamed from, or back from: the
// same certificate is in both once moved, and revoke may have been run on either).
func (r *Runner) revokedStored(w *work, found smsink.Stored, srcs []smsink.Stored) {
	if found.Serial == "" {
		return
	}
	rv, ok := smsink.Revoked(found.Tags, found.Serial)
	where := ""
	if !ok {
		var in string
		if rv, in, ok = revokedIn(srcs, found.Serial); !ok {
			return
		}
		where = " (recorded on secret " + in + ")"
	}
	w.in.Revoked = "serial " + rv.Serial + " was revoked (" + rv.Reason + ")" + where
	if rv.Reason == acme.ReasonKeyCompromise.String() {
		// Its key may be in other hands, and servers still present it: failing,
		// not merely due, until a replacement is stored.
		w.compromised = w.in.Revoked + ": its key is compromised; failing until a replacement is stored"
		w.compromisedAt = rv.At
	}
}

// unlisted describes w's secret when the inventory does not list it (it lists the
// secrets tagged certferry:name), and returns what the inventory would have held for it.
// A secret that holds a certificate for w's names lost its tags (removed by hand, or by
// a tool that manages the secret's tags): it is returned with tags that describe nothing,
// so its value decides and its tags are rewritten (repairTags). Planned as missing, every
// pass ordered a certificate that the store then dropped as equivalent to the stored one,
// a duplicate at the CA each time. The description goes on to the preflight, which
// describes the secret no more; a secret that holds anything else is left to it.
func (r *Runner) unlisted(ctx context.Context, w *work) smsink.Stored {
	c := w.cert
	in, err := r.deps.Secrets.Inspect(ctx, *c.Secret)
	if err != nil {
		return smsink.Stored{} // the preflight describes it again, and says why
	}
	w.secret = &in
	w.know(&in)
	if !in.Exists || in.Deleting || !in.HasValue || in.Name != "" || in.Kind != "" {
		return smsink.Stored{}
	}
	b, id, err := r.deps.Secrets.GetStage(ctx, c.Secret.Secret, "AWSCURRENT")
	if err != nil || id != in.Current || !scheduler.SameNames(b.Domains, c.Domains) {
		return smsink.Stored{}
	}
	r.log.Warn("the secret holds a certificate for these names and no certferry tags: it is kept, and its tags are rewritten",
		zap.String("cert", c.Name), zap.String("secret", c.Secret.Secret), zap.String("version_id", id))
	return smsink.Stored{Name: c.Name, Secret: c.Secret.Secret, ARN: in.ARN, CurrentVersionID: in.Current, Tags: in.Tags}
}

// chooseState picks where w's state lives (the secret's tags, or the process's Memory)
// and returns what the inventory holds for w's secret.
func (r *Runner) chooseState(w *work, inv map[string]smsink.Stored, opts Options) smsink.Stored {
	c := w.cert
	var found smsink.Stored
	var store stateStore = memoryState{mem: r.mem, name: c.Name}
	if c.Secret != nil && r.deps.Secrets != nil {
		found, _ = smsink.Lookup(inv, c.Secret.Secret)
		if !opts.DryRun { // a dry run keeps its state in its own Memory
			store = &secretState{secrets: r.deps.Secrets, target: *c.Secret, name: c.Name, found: found.Tags, mem: r.mem}
		}
		w.res.SecretARN, w.version = found.ARN, found.CurrentVersionID
		if w.res.SecretARN == "" && strings.HasPrefix(c.Secret.Secret, "arn:") {
			w.res.SecretARN = c.Secret.Secret
		}
	} else {
		w.version = "files"
		if c.File != nil && r.deps.Files != nil && !opts.DryRun {
			store = fileState{mem: r.mem, name: c.Name, files: r.deps.Files, target: *c.File, log: r.log}
		}
	}
	w.state = newState(store, opts.Plan, r.deps.Now)
	if opts.DryRun {
		w.dryJournal = r.dryJournalState(w, found)
	}
	return found
}

// dryJournalState is where a dry run keeps w's challenge journal: the certificate's real
// state, as a real pass would, so that a dry run killed between publishing and its
// clean-up leaves records a later pass finds (docs/architecture.md, "A dry run journals
// like a real run"). Only the journal is written there: the store has a Memory of its own,
// so nothing else of the dry run's state goes along with a write. nil: the certificate's
// state lives only in memory (no secret, no file sink), and the dry run's Memory does.
func (r *Runner) dryJournalState(w *work, found smsink.Stored) *state {
	c := w.cert
	var store stateStore
	switch {
	case c.Secret != nil && r.deps.Secrets != nil:
		store = &secretState{secrets: r.deps.Secrets, target: *c.Secret, name: c.Name, found: found.Tags, mem: NewMemory()}
	case c.File != nil && r.deps.Files != nil:
		store = fileState{mem: NewMemory(), name: c.Name, files: r.deps.Files, target: *c.File, log: r.log}
	default:
		return nil
	}
	return newState(store, false, r.deps.Now)
}

// adoptInterruptedWrite finishes a write that a runner began but did not promote (it
// was killed between PutSecretValue and moving AWSCURRENT): the version still labelled
// pending is checked and, when it is a valid certificate for this configuration that
// lasts longer than the current one, kept as issued-but-unstored, so this pass promotes
// it instead of ordering again. Storing it again is idempotent (same request token).
func (r *Runner) adoptInterruptedWrite(ctx context.Context, w *work, version string) {
	c := w.cert
	b, id, err := r.deps.Secrets.GetStage(ctx, c.Secret.Secret, smsink.StagePending)
	if err != nil {
		r.log.Warn("an interrupted write could not be read; it is left alone", zap.String("cert", c.Name), zap.String("version_id", version), zap.Error(err))
		return
	}
	now := r.deps.Now()
	switch {
	case id != version:
		return // promoted or replaced since the inventory
	case !scheduler.SameNames(b.Domains, c.Domains) || b.KeyType != c.KeyType:
		r.log.Info("an interrupted write does not match the configuration; it is left alone", zap.String("cert", c.Name), zap.String("version_id", id))
		return
	case b.NotAfter.Before(w.in.Stored.NotAfter) || !now.Before(b.NotAfter):
		// Promotion never shortens AWSCURRENT. An equal expiry (two certificates issued
		// within the same second) is as good and is finished like any other.
		return
	}
	if w.in.Stored.Exists && w.version != "" {
		// The stored expiry above may come from tags; promotion must never shorten
		// AWSCURRENT, so compare with the current value itself.
		cur, curID, err := r.deps.Secrets.GetStage(ctx, c.Secret.Secret, "AWSCURRENT")
		if err == nil && curID == w.version && b.NotAfter.Before(cur.NotAfter) {
			r.log.Info("an interrupted write expires earlier than the current certificate; it is left alone",
				zap.String("cert", c.Name), zap.String("version_id", id))
			return
		}
	}
	if _, revoked := smsink.Revoked(w.state.tags(), b.Serial); revoked {
		r.log.Warn("an interrupted write holds a revoked certificate; it is never promoted", zap.String("cert", c.Name), zap.String("version_id", id), zap.String("serial", b.Serial))
		return
	}
	if err := b.Verify(r.settings.Roots, now); err != nil {
		r.log.Warn("an interrupted write does not verify; it is left alone", zap.String("cert", c.Name), zap.String("version_id", id), zap.Error(err))
		return
	}
	b.Name = c.Name // the stored JSON does not carry the configuration's name
	r.log.Info("finishing an interrupted write", zap.String("cert", c.Name), zap.String("version_id", id), zap.Time("not_after", b.NotAfter))
	r.mem.keep(c.Name, b)
}

// storedState turns what the sinks hold into the scheduler's view. The secret's tags
// are a cache of its value: they are used only when they describe the current version
// (TagsCurrent); otherwise the value is read.
func (r *Runner) storedState(ctx context.Context, w *work, s smsink.Stored) (scheduler.Stored, error) {
	var st scheduler.Stored
	c := w.cert
	if c.Secret != nil {
		if s.CurrentVersionID == "" {
			// No secret, or one without a value: created to hold the backoff state of a
			// certificate that has never been stored.
			return st, nil
		}
		if !s.TagsCurrent {
			b, _, err := r.deps.Secrets.GetStage(ctx, c.Secret.Secret, "AWSCURRENT")
			var mismatch *certs.KeyMismatchError
			switch {
			case errors.Is(err, smsink.ErrNotFound):
				return st, nil
			case errors.As(err, &mismatch):
				return r.keyMismatch(w, mismatch.Leaf), nil
			case err != nil:
				return st, fmt.Errorf("read stored certificate: %w", err)
			}
			st.Exists, st.Domains, st.KeyType, st.Profile = true, b.Domains, b.KeyType, s.Profile
			st.NotBefore, st.NotAfter, st.IssuedAt = b.NotBefore, b.NotAfter, b.NotBefore
			w.ariID, w.res.Serial = b.ARIID, b.Serial
			if s.Profile == "" || !s.TagsCurrent {
				st.Profile = c.Profile // the tags cannot be trusted for it
			}
			if w.in.Untrusted = r.untrusted(b); w.in.Untrusted == nil && !s.Unfinished {
				w.in.Untrusted = wrongNames(b, c.Domains)
			}
			if w.in.Untrusted != nil {
				// Not the CA's: no ARI window to ask for, nothing for the order to name in
				// "replaces". Its tags are not rewritten from it, so the value is read, and
				// found out, on every pass until it is replaced.
				w.ariID = ""
			} else {
				st.Directory = r.storedDirectory(s)
				r.repairTags(w, b, s, st.Directory)
			}
			return st, nil
		}
		if s.NotAfter.IsZero() {
			return st, nil
		}
		domains := s.Domains
		if s.DomainsTruncated && s.DomainsHash == certs.HashDomains(c.Domains) {
			domains = c.Domains
		}
		st.Exists, st.Domains, st.KeyType, st.Profile = true, domains, s.KeyType, s.Profile
		st.NotBefore, st.NotAfter, st.IssuedAt = s.NotBefore, s.NotAfter, s.NotBefore
		st.Directory = s.Directory
		w.ariID, w.res.Serial = s.ARIID, s.Serial
		return st, nil
	}
	if c.File != nil && r.deps.Files != nil {
		b, err := r.deps.Files.Load(c.File.Dir)
		var mismatch *certs.KeyMismatchError
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return st, nil
		case errors.As(err, &mismatch):
			// A key written by hand over privkey.pem: replaced as a secret's would be, not
			// left failing until --force.
			return r.keyMismatch(w, mismatch.Leaf), nil
		case err != nil:
			return st, fmt.Errorf("read stored files: %w", err)
		}
		w.ariID, w.res.Serial = b.ARIID, b.Serial
		if w.in.Untrusted = r.untrusted(b); w.in.Untrusted != nil {
			// Files placed by hand (a self-signed stopgap) are replaced as a secret's
			// value would be: nothing else would ever find them out.
			w.ariID = ""
		}
		return scheduler.Stored{Exists: true, Domains: b.Domains, KeyType: b.KeyType, Profile: c.Profile,
			NotBefore: b.NotBefore, NotAfter: b.NotAfter, IssuedAt: b.NotBefore}, nil
	}
	return st, nil
}

// storedDirectory is the CA directory of a stored certificate whose tags do not describe
// its value (a hand edit, an interrupted write), decided from the certificate, never
// from a tag the sum does not bind: a hand-set certferry:directory once forced a
// ca-changed renewal of a certificate whose issuer had not changed. A version certferry
// wrote and never tagged, or one that chains to acme.issuer_roots (checked by the
// caller), is the configured CA's; without issuer_roots the CA is unknown ("": no
// ca-changed).
func (r *Runner) storedDirectory(s smsink.Stored) string {
	if s.Unfinished || r.settings.StoredRoots != nil {
		return r.settings.Directory
	}
	return ""
}

// keyMismatch is the stored state of a secret whose certificate and key both parse but
// do not belong together (a hand edit): no server can use it, so, like a certificate not
// from the CA, it is due (key-mismatch) now whatever its dates and replaced, not reported
// as unreadable and left alone. Its tags are not rewritten from it; its CA is unknown.
func (r *Runner) keyMismatch(w *work, leaf *x509.Certificate) scheduler.Stored {
	serial := certs.SerialHex(leaf)
	w.ariID, w.res.Serial = "", serial
	w.in.Untrusted = &scheduler.Problem{Reason: scheduler.ReasonKeyMismatch,
		Message: fmt.Sprintf("the stored key does not match the stored certificate (serial %s); it is replaced", serial)}
	return scheduler.Stored{Exists: true, Domains: leaf.DNSNames, KeyType: certs.KeyTypeOf(leaf.PublicKey), Profile: w.cert.Profile,
		NotBefore: leaf.NotBefore.UTC(), NotAfter: leaf.NotAfter.UTC(), IssuedAt: leaf.NotBefore.UTC()}
}

// untrusted checks a stored certificate read from its value against the CA's roots
// (Settings.StoredRoots): one that does not chain to them was not issued by the CA (a
// self-signed certificate placed by hand) and is replaced. The chain is checked at the
// certificate's own start, so an expired one is judged by its issuer, not its age.
func (r *Runner) untrusted(b *certs.Bundle) *scheduler.Problem {
	if r.settings.StoredRoots == nil {
		return nil
	}
	err := b.Verify(r.settings.StoredRoots, b.NotBefore.Add(time.Second))
	if err == nil {
		return nil
	}
	issuer := ""
	if b.Leaf != nil {
		issuer = b.Leaf.Issuer.String()
	}
	return &scheduler.Problem{Reason: scheduler.ReasonNotFromCA,
		Message: fmt.Sprintf("the stored certificate (serial %s, issuer %q) does not chain to acme.issuer_roots: %v; it is replaced", b.Serial, issuer, err)}
}

// wrongNames checks a stored value that certferry did not write (its tags, which the
// sum binds to the version certferry wrote, describe another version): a value copied
// by hand from another certificate's secret chains to the CA and its key matches, yet
// covers none of the configured names, and servers would load it. Its tags are not
// rewritten from it (they would make it certferry's own, a names change the issuance
// guard holds back for a day); it is due now and replaced once, the replacement being
// certferry's own. A deliberate names change keeps certferry's tags on its own
// version and is names-changed, as before.
func wrongNames(b *certs.Bundle, domains []string) *scheduler.Problem {
	var missing []string
	for _, d := range domains {
		if !covers(b.Domains, d) {
			missing = append(missing, d)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return &scheduler.Problem{Reason: scheduler.ReasonWrongNames,
		Message: fmt.Sprintf("the stored certificate (serial %s) covers %s, not the configured %s; it was not written by certferry and is replaced",
			b.Serial, strings.Join(b.Domains, ","), strings.Join(domains, ","))}
}

// covers reports whether a certificate for names serves name, as a TLS client matches
// it (RFC 6125: a wildcard stands for exactly one leftmost label).
func covers(names []string, name string) bool {
	name = strings.ToLower(name)
	for _, n := range names {
		n = strings.ToLower(n)
		if n == name {
			return true
		}
		if rest, ok := strings.CutPrefix(n, "*."); ok && !strings.HasPrefix(name, "*.") {
			if _, tail, found := strings.Cut(name, "."); found && tail == rest {
				return true
			}
		}
	}
	return false
}

// ariRetryOnError is how long after a failed ARI check (no ARI, a malformed answer, a
// server error) the CA is asked again. Meanwhile the lifetime rule decides; an hour keeps
// a broken ARI endpoint from being asked on every pass of every runner, and is short
// against the days a renewal window spans.
const ariRetryOnError = time.Hour

// ariWindow returns the CA's renewal window for a stored certificate, and the ARI state
// to record when it asked. To keep idle passes free of ACME requests it asks the CA only
// when the time the CA gave for the next check (kept with the state) has passed.
func (r *Runner) ariWindow(ctx context.Context, w *work, opts Options) (*scheduler.Window, map[string]string) {
	stored := w.in.Stored
	if !r.settings.ARI || !stored.Exists || w.ariID == "" || opts.Force || opts.DryRun || stored.Directory != "" && stored.Directory != r.settings.Directory {
		return nil, nil
	}
	now := r.deps.Now()
	if st := w.state.now; opts.Refresh || !st.ARINext.IsZero() && now.Before(st.ARINext) {
		if !st.ARIStart.IsZero() && !st.ARIEnd.IsZero() {
			return &scheduler.Window{Start: st.ARIStart, End: st.ARIEnd}, nil
		}
		return nil, nil
	}
	client, err := r.deps.ACME(ctx)
	if err != nil {
		r.log.Warn("ARI unavailable: the lifetime rule applies", zap.String("cert", w.cert.Name), zap.Error(err))
		return nil, nil
	}
	info, err := client.RenewalInfoByID(ctx, w.ariID)
	if err != nil {
		// A CA without ARI, or a broken answer (malformed, 500): fall back to the
		// lifetime rule, and ask again after ariRetryOnError rather than on every pass.
		retryAt := now.Add(ariRetryOnError)
		r.log.Warn("ARI check failed: the lifetime rule applies", zap.String("cert", w.cert.Name),
			zap.Time("ari_retry", retryAt), zap.Error(err))
		return nil, map[string]string{smsink.TagARIStart: "", smsink.TagARIEnd: "", smsink.TagARINext: smsink.FormatTime(retryAt)}
	}
	retry := info.RetryAfter
	if retry <= 0 || retry > 24*time.Hour {
		retry = 6 * time.Hour
	}
	r.log.Info("ARI window", zap.String("cert", w.cert.Name), zap.Time("start", info.Start), zap.Time("end", info.End))
	return &scheduler.Window{Start: info.Start, End: info.End}, map[string]string{
		smsink.TagARIStart: smsink.FormatTime(info.Start),
		smsink.TagARIEnd:   smsink.FormatTime(info.End),
		smsink.TagARINext:  smsink.FormatTime(now.Add(retry)),
	}
}

// repairTags rewrites the tags of a certferry secret whose tags were found not to
// describe its current value (a hand edit, a write interrupted before tagging, a write
// from outside certferry): tags are a cache, and a cache that is wrong is refreshed
// rather than read again on every pass. Never for a secret certferry does not own. The
// tags are written with the state at the end of the pass.
//
// A version certferry stored and never tagged (Stored.Unfinished: the runner stopped
// between its write and its one tag write, after the hooks) is recorded as that runner
// would have: its state cleared, and its on_renew hooks pending, so that they run now.
func (r *Runner) repairTags(w *work, b *certs.Bundle, s smsink.Stored, directory string) {
	if w.plan || s.Name != w.cert.Name || s.CurrentVersionID == "" {
		return
	}
	b.Name = w.cert.Name
	r.log.Warn("the secret's tags do not describe its value: they are rewritten from it", zap.String("cert", w.cert.Name),
		zap.String("secret", w.cert.Secret.Secret), zap.String("version_id", s.CurrentVersionID), zap.Bool("unfinished", s.Unfinished))
	// The profile and directory are not in the value: the configured profile, and the
	// directory storedDirectory found (never a tag the sum does not bind).
	t := smsink.Tagging{Bundle: b, Version: s.CurrentVersionID, Profile: w.cert.Profile, Directory: directory}
	if s.Unfinished {
		state := r.clearedState()
		state[smsink.TagIssued] = r.issued(w, b, r.deps.Now())
		if st := w.state.now; st.HooksOK && st.Hooks.Version == s.CurrentVersionID {
			delete(state, smsink.TagHooks) // this process ran them and remembers how far
			delete(state, smsink.TagHookError)
		} else if len(w.cert.OnRenew) > 0 {
			state[smsink.TagHooks] = smsink.HookProgress{Version: s.CurrentVersionID, StoredAt: r.deps.Now()}.String()
		}
		w.state.set(state)
	}
	w.state.describe(t)
}
