package renew

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/certferry/certferry/acme"
	"github.com/certferry/certferry/config"
	"github.com/certferry/certferry/limits"
	"github.com/certferry/certferry/scheduler"
	smsink "github.com/certferry/certferry/sinks/secretsmanager"
)

// The CA's issuance limits (docs/pacing.md, "The CA's limits"): before ordering, a pass
// plans its new orders inside acme.limits (package limits) and holds back what does not
// fit; while ordering, new orders go one at a time through a gate that, after the CA
// answered rateLimited, sends none but ARI renewals (exempt at the CA). A held-back certificate is waiting, not failing: its
// condition stays due, and the summary says until when.

// ActionWait: the certificate is due and waits for the CA's limit (Result.WaitingUntil).
const ActionWait Action = "wait"

// limitRateLimited names the CA's own rateLimited answer as the limit that holds.
const limitRateLimited = "rateLimited"

// x509Slack: certificate times are whole seconds, cut down; the CA counted the order
// up to a second later than a not_before says.
const x509Slack = time.Second

// defaultCAStop is how long new orders stop after a rateLimited answer without
// Retry-After.
const defaultCAStop = time.Minute

// maxCAStop bounds how long new orders stop after a rateLimited answer: Let's Encrypt's
// longest window is 7 days, so a longer Retry-After (a year, from a garbled or hostile
// answer) is no limit's; unbounded, it held every new order of the process, certificates
// about to expire included, until it restarted, while other runners read the recorded
// stop as at most 7 days (certferry:ca-wait).
const maxCAStop = 7 * 24 * time.Hour

// ledgerEntry is a new order this process made. stored is the not_before of the
// certificate it stored from the order (zero while none): the entry then stands for that
// stored certificate, counted from when it was ordered rather than from a not_before the
// CA may have backdated, and still counts once a later certificate replaced it.
type ledgerEntry struct {
	name    string
	at      time.Time
	domains []string
	stored  time.Time
}

// limitMemory is what a process remembers of the CA's limits, per directory: the ledger
// of the orders it made inside the longest window (the stored certificates say the rest),
// and until when the CA refused new orders. It lives in Memory, so the daemon's passes
// and reloads share it; a one-shot run starts without it (docs/pacing.md).
type limitMemory struct {
	mu      sync.Mutex
	ledger  map[string][]ledgerEntry // by directory
	stopped map[string]caStop        // by directory
}

// caStop is until when the CA's rateLimited answers stop new orders: until, the orders
// its limits count; exempt, the ARI renewals its limits exempt too (set only once the
// CA refused one of those: a renewal it exempts still goes while first issuances wait).
type caStop struct{ until, exempt time.Time }

// of returns the end of the stop for an order (exempt or not); zero when none.
func (s caStop) of(exempt bool) time.Time {
	if exempt {
		return s.exempt
	}
	return s.until
}

// add extends the stop to until, for exempt orders as well when exempt.
func (s *caStop) add(until time.Time, exempt bool) {
	s.until = later(s.until, until)
	if exempt {
		s.exempt = later(s.exempt, until)
	}
}

func newLimitMemory() *limitMemory {
	return &limitMemory{ledger: map[string][]ledgerEntry{}, stopped: map[string]caStop{}}
}

// record adds e, dropping what left the longest window; with no limit known (longest
// zero) nothing reads the ledger, and it keeps nothing.
func (m *limitMemory) record(dir string, e ledgerEntry, longest time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ledger[dir] = slices.DeleteFunc(m.ledger[dir], func(o ledgerEntry) bool { return !o.at.Add(longest).After(e.at) })
	if longest > 0 {
		m.ledger[dir] = append(m.ledger[dir], e)
	}
}

// storedNow marks name's entries not yet stored as the certificate stored with
// notBefore: an order that failed before and the one that succeeded are both counted,
// once each, from when they were placed.
func (m *limitMemory) storedNow(dir, name string, notBefore time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, e := range m.ledger[dir] {
		if e.name == name && e.stored.IsZero() {
			m.ledger[dir][i].stored = notBefore
		}
	}
}

// entries returns the ledger of dir, dropping what left the longest window.
func (m *limitMemory) entries(dir string, now time.Time, longest time.Duration) []ledgerEntry {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ledger[dir] = slices.DeleteFunc(m.ledger[dir], func(e ledgerEntry) bool { return !e.at.Add(longest).After(now) })
	return slices.Clone(m.ledger[dir])
}

func (m *limitMemory) stop(dir string, until time.Time, exempt bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.stopped[dir]
	s.add(until, exempt)
	m.stopped[dir] = s
}

func (m *limitMemory) stoppedUntil(dir string) caStop {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.stopped[dir]
}

func longestWindow(l config.Limits) time.Duration {
	return max(l.NewOrders.Window, l.PerRegisteredDomain.Window, l.Duplicates.Window)
}

// holdForLimits returns the due certificates a pass orders now and marks the others
// waiting: while the CA's rateLimited answer holds, all but the ARI renewals it exempts;
// of the rest, those that do not fit acme.limits. A dry run (another CA, nothing stored) is never held.
func (r *Runner) holdForLimits(works, due []*work, inv map[string]smsink.Stored, opts Options, sum *Summary) []*work {
	if opts.DryRun {
		return due
	}
	now := r.deps.Now()
	dir := r.settings.Directory
	stop := r.mem.limits.stoppedUntil(dir)
	// A runner before this one met the CA's rateLimited answer (a one-shot run, a
	// Lambda's other instance): its Retry-After, recorded with the refused certificate,
	// holds, whichever certificates this run is about (--only).
	for _, w := range works {
		stop.add(w.state.now.CAWait, false)
	}
	for _, s := range inv {
		if d := s.Tags[smsink.TagDirectory]; d == "" || d == dir {
			stop.add(smsink.DecodeState(s.Tags, now).CAWait, false)
		}
	}
	var orders []*work // due certificates that would place a new order, not stopped
	var cands []limits.Candidate
	for _, w := range due {
		if r.storesOnly(w) {
			continue
		}
		c := r.candidate(w, opts, now)
		if until := stop.of(w.exempt); now.Before(until) {
			r.wait(w, until, limitRateLimited, "the CA answered rateLimited")
			continue
		}
		orders, cands = append(orders, w), append(cands, c)
	}
	l := r.settings.Limits
	if l == (config.Limits{}) {
		return r.notWaiting(due)
	}
	plan := limits.Decide(limits.Input{Limits: l, Issued: r.issuances(works, inv, now), Due: cands, Now: now})
	sum.LimitRemaining = plan.Remaining
	for _, w := range orders {
		if h, held := plan.Held[w.cert.Name]; held {
			r.wait(w, h.Until, h.Limit, "")
		}
	}
	if n := len(plan.Held); n > 0 {
		r.log.Info("holding back what does not fit the CA's limits", zap.Int("ordering", len(plan.Order)), zap.Int("waiting", n),
			zap.Time("window_frees", plan.Next()))
	}
	return r.notWaiting(due)
}

func (r *Runner) notWaiting(due []*work) []*work {
	return slices.DeleteFunc(slices.Clone(due), func(w *work) bool { return w.res.Action == ActionWait })
}

// candidate describes w's order to the planner.
func (r *Runner) candidate(w *work, opts Options, now time.Time) limits.Candidate {
	c := limits.Candidate{Name: w.cert.Name, Domains: w.cert.Domains, Kind: limits.First, NotAfter: w.in.Stored.NotAfter}
	sameCA := w.in.Stored.Directory == "" || w.in.Stored.Directory == r.settings.Directory
	switch {
	case w.in.Stored.Exists && w.decision.Reason == scheduler.ReasonARIWindow && w.ariID != "" && sameCA:
		c.Kind = limits.ARIRenewal
	case w.in.Stored.Exists && scheduler.SameNames(w.in.Stored.Domains, w.cert.Domains):
		c.Kind = limits.Renewal
	}
	// An operator's --force, and a certificate about to expire, are never held back by
	// certferry's own count; only the CA's answer can stop them.
	c.Emergency = opts.Force || w.in.Stored.Exists && scheduler.InEmergency(w.in.Stored.NotBefore, w.in.Stored.NotAfter, now)
	w.exempt = c.Kind == limits.ARIRenewal
	return c
}

// issuances lists what counts against the limits: every stored certificate, from its
// not_before (the configured ones, and every other certferry secret in the inventory),
// and the ledger's orders not stored.
func (r *Runner) issuances(works []*work, inv map[string]smsink.Stored, now time.Time) []limits.Issuance {
	var out []limits.Issuance
	ledger := r.mem.limits.entries(r.settings.Directory, now, longestWindow(r.settings.Limits))
	seen := map[string]bool{}
	// A certificate counts once, whichever secrets hold it: one moved from the secret it
	// was renamed from (move.go) is in both. Only a serial bound to the secret's value
	// (TagsCurrent) is trusted for that: stale tags name a certificate the secret may no
	// longer hold, and it counts on its own.
	serials := map[string]bool{}
	for _, w := range works {
		if w.cert.Secret != nil {
			seen[w.cert.Secret.Secret] = true
		}
		if w.in.Stored.Exists && w.res.Serial != "" {
			serials[w.res.Serial] = true
		}
		if w.in.Stored.Exists && !w.in.Stored.NotBefore.IsZero() {
			at := w.in.Stored.NotBefore.Add(x509Slack)
			// This process ordered it: it counts from the order, which the ledger entry
			// standing for it says (a CA backdates not_before), and only once.
			if i := slices.IndexFunc(ledger, func(e ledgerEntry) bool {
				return e.name == w.cert.Name && e.stored.Equal(w.in.Stored.NotBefore)
			}); i >= 0 {
				at = later(at, ledger[i].at)
				ledger = slices.Delete(ledger, i, i+1)
			}
			out = append(out, limits.Issuance{At: at, Domains: w.in.Stored.Domains})
		}
	}
	for _, secret := range slices.Sorted(maps.Keys(inv)) {
		s := inv[secret]
		bound := s.Serial != "" && s.TagsCurrent
		if seen[secret] || seen[s.ARN] || s.NotBefore.IsZero() || len(s.Domains) == 0 || bound && serials[s.Serial] {
			continue
		}
		if bound {
			serials[s.Serial] = true
		}
		out = append(out, limits.Issuance{At: s.NotBefore.Add(x509Slack), Domains: s.Domains})
	}
	for _, e := range ledger {
		out = append(out, limits.Issuance{At: e.at, Domains: e.domains})
	}
	return out
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// wait marks w waiting for the CA's limit until until.
func (r *Runner) wait(w *work, until time.Time, limit, detail string) {
	w.res.Action = ActionWait
	w.res.WaitingUntil = until
	w.res.Message = fmt.Sprintf("waiting for the CA's limit until %s (%s)", until.UTC().Format(time.RFC3339), limit)
	if detail != "" {
		w.res.Message += ": " + detail
	}
	r.log.Info("waiting for the CA's limit", zap.String("cert", w.cert.Name), zap.String("limit", limit), zap.Time("until", until))
}

// orderGate sends a pass's new-order requests one at a time and, after the CA answered
// one with rateLimited, none but ARI renewals (which its limits exempt; after it refused
// one of those too, none at all): the certificates behind it wait until its Retry-After,
// and a pass meets no second rateLimited from the orders the CA counts.
type orderGate struct {
	r    *Runner
	turn chan struct{} // holds a token while a new order is in flight

	mu   sync.Mutex
	stop caStop // set once the CA answered rateLimited
}

var _ acme.NewOrderGate = (*workGate)(nil)

// caStopped is the error of an order the gate kept back.
type caStopped struct{ until time.Time }

func (e *caStopped) Error() string {
	return "not sent: the CA answered rateLimited; no new order before " + e.until.UTC().Format(time.RFC3339)
}

func (r *Runner) newOrderGate() *orderGate {
	return &orderGate{r: r, turn: make(chan struct{}, 1)}
}

// workGate is the gate as one certificate's order passes it: an accepted order not
// exempt from the limits goes into the ledger.
type workGate struct {
	g *orderGate
	w *work
}

func (g *orderGate) forWork(w *work) acme.NewOrderGate { return &workGate{g: g, w: w} }

func (wg *workGate) Enter(ctx context.Context) error {
	g := wg.g
	select {
	case g.turn <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	g.mu.Lock()
	until := g.stop.of(wg.w.exempt)
	g.mu.Unlock()
	if !until.IsZero() {
		<-g.turn
		return &caStopped{until: until}
	}
	return nil
}

func (wg *workGate) Leave(err error) {
	g, r := wg.g, wg.g.r
	defer func() { <-g.turn }()
	now := r.deps.Now()
	var rl *acme.RateLimitedError
	switch {
	case errors.As(err, &rl):
		wait := rl.RetryAfter
		if wait <= 0 {
			wait = defaultCAStop
		}
		// Rounded up to a whole second, as certferry:ca-wait records it: the process, the
		// summary and the runners after it then agree on when the stop ends.
		until := now.Add(min(wait, maxCAStop) + time.Second - 1).Truncate(time.Second)
		g.mu.Lock()
		g.stop.add(until, wg.w.exempt)
		g.mu.Unlock()
		wg.w.caRefused = until
		r.mem.limits.stop(r.settings.Directory, until, wg.w.exempt)
		r.log.Warn("the CA answered rateLimited: no new order before its Retry-After", zap.String("cert", wg.w.cert.Name),
			zap.Time("until", until), zap.Error(err))
	case err == nil && !wg.w.exempt:
		r.mem.limits.record(r.settings.Directory, ledgerEntry{name: wg.w.cert.Name, at: now, domains: wg.w.cert.Domains},
			longestWindow(r.settings.Limits))
	}
}

// caHeld reports whether err (a Begin's) is the CA's rateLimited answer to w's new order,
// or the gate keeping w's order back after one, and marks w waiting when it is. A
// rateLimited answer to another request (reading an authorization) is a failure like
// any other.
func (r *Runner) caHeld(w *work, err error) bool {
	var stopped *caStopped
	switch {
	case errors.As(err, &stopped):
		r.wait(w, stopped.until, limitRateLimited, "the CA answered rateLimited")
	case !w.caRefused.IsZero():
		r.wait(w, w.caRefused, limitRateLimited, err.Error())
		// Recorded with the certificate, so that no runner sends a new order before it.
		w.state.set(map[string]string{smsink.TagCAWait: smsink.FormatTime(w.caRefused)})
	default:
		return false
	}
	return true
}
