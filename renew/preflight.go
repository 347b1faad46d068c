package renew

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"go.uber.org/zap"

	"github.com/certferry/certferry/scheduler"
	smsink "github.com/certferry/certferry/sinks/secretsmanager"
)

// preflight enforces the rule "never order what cannot be stored" before any request
// to the CA: for every certificate about to be ordered, every name's hosted zone is
// found, and every sink can take this certificate (the secret is absent, or holds a
// certificate certferry stored for it, or --force; it is not scheduled for deletion, not
// the ACME account's secret, and no other configured certificate uses it under another
// name). A certificate that fails is blocked (see block). The checks cost a
// DescribeSecret and the zone lookups (cached) per due certificate; an idle pass makes
// none. A certificate not due (the issuance guard, backoff, not yet time) gets the
// checks the inventory alone can answer (secretConflict): a broken configuration (two
// certificates on one secret, two that swapped secrets) is failing, never green.
func (r *Runner) preflight(ctx context.Context, works []*work, inv map[string]smsink.Stored, opts Options) {
	var due []*work
	owners := r.secretOwners(inv)
	for _, w := range works {
		switch {
		case !w.alive():
		case w.decision.Due && !opts.Refresh:
			due = append(due, w)
		default:
			// Not due (the issuance guard, backoff, not yet time): a broken configuration
			// is still failing, never green. These checks read only the inventory.
			if err := r.secretConflict(w.cert, owners, inv); err != nil {
				r.block(ctx, w, sinkProblem{err}, opts)
			}
		}
	}
	if len(due) == 0 {
		return // a refresh (the daemon's re-read of shared state) stops here: no request
	}
	r.forEach(ctx, due, func(ctx context.Context, w *work) {
		in, err := r.checkSinks(ctx, w.cert, w.secret, inv, owners, opts)
		w.secret = in
		w.know(in)
		if err != nil {
			r.block(ctx, w, sinkProblem{err}, opts)
		}
	})
	r.persistPreflight(ctx, due, opts)
	// Zones: one Resolve for the whole pass, so a listing is shared.
	var recs []Record
	var owner []*work
	for _, w := range due {
		if !w.alive() || r.storesOnly(w) || w.persist != "" {
			continue // an issued or moved certificate only needs storing, a dns-persist-01 one has its records: no DNS-01
		}
		for _, fqdn := range challengeNames(w.cert.Domains) {
			recs = append(recs, w.cert.record(fqdn, ""))
			owner = append(owner, w)
		}
	}
	if len(recs) == 0 || r.deps.DNS == nil {
		return
	}
	errs := r.deps.DNS.Resolve(ctx, recs)
	failed := map[*work][]error{}
	for i, err := range errs {
		if err != nil {
			failed[owner[i]] = append(failed[owner[i]], err)
		}
	}
	for _, w := range due {
		if errs := failed[w]; len(errs) > 0 {
			r.block(ctx, w, fmt.Errorf("dns: %w", errors.Join(errs...)), opts)
		}
	}
}

// block stops w before any order for a problem found before asking the CA: gather's
// (already in the decision) or the preflight's, which is added to the decision made in
// plan (it keeps that decision's due time). No backoff is recorded (nothing was asked of
// the CA, and a backoff would hide the problem), but the problem is kept with the
// certificate's state (last error, failing since), and the on_failure hooks hear of it
// once per new problem, not on every pass.
func (r *Runner) block(ctx context.Context, w *work, err error, opts Options) {
	if !w.decision.Blocked {
		err = fmt.Errorf("not ordered: %w", err)
		r.setDecision(w, w.decision.Block(scheduler.Problem{Reason: ReasonPreflight, Message: err.Error()}), opts)
	}
	if err == nil {
		err = errors.New(w.decision.Message)
	}
	w.err, w.outcome = err, outcomeBlocked
	if w.plan {
		// A plan or a dry run reports it; it changes nothing, so it is no error log.
		r.log.Info("certificate would be refused", zap.String("cert", w.cert.Name), zap.Error(err))
	} else {
		r.log.Error("certificate failed", zap.String("cert", w.cert.Name), zap.Error(err))
	}
	if w.state.readOnly {
		return
	}
	if errors.As(err, new(sinkProblem)) {
		// The secret is not this certificate's to write (someone else's, another
		// certificate's, being deleted): the problem is remembered by this process only.
		w.state = newState(memoryState{mem: r.mem, name: w.cert.Name}, false, r.deps.Now)
		w.dryJournal = nil // never ordered: nothing to journal there either
	}
	st := w.state.now
	msg := smsink.EncodeText(err.Error())
	same := smsink.DecodeText(msg) == st.LastError && !st.FailingSince.IsZero()
	since := st.FailingSince
	if since.IsZero() {
		since = r.deps.Now()
	}
	// Counted on every pass (a stopped pass is an attempt that failed), but with no
	// backoff: the next pass checks again, and asks the CA nothing until it passes.
	w.state.set(map[string]string{smsink.TagLastError: msg, smsink.TagFailingSince: smsink.FormatTime(since), smsink.TagBlocked: fmt.Sprint(st.Blocked + 1)})
	if same {
		return // the same problem as on the last pass: already reported to the hooks
	}
	w.res.NewFailure = true
	r.runFailureHooks(ctx, w, err)
}

// sinkProblem is a preflight refusal of the certificate's secret itself: nothing is
// written to that secret, state included.
type sinkProblem struct{ error }

func (p sinkProblem) Unwrap() error { return p.error }

// secretOwners maps each secret, by its name in the inventory (a secret configured by
// ARN is found there too), to the configured certificates that use it.
func (r *Runner) secretOwners(inv map[string]smsink.Stored) map[string][]string {
	owners := map[string][]string{}
	for _, c := range r.certs {
		if c.Secret == nil {
			continue
		}
		key := c.Secret.Secret
		if s, ok := smsink.Lookup(inv, key); ok {
			key = s.Secret
		}
		owners[key] = append(owners[key], c.Name)
	}
	// A secret the inventory does not list (not yet written by certferry: made by
	// Terraform, say) may still be named once by name and once by ARN.
	for arn, names := range owners {
		for name := range owners {
			if sameSecretARN(arn, name) {
				owners[name] = append(owners[name], names...)
				delete(owners, arn)
				break
			}
		}
	}
	return owners
}

// checkSinks checks that c's sinks can take a new certificate for it. It returns what
// it learnt of c's secret (nil without one), which the store trusts in turn.
func (r *Runner) checkSinks(ctx context.Context, c Cert, known *smsink.Inspection, inv map[string]smsink.Stored, owners map[string][]string, opts Options) (*smsink.Inspection, error) {
	if c.File != nil && r.deps.Files != nil {
		if err := r.deps.Files.Preflight(*c.File); err != nil {
			return nil, fmt.Errorf("sinks.file: %w", err)
		}
	}
	if c.Secret == nil || r.deps.Secrets == nil {
		return nil, nil
	}
	// A secret the inventory lists is known from its tags and labels, as DescribeSecret
	// would tell (the inventory lists no secret scheduled for deletion); any other was
	// described by the plan (unlisted), or is now.
	var in smsink.Inspection
	if st, ok := smsink.Lookup(inv, c.Secret.Secret); ok {
		in = st.Inspection()
	} else if known != nil {
		in = *known
	} else {
		var err error
		if in, err = r.deps.Secrets.Inspect(ctx, *c.Secret); err != nil {
			return nil, fmt.Errorf("preflight: %w", err)
		}
	}
	if err := r.checkSecret(ctx, c, in, owners, opts); err != nil {
		return &in, err
	}
	if err := r.keyUnusable(ctx, c, in.KMSKeyID); err != nil {
		return &in, err
	}
	return &in, r.canRecord(ctx, c, in, opts)
}

// canRecord checks, before a renewal is ordered, that this role may write the state of
// c into its secret (secretsmanager:TagResource): the challenge journal, the first write
// of a renewal, comes after the new order, and its refusal abandons the order; the
// backoff that would hold the next run back cannot be written either, so every run (a
// one-shot renew every few minutes, a Lambda) would order again. The check writes the
// name tag the secret already has (CheckTagging: no effect), for a secret certferry
// tagged for c; a plan and a first issuance (its journal creates the secret) make none.
// A dry run makes it too: it journals its order there, and a role that may not would
// place an order at the dry-run CA (the configured CA itself, for a CA other than Let's
// Encrypt) on every run and abandon it. A refusal that retrying cannot fix needs a human;
// any other failure is logged and not checked (the journal's write then says what is
// wrong).
func (r *Runner) canRecord(ctx context.Context, c Cert, in smsink.Inspection, opts Options) error {
	if opts.Plan || !in.Exists || in.Name != c.Name {
		return nil
	}
	err := r.deps.Secrets.CheckTagging(ctx, *c.Secret, in.Name)
	if err == nil {
		return nil
	}
	if what, ok := storeNeedsHuman(err, c.Secret.Secret); ok {
		return fmt.Errorf("%s%s: its state (backoff, challenge journal) could not be recorded: %w", storeRefusedPrefix, what, err)
	}
	r.log.Warn("could not check that the certificate's state can be written; not checked before the order",
		zap.String("cert", c.Name), zap.String("secret", c.Secret.Secret), zap.Error(err))
	return nil
}

// checkSecret checks that c's secret, as in describes it, can take a new certificate
// for c.
func (r *Runner) checkSecret(ctx context.Context, c Cert, in smsink.Inspection, owners map[string][]string, opts Options) error {
	secret := c.Secret.Secret
	if err := r.sharedSecret(c, owners); err != nil {
		return err
	}
	room := smsink.CheckTagRoom(secret, in.Tags, c.Secret.Tags)
	switch {
	case room != nil:
		// First, even with --force and for a secret to be created: the state write of a
		// failure would be refused, and its backoff lost.
		return room
	case !in.Exists:
		return nil
	case in.Deleting:
		return fmt.Errorf("sinks.secretsmanager.secret %q is scheduled for deletion: restore it (aws secretsmanager restore-secret --secret-id %s) or name another secret", secret, secret)
	case in.Kind == smsink.KindAccount:
		return fmt.Errorf("sinks.secretsmanager.secret %q holds an ACME account: name another secret", secret)
	case opts.Force:
		return nil
	case in.Name != "" && in.Name != c.Name:
		return fmt.Errorf("sinks.secretsmanager.secret %q holds certificate %q, not %q: name another secret, or use --force to take it over", secret, in.Name, c.Name)
	case in.Name == "" && in.HasValue:
		// Not tagged by certferry: it may still be a certificate secret whose tags were
		// lost; anything else is someone else's and is never overwritten.
		if _, _, err := r.deps.Secrets.GetStage(ctx, secret, "AWSCURRENT"); err != nil {
			return fmt.Errorf("sinks.secretsmanager.secret %q holds something certferry did not write (%w): name another secret, or use --force to replace it (AWSPREVIOUS keeps the old value)", secret, err)
		}
	}
	return nil
}

// sharedSecret refuses c's secret when it is the ACME account's or another configured
// certificate's (perhaps named once by name and once by ARN).
func (r *Runner) sharedSecret(c Cert, owners map[string][]string) error {
	secret := c.Secret.Secret
	if a := r.settings.AccountSecret; a != "" && (secret == a || sameSecretARN(secret, a) || sameSecretARN(a, secret)) {
		return fmt.Errorf("sinks.secretsmanager.secret %q is the ACME account's secret (acme.account_secret): name another secret", secret)
	}
	key := secret
	found := false
	for k, names := range owners {
		for _, n := range names {
			if n == c.Name {
				key, found = k, true
			}
		}
	}
	if found && len(owners[key]) > 1 {
		return fmt.Errorf("sinks.secretsmanager.secret %q is also the secret of certificate(s) %s (perhaps named once by name and once by ARN): each certificate needs its own secret",
			secret, strings.Join(others(owners[key], c.Name), ", "))
	}
	return nil
}

// secretConflict is what the inventory alone says against c's secret, for a certificate
// not due: shared with another certificate or the account, or holding another
// certificate (two certificates that swapped secrets). It makes no request.
func (r *Runner) secretConflict(c Cert, owners map[string][]string, inv map[string]smsink.Stored) error {
	if c.Secret == nil || r.deps.Secrets == nil {
		return nil
	}
	if err := r.sharedSecret(c, owners); err != nil {
		return err
	}
	if s, ok := smsink.Lookup(inv, c.Secret.Secret); ok && s.Name != "" && s.Name != c.Name {
		return fmt.Errorf("sinks.secretsmanager.secret %q holds certificate %q, not %q: name another secret, or use --force to take it over", c.Secret.Secret, s.Name, c.Name)
	}
	return nil
}

// sameSecretARN reports whether arn is a full or partial ARN of the secret named name.
func sameSecretARN(arn, name string) bool {
	if !strings.HasPrefix(arn, "arn:") || strings.HasPrefix(name, "arn:") {
		return false
	}
	i := strings.Index(arn, ":secret:")
	if i < 0 {
		return false
	}
	rest := arn[i+len(":secret:"):]
	if rest == name {
		return true
	}
	suffix, ok := strings.CutPrefix(rest, name+"-")
	return ok && len(suffix) == 6
}

func others(names []string, self string) []string {
	var out []string
	for _, n := range names {
		if n != self {
			out = append(out, fmt.Sprintf("%q", n))
		}
	}
	return out
}

// challengeNames returns the distinct _acme-challenge names of domains (a wildcard
// shares its base name's).
func challengeNames(domains []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, d := range domains {
		n := "_acme-challenge." + strings.TrimSuffix(strings.TrimPrefix(d, "*."), ".") + "."
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}
