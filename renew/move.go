package renew

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/aws/smithy-go"
	"go.uber.org/zap"

	"github.com/certferry/certferry/certs"
	"github.com/certferry/certferry/scheduler"
	smsink "github.com/certferry/certferry/sinks/secretsmanager"
)

// A rename is not a new certificate (docs/secret-format.md, "A renamed secret"): when a
// certificate's configured secret holds no certificate and the inventory lists another
// certferry secret, configured for no certificate, whose tags say it holds a certificate
// for the same set of names from the same CA, that certificate is read, checked as any
// stored certificate is, and copied into the configured secret by the store phase (no
// order, no DNS-01), its on_renew hooks run as for a renewal. One that is due or fails a
// check is ordered as now, the issuance guard counting the old secret's issuances (also
// when the configured secret holds a certificate: a rename back). The old secret is left
// as it is. A certificate with only a file sink has no inventory to look in and is not
// moved.

// moved is the certificate found in the secret w's certificate was renamed from.
type moved struct {
	from   string        // the old secret's name
	bundle *certs.Bundle // its current value; set only when every check passed
}

// moveWant is what a secret must match to be the source of a move.
type moveWant struct {
	Secret    string   // the configured secret (holding no certificate)
	Domains   []string // the configured names
	Directory string   // the CA orders go to
	// Taken are the secrets (names or ARNs, as configured) that a configured certificate
	// uses, and the ACME account's: never a source.
	Taken []string
}

// moveSources returns the secrets of inv that may hold w's certificate from before its
// secret was renamed, the one to use first: the newest by the not-after its tags bind
// (certferry:sum), the secret's name breaking a tie, so every runner picks the same. A
// source is certferry's (certferry:name), not the account's (certferry:kind) nor retired,
// configured for no certificate, and its tags, bound to its current version, say it
// holds a certificate for the same set of names (certferry:domains-hash) from the same
// ACME directory. The certificate's configured name need not match: a certificate is its
// names and its CA, as the issuance guard and the CA's duplicate limit count it, so a
// certificate renamed along with its secret is found too.
func moveSources(inv map[string]smsink.Stored, want moveWant) []smsink.Stored {
	taken := map[string]bool{want.Secret: true}
	for _, s := range append([]string{want.Secret}, want.Taken...) {
		if s == "" {
			continue
		}
		taken[s] = true
		if st, ok := smsink.Lookup(inv, s); ok {
			taken[st.Secret] = true
		}
	}
	hash := certs.HashDomains(want.Domains)
	var out []smsink.Stored
	for _, st := range inv {
		switch {
		case taken[st.Secret] || taken[st.ARN] && st.ARN != "",
			st.Tags[smsink.TagName] == "", st.Tags[smsink.TagKind] != "", st.Tags[smsink.TagRetired] != "",
			!st.TagsCurrent, st.CurrentVersionID == "", st.NotAfter.IsZero(),
			st.DomainsHash != hash, st.Directory == "" || st.Directory != want.Directory:
			continue
		}
		out = append(out, st)
	}
	slices.SortFunc(out, func(a, b smsink.Stored) int {
		if c := b.NotAfter.Compare(a.NotAfter); c != 0 {
			return c
		}
		return cmp.Compare(a.Secret, b.Secret)
	})
	return out
}

// namesakes returns the secrets of inv that hold, or held, w's certificate under another
// secret (moveSources): the issuance guard counts what their tags record (w.movedIssued)
// whether or not w's configured secret holds a certificate, so that renaming a secret
// back to one that still holds an older certificate is no new certificate either; and a
// revocation recorded on any of them holds for the serial wherever it is stored. Their
// tags are in the inventory: the daemon's health_refresh, which reads no value, sees
// them as a pass does.
func (r *Runner) namesakes(w *work, inv map[string]smsink.Stored, opts Options) []smsink.Stored {
	c := w.cert
	if c.Secret == nil || r.deps.Secrets == nil || inv == nil || opts.DryRun || opts.Force {
		return nil
	}
	want := moveWant{Secret: c.Secret.Secret, Domains: c.Domains, Directory: r.settings.Directory, Taken: []string{r.settings.AccountSecret}}
	for _, o := range r.certs {
		if o.Secret != nil {
			want.Taken = append(want.Taken, o.Secret.Secret)
		}
	}
	srcs := moveSources(inv, want)
	now := r.deps.Now()
	for _, s := range srcs {
		w.movedIssued = append(w.movedIssued, smsink.DecodeState(s.Tags, now).Issued...)
	}
	return srcs
}

// revokedIn returns the revocation of serial recorded on any of srcs, and where.
func revokedIn(srcs []smsink.Stored, serial string) (smsink.Revocation, string, bool) {
	for _, s := range srcs {
		if rv, ok := smsink.Revoked(s.Tags, serial); ok {
			return rv, s.Secret, true
		}
	}
	return smsink.Revocation{}, "", false
}

// findMoved is gather's look for the certificate of w, whose configured secret holds
// none, in a secret it was renamed from (srcs, from namesakes); not in a refresh, which
// reads no secret value. It returns what is stored
// there, for the decision (the zero Stored when there is nothing to move, or no source's
// value reads as its tags say: then w is ordered as missing), and sets w.in.MoveFrom.
// The sources are read newest first, each once, until one holds the certificate its tags
// describe: one hand-edited or unreadable for good (a denied role or KMS key) does not
// hide an older one that does. A read that failed for a reason that may pass (throttling,
// a server error, a timeout) is returned as an error: w fails this pass, not ordered, as
// for its own secret; an order now would be a duplicate the guard could not see.
// w.moved.bundle is set only when the value passes every check of a stored certificate
// (chain, roots, key, revocation on any source), so that nothing unchecked is ever
// copied. Whether it is due is the decision's.
func (r *Runner) findMoved(ctx context.Context, w *work, srcs []smsink.Stored, opts Options) (scheduler.Stored, error) {
	c := w.cert
	if len(srcs) == 0 || opts.Refresh || r.mem.hasUnstored(c.Name) {
		return scheduler.Stored{}, nil
	}
	if len(srcs) > 1 {
		r.log.Warn("several secrets configured for no certificate hold this one; the newest is used", zap.String("cert", c.Name),
			zap.String("secret", srcs[0].Secret), zap.Int("sources", len(srcs)))
	}
	for _, src := range srcs {
		b, id, err := r.deps.Secrets.GetStage(ctx, src.Secret, "AWSCURRENT")
		switch {
		case err != nil && !moveReadFinal(err):
			return scheduler.Stored{}, fmt.Errorf("read secret %s, which this certificate was renamed from: %w", src.Secret, err)
		case err == nil && id != src.CurrentVersionID:
			err = fmt.Errorf("version %s is current, the inventory listed %s", id, src.CurrentVersionID)
		case err == nil && !scheduler.SameNames(b.Domains, c.Domains):
			err = fmt.Errorf("it holds a certificate for %v", b.Domains)
		}
		if err != nil {
			r.log.Warn("the secret this certificate was renamed from does not hold it as its tags say: not moved from there",
				zap.String("cert", c.Name), zap.String("from", src.Secret), zap.Error(err))
			continue
		}
		return r.movedFrom(w, src, srcs, b), nil
	}
	return scheduler.Stored{}, nil
}

// moveReadFinal reports whether err, reading a move's source, will not pass by itself:
// the secret or its value is gone or not a certificate, or the role may not read it (a
// secret of another deployment, a KMS key it cannot use, a deletion under way).
func moveReadFinal(err error) bool {
	if errors.Is(err, smsink.ErrNotFound) || errors.Is(err, smsink.ErrCorruptStored) || errors.Is(err, smsink.ErrAccessDenied) {
		return true
	}
	if _, human := storeNeedsHuman(err, ""); human {
		return true
	}
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == "DecryptionFailure"
}

// movedFrom is the stored state of w taken from src, whose value b read as its tags say.
func (r *Runner) movedFrom(w *work, src smsink.Stored, srcs []smsink.Stored, b *certs.Bundle) scheduler.Stored {
	c := w.cert
	w.in.MoveFrom, w.ariID, w.res.Serial = src.Secret, b.ARIID, b.Serial
	st := scheduler.Stored{Exists: true, Domains: b.Domains, KeyType: b.KeyType, Profile: src.Profile, Directory: src.Directory,
		NotBefore: b.NotBefore, NotAfter: b.NotAfter, IssuedAt: b.NotBefore}
	if p := r.moveProblem(b, src); p != nil {
		w.in.Untrusted = p
		w.ariID = ""
		return st
	}
	if rv, where, ok := revokedIn(srcs, b.Serial); ok {
		w.in.Revoked = "serial " + rv.Serial + " in secret " + where + " was revoked (" + rv.Reason + ")"
		return st
	}
	b.Name = c.Name // the stored JSON does not carry the configuration's name
	w.moved = &moved{from: src.Secret, bundle: b}
	return st
}

// moveProblem checks a certificate read from a move's source as the chain of an issued
// one is checked (Settings.Roots) and as a stored one is (acme.issuer_roots, untrusted),
// at its own start: its age is the decision's (expired, due). A problem makes it due now,
// never moved.
func (r *Runner) moveProblem(b *certs.Bundle, src smsink.Stored) *scheduler.Problem {
	if p := r.untrusted(b); p != nil {
		p.Message = "secret " + src.Secret + ": " + p.Message
		return p
	}
	if err := b.Verify(r.settings.Roots, b.NotBefore.Add(time.Second)); err != nil {
		return &scheduler.Problem{Reason: scheduler.ReasonNotFromCA,
			Message: fmt.Sprintf("the certificate in secret %s (serial %s) does not verify: %v; it is not moved, and is replaced", src.Secret, b.Serial, err)}
	}
	return nil
}

// carryIssued adds the issuances recorded on a move's sources to w's: the guard counts
// them in this decision, and the configured secret keeps them (written with its state),
// so renaming a secret back and forth with a change of key type or profile cannot issue
// the same names again and again.
func (r *Runner) carryIssued(w *work) {
	if len(w.movedIssued) == 0 {
		return
	}
	list := slices.Clone(w.state.now.Issued)
	for _, is := range w.movedIssued {
		if !slices.Contains(list, is) {
			list = append(list, is)
		}
		si := scheduler.Issued{Key: is.Key, At: is.At}
		if !slices.Contains(w.in.Issued, si) {
			w.in.Issued = append(w.in.Issued, si)
		}
	}
	slices.SortStableFunc(list, func(a, b smsink.Issuance) int { return a.At.Compare(b.At) })
	if enc := smsink.EncodeIssued(list, r.deps.Now()); enc != w.state.tags()[smsink.TagIssued] {
		w.state.set(map[string]string{smsink.TagIssued: enc}) // once: a pass held by the guard writes nothing
	}
}

// storesOnly reports whether w, due, needs no order: a certificate issued by an earlier
// pass waits to be stored, or one is moved from the secret w was renamed from.
func (r *Runner) storesOnly(w *work) bool {
	return r.mem.hasUnstored(w.cert.Name) || w.decision.Reason == scheduler.ReasonMoved && w.moved != nil
}

// takeMoved readies w's move for the store phase, as takeUnstored does a certificate
// issued earlier; false when w has nothing to move.
func (r *Runner) takeMoved(w *work) bool {
	if w.decision.Reason != scheduler.ReasonMoved || w.moved == nil {
		return false
	}
	r.log.Info("moving the certificate from the secret it was renamed from", zap.String("cert", w.cert.Name),
		zap.String("from", w.moved.from), zap.String("serial", w.moved.bundle.Serial), zap.Time("not_after", w.moved.bundle.NotAfter))
	w.res.Action, w.issued = ActionMove, w.moved.bundle
	return true
}

// movedDone logs, once a move is stored, that the old secret is left as it was.
func (r *Runner) movedDone(w *work) {
	if w.res.Action != ActionMove || !w.alive() || w.res.Bundle == nil {
		return
	}
	r.log.Info("moved: the old secret is left untouched; delete it (or retire it) once nothing reads it", zap.String("cert", w.cert.Name),
		zap.String("from", w.moved.from), zap.String("secret", w.cert.Secret.Secret), zap.String("version_id", w.res.VersionID))
}
