package renew

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/certferry/certferry/acme"
	"github.com/certferry/certferry/certs"
	smsink "github.com/certferry/certferry/sinks/secretsmanager"
)

// The challenge journal: before a pass publishes a certificate's DNS-01 records it
// writes, with the certificate's state, the order they belong to and until when a runner
// may still need them: "<needed-until RFC 3339> <order URL>", followed by the order's
// ACME directory when it is not the configured one, and always for a dry run's order.
// A normal pass removes the entry with its records. A runner killed in between (kill -9,
// a crash, a Lambda frozen for good) leaves the entry behind, and a later pass of any
// runner sweeps it: it reads the order back from the CA that holds it, with the account
// certferry keeps for that CA (the TXT values follow from the challenges' tokens and the
// account key, so nothing secret is journaled), and removes
//
//   - at once, the records whose authorization is no longer pending (validated,
//     invalid, deactivated or expired: no runner needs them any more);
//   - after the needed-until time, every record of the order (the runner that wrote it
//     would have given up by then: it is the pass's INSYNC and order timeouts).
//
// So a record a live concurrent runner still needs is never removed, and no stale value
// outlives the needed-until time by more than one pass. A dry run journals like a real
// pass, in the certificate's real state (work.journalState). See docs/architecture.md.
//
// A signed request goes only to a CA certferry has an account with: the configured one,
// or one whose account it stored (Deps.StoredACME never registers one). An entry naming
// any other directory, or an order on another host than its directory, is dropped unread.
//
// The journal's tags and their values are the sink's (smsink.JournalEntry).

// journal records w's order before its records are published, in a state write made
// at once (it carries the state changes the pass made so far; a dry run's, only the
// journal). w.journal is the tag used. An error (every slot in use, an order URL a tag
// cannot hold, a write refused) means the records must not be published: a run killed
// before its clean-up would leave them where no later pass could find them. A plan
// publishes nothing and journals nothing.
func (r *Runner) journal(ctx context.Context, w *work) error {
	if w.order == nil || len(w.order.Challenges) == 0 || !w.journals() {
		return nil
	}
	dir := r.entryDirectory(w)
	if !smsink.JournalFits(w.order.URL, dir) {
		return fmt.Errorf("the order URL %q (directory %q) cannot be kept in the challenge journal (a tag)", w.order.URL, dir)
	}
	js := w.journalState()
	if w.dry {
		// No lease holds other dry runs back: the slots are chosen as they are now, not
		// as the inventory read them before the order (two dry runs at once, each
		// waiting on its new order, took the same last slot and one entry was lost).
		js.rereadJournal(ctx)
	}
	tags := js.tags()
	for n := range smsink.JournalSlots {
		k := smsink.JournalTag(journalSlot(w, n))
		if tags[k] != "" {
			continue
		}
		until := r.deps.Now().Add(r.lease())
		entry := smsink.JournalEntry{Until: until, Order: w.order.URL, Directory: dir}
		if err := js.flush(ctx, map[string]string{k: entry.String()}); err != nil {
			// The order is abandoned unpublished: its entry, which the process remembers
			// as unwritten, must not be written later with the rest of the state.
			js.unremember(k)
			return fmt.Errorf("could not journal the order's DNS-01 records: %w", err)
		}
		if w.dry {
			// Read back: a dry run that chose the same slot a moment before wrote it
			// meanwhile; its entry stays and this one takes the next free slot.
			js.rereadJournal(ctx)
			if tags = js.tags(); tags[k] != entry.String() {
				continue
			}
		}
		w.journal = k
		return nil
	}
	return r.journalFull(w)
}

// journalSlot is the n-th slot w tries. A dry run takes no lease (it may run beside a
// real pass of another runner that read the same free slots) and tries the slots from the
// last: the two take the same slot, and one overwrites the other's entry, only when a
// single slot is free.
func journalSlot(w *work, n int) int {
	if w.dry {
		return smsink.JournalSlots - 1 - n
	}
	return n
}

// entryDirectory is the directory a journal entry of w's order names: "" for a real
// pass's order from the configured CA, else the CA the Runner orders from. A dry run's
// entry always names it, the configured CA included: a dry run takes no lease, and a
// named directory is how a runner that has just taken the lease tells an entry it must
// not count as dead (see sweepJournal).
func (r *Runner) entryDirectory(w *work) string {
	if !w.dry && r.settings.Directory == r.configuredDirectory() {
		return ""
	}
	return r.settings.Directory
}

// configuredDirectory is acme.directory (Settings.ConfiguredDirectory).
func (r *Runner) configuredDirectory() string {
	if r.settings.ConfiguredDirectory != "" {
		return r.settings.ConfiguredDirectory
	}
	return r.settings.Directory
}

// journalRoom reports, before an order is placed, that the journal has no free slot
// (the pass's sweep has already removed what it could): every slot holds an order of a
// run that may still need its records. Ordering would only end in an order that cannot
// be published.
func (r *Runner) journalRoom(w *work) error {
	if !w.journals() || len(smsink.JournalEntries(w.journalState().tags())) < smsink.JournalSlots {
		return nil
	}
	return r.journalFull(w)
}

// journalFull is the error of a full journal, saying when the first slot frees.
func (r *Runner) journalFull(w *work) error {
	var first time.Time
	for _, e := range smsink.JournalEntries(w.journalState().tags()) {
		if first.IsZero() || e.Until.Before(first) {
			first = e.Until
		}
	}
	return fmt.Errorf("every challenge journal slot (%d) holds an order of a run that may still need its records; the first frees at %s",
		smsink.JournalSlots, first.UTC().Format(time.RFC3339))
}

// unjournal clears a journal entry once its records are gone (written at the end of
// the pass).
func (r *Runner) unjournal(w *work, tag string) {
	if tag != "" {
		w.journalState().set(map[string]string{tag: ""})
	}
}

// sweep removes the records that journaled orders of earlier passes left behind and no
// runner needs any more (see smsink.TagChallenges), and clears their entries: those of
// each certificate's secret, and of the secrets it was renamed from (sweepRenamed).
func (r *Runner) sweep(ctx context.Context, works []*work, inv map[string]smsink.Stored) {
	for _, w := range works {
		if !w.journals() {
			return
		}
		if !r.sweepJournal(ctx, w, false) || !r.sweepRenamed(ctx, w, inv) {
			return
		}
	}
}

// sweepRenamed sweeps the journals that w's certificate left in a secret it was renamed
// from (docs/secret-format.md, "A renamed secret"): a run killed mid-order journaled its
// records there, and once the configuration names another secret no pass read that
// journal again, so its records stayed in the zone. Such a secret is certferry's, not
// the account's, configured for no certificate, and tagged with w's name or w's set of
// names; it is swept as w's own journal is (records removed once no runner needs them,
// entries cleared), except that an entry it cannot read (an order of another account: a
// secret of another configuration in the same AWS account, with the same name) is left
// for its own runner. Only its journal entries are written. Not in a dry run, which
// sweeps what it journaled itself.
func (r *Runner) sweepRenamed(ctx context.Context, w *work, inv map[string]smsink.Stored) bool {
	c := w.cert
	if c.Secret == nil || r.deps.Secrets == nil || w.dry || inv == nil {
		return true
	}
	taken := map[string]bool{}
	for _, ref := range append([]string{r.settings.AccountSecret}, r.configuredSecrets()...) {
		if st, ok := smsink.Lookup(inv, ref); ok {
			taken[st.Secret] = true
		}
	}
	hash := certs.HashDomains(c.Domains)
	for _, name := range slices.Sorted(maps.Keys(inv)) {
		st := inv[name]
		if taken[st.Secret] || st.Tags[smsink.TagKind] != "" || st.Tags[smsink.TagName] != c.Name && st.DomainsHash != hash ||
			len(smsink.JournalEntries(st.Tags)) == 0 {
			continue
		}
		old := c
		old.Secret = &smsink.Target{Secret: st.Secret}
		// A Memory of its own: what the old secret's write could not record is not the
		// configured certificate's; its entries stay, and the next pass sweeps again.
		sw := &work{cert: old, res: &Result{Name: c.Name}, borrowed: true}
		sw.state = newState(&secretState{secrets: r.deps.Secrets, target: *old.Secret, name: st.Tags[smsink.TagName], found: st.Tags, mem: NewMemory()},
			false, r.deps.Now)
		if !r.sweepJournal(ctx, sw, false) {
			return false
		}
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), stateWriteTimeout)
		err := sw.state.flush(sctx, nil)
		cancel()
		if err != nil {
			r.log.Warn("could not clear the journal of the secret this certificate was renamed from; a later pass sweeps it",
				zap.String("cert", c.Name), zap.String("secret", st.Secret), zap.Error(err))
		}
	}
	return true
}

// configuredSecrets are the secrets (names or ARNs, as configured) of every configured
// certificate.
func (r *Runner) configuredSecrets() []string {
	var out []string
	for _, c := range r.certs {
		if c.Secret != nil {
			out = append(out, c.Secret.Secret)
		}
	}
	return out
}

// sweepJournal sweeps w's journal. force removes every journaled record of a real pass
// at once, pending or not: for a runner that has just taken the certificate's lease,
// since no other runner may still need them (the runner that wrote them held the lease,
// which has expired). An entry that names its directory may be a live dry run's, which
// holds no lease: it keeps its time. It returns false when the CA this Runner orders
// from cannot be reached, to try on a later pass.
func (r *Runner) sweepJournal(ctx context.Context, w *work, force bool) bool {
	now := r.deps.Now()
	for _, e := range smsink.JournalEntries(w.journalState().tags()) {
		// A time further ahead than any runner writes (a skewed clock, a hand edit)
		// counts as past: it would keep a slot, and its records, for good.
		past := !now.Before(e.Until) || e.Until.After(now.Add(2*r.lease()))
		// expired: every record may go now. Only past drops an entry unread: a forced
		// sweep that cannot read the order cannot tell its records either, so the entry
		// stays (its time bounds it) and a later pass sweeps them.
		expired := past || force && e.Directory == ""
		dir := e.Directory
		if dir == "" {
			dir = r.configuredDirectory()
		}
		if e.Until.IsZero() || !sameHost(e.Order, dir) {
			// Unreadable, or an order at another host than its CA's: never fetched.
			if !w.borrowed {
				r.dropEntry(w, e, "a DNS-01 journal entry that cannot be read is dropped")
			}
			continue
		}
		client, err := r.orderReader(ctx, dir)
		switch {
		case errors.Is(err, acme.ErrNoAccount) && w.borrowed:
			continue
		case errors.Is(err, acme.ErrNoAccount):
			// A CA certferry has no account with: nothing signed is sent there.
			r.dropEntry(w, e, "a DNS-01 journal entry names an ACME directory certferry keeps no account for; it is dropped unread")
			continue
		case err != nil && dir == r.settings.Directory:
			r.log.Warn("cannot read journaled orders now; their records are swept on a later pass", zap.Error(err))
			return false
		case err != nil && past && !w.borrowed:
			// Past its time no runner needs the entry, and kept it would hold its slot for
			// good (an account that cannot be opened any more): four such entries fill the
			// journal and every order of the certificate is refused.
			r.log.Warn("a journaled order of another CA cannot be read (no client for its directory); past its time, its entry is dropped (check the zone for _acme-challenge values)",
				zap.String("cert", w.cert.Name), zap.String("order", e.Order), zap.String("directory", dir), zap.Error(err))
			r.unjournal(w, e.Tag)
			continue
		case err != nil:
			r.log.Warn("cannot read a journaled order of another CA now; its records are swept on a later pass",
				zap.String("cert", w.cert.Name), zap.String("directory", dir), zap.Error(err))
			continue
		}
		recs, err := client.OrderRecords(ctx, e.Order)
		if err != nil {
			if past && !w.borrowed {
				r.log.Warn("a journaled order cannot be read any more; its entry is dropped (check the zone for _acme-challenge values)",
					zap.String("cert", w.cert.Name), zap.String("order", e.Order), zap.Error(err))
				r.unjournal(w, e.Tag)
			} else if expired && !w.borrowed {
				r.log.Warn("cannot read a journaled order now; its entry is kept and its records are swept on a later pass",
					zap.String("cert", w.cert.Name), zap.String("order", e.Order), zap.Error(err))
			}
			continue
		}
		r.sweepRecords(ctx, w, e.Tag, e.Order, recs, expired)
	}
	return true
}

// dropEntry clears a journal entry the sweep cannot read, saying so (why) with what it
// held, so that an operator can look for its values in the zone.
func (r *Runner) dropEntry(w *work, e smsink.JournalEntry, why string) {
	r.log.Warn(why+" (check the zone for _acme-challenge values)", zap.String("cert", w.cert.Name),
		zap.String("entry", e.Order), zap.String("directory", e.Directory))
	r.unjournal(w, e.Tag)
}

// orderReader is a client that reads back orders placed with directory: the Runner's own
// for the directory it orders from, else one with the account certferry stored for that
// directory (Deps.StoredACME), never a new one.
func (r *Runner) orderReader(ctx context.Context, directory string) (ACME, error) {
	if directory == r.settings.Directory {
		return r.deps.ACME(ctx)
	}
	if r.deps.StoredACME == nil {
		return nil, fmt.Errorf("no client for %s: %w", directory, acme.ErrNoAccount)
	}
	return r.deps.StoredACME(ctx, directory)
}

// sweepRecords removes a journaled order's records that no runner needs (all of them
// once expired) and clears its entry (tag) when none is left.
func (r *Runner) sweepRecords(ctx context.Context, w *work, tag, order string, recs []acme.OrderRecord, expired bool) {
	var rm []Record
	done := true
	for _, rec := range recs {
		if rec.Pending && !expired {
			done = false // a live runner may still need it
			continue
		}
		rm = append(rm, w.cert.record(rec.FQDN, rec.Value))
	}
	if len(rm) > 0 {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.settings.CleanupTimeout)
		errs := r.deps.DNS.CleanUp(cctx, rm)
		cancel()
		for i, err := range errs {
			if err != nil {
				done = false
				r.log.Warn("could not remove a DNS-01 record an earlier run left", zap.String("cert", w.cert.Name),
					zap.String("fqdn", rm[i].FQDN), zap.Error(err))
			}
		}
		r.log.Info("removed DNS-01 records an earlier run left behind", zap.String("cert", w.cert.Name),
			zap.String("order", order), zap.Int("records", len(rm)))
	}
	if done {
		r.unjournal(w, tag)
	}
}

// lease is how long a runner may need the records it published.
func (r *Runner) lease() time.Duration {
	return r.settings.InsyncTimeout + r.settings.OrderTimeout + r.settings.CleanupTimeout
}

// sameHost reports whether the URLs a and b name the same host (and port).
func sameHost(a, b string) bool {
	ua, err1 := url.Parse(a)
	ub, err2 := url.Parse(b)
	return err1 == nil && err2 == nil && ua.Host != "" && strings.EqualFold(ua.Host, ub.Host)
}
