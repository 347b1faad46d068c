package renew

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/certferry/certferry/acme"
	smsink "github.com/certferry/certferry/sinks/secretsmanager"
)

// The challenge journal: before a pass publishes a certificate's DNS-01 records it
// writes, with the certificate's state, the order they belong to and until when a runner
// may still need them: "<needed-until RFC 3339> <order URL>". A normal pass removes the
// entry with its records. A runner killed in between (kill -9, a crash, a Lambda frozen
// for good) leaves the entry behind, and a later pass of any runner sweeps it: it reads
// the order back from the CA (the TXT values follow from the challenges' tokens and the
// account key, so nothing secret is journaled) and removes
//
//   - at once, the records whose authorization is no longer pending (validated,
//     invalid, deactivated or expired: no runner needs them any more);
//   - after the needed-until time, every record of the order (the runner that wrote it
//     would have given up by then: it is the pass's INSYNC and order timeouts).
//
// So a record a live concurrent runner still needs is never removed, and no stale value
// outlives the needed-until time by more than one pass. See docs/architecture.md.
//
// The journal's tags and their values are the sink's (smsink.JournalEntry).

// journal records w's order before its records are published, in a state write made
// at once (it carries the state changes the pass made so far). w.journal is the tag
// used. An error (every slot in use, an order URL a tag cannot hold, a write refused)
// means the records must not be published: a run killed before its clean-up would leave
// them where no later pass could find them. A plan or a dry run journals nothing (its
// state is its own Memory, and the sweep reads orders back only from the configured CA):
// what a killed dry run can leave is in docs/architecture.md ("A dry run is not
// journaled").
func (r *Runner) journal(ctx context.Context, w *work) error {
	if w.order == nil || len(w.order.Challenges) == 0 || w.plan {
		return nil
	}
	if !smsink.JournalFits(w.order.URL, "") {
		return fmt.Errorf("the order URL %q cannot be kept in the challenge journal (a tag)", w.order.URL)
	}
	tags := w.state.tags()
	for i := range smsink.JournalSlots {
		k := smsink.JournalTag(i)
		if tags[k] != "" {
			continue
		}
		until := r.deps.Now().Add(r.lease())
		if err := w.state.flush(ctx, map[string]string{k: smsink.JournalEntry{Until: until, Order: w.order.URL}.String()}); err != nil {
			return fmt.Errorf("could not journal the order's DNS-01 records: %w", err)
		}
		w.journal = k
		return nil
	}
	return r.journalFull(w)
}

// journalRoom reports, before an order is placed, that the journal has no free slot
// (the pass's sweep has already removed what it could): every slot holds an order of a
// run that may still need its records. Ordering would only end in an order that cannot
// be published.
func (r *Runner) journalRoom(w *work) error {
	if w.plan || len(smsink.JournalEntries(w.state.tags())) < smsink.JournalSlots {
		return nil
	}
	return r.journalFull(w)
}

// journalFull is the error of a full journal, saying when the first slot frees.
func (r *Runner) journalFull(w *work) error {
	var first time.Time
	for _, e := range smsink.JournalEntries(w.state.tags()) {
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
		w.state.set(map[string]string{tag: ""})
	}
}

// sweep removes the records that journaled orders of earlier passes left behind and no
// runner needs any more (see smsink.TagChallenges), and clears their entries.
func (r *Runner) sweep(ctx context.Context, works []*work) {
	for _, w := range works {
		if w.plan {
			return
		}
		if !r.sweepJournal(ctx, w, false) {
			return
		}
	}
}

// sweepJournal sweeps w's journal. force removes every journaled record at once, pending
// or not: for a runner that has just taken the certificate's lease, since no other
// runner may still need them (the runner that wrote them held the lease, which has
// expired). It returns false when the CA cannot be reached, to try on a later pass.
func (r *Runner) sweepJournal(ctx context.Context, w *work, force bool) bool {
	now := r.deps.Now()
	for _, e := range smsink.JournalEntries(w.state.tags()) {
		// A time further ahead than any runner writes (a skewed clock, a hand edit)
		// counts as past: it would keep a slot, and its records, for good.
		expired := force || !now.Before(e.Until) || e.Until.After(now.Add(2*r.lease()))
		if e.Until.IsZero() || !sameHost(e.Order, r.settings.Directory) {
			// Unreadable, or an order at another host than the CA's: never fetched
			// (a signed request goes only to the configured CA).
			r.log.Warn("a DNS-01 journal entry that cannot be read is dropped (check the zone for _acme-challenge values)",
				zap.String("cert", w.cert.Name), zap.String("entry", e.Order))
			r.unjournal(w, e.Tag)
			continue
		}
		client, err := r.deps.ACME(ctx)
		if err != nil {
			r.log.Warn("cannot read journaled orders now; their records are swept on a later pass", zap.Error(err))
			return false
		}
		recs, err := client.OrderRecords(ctx, e.Order)
		if err != nil {
			if expired {
				r.log.Warn("a journaled order cannot be read any more; its entry is dropped (check the zone for _acme-challenge values)",
					zap.String("cert", w.cert.Name), zap.String("order", e.Order), zap.Error(err))
				r.unjournal(w, e.Tag)
			}
			continue
		}
		r.sweepRecords(ctx, w, e.Tag, e.Order, recs, expired)
	}
	return true
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
