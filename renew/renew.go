// Package renew runs one pass of certferry's job: read what the sinks hold, decide what
// is due (package scheduler), obtain the due certificates through ACME DNS-01 with every
// TXT record of the pass in one Route 53 change per zone, store them, and report.
//
// A pass is safe to repeat and to run from several places at once: the stored secret is
// the source of truth, writes are idempotent, and TXT records are always cleaned up,
// under a fresh context when the pass's own context was cancelled.
//
// The package never logs key material: bundles are logged by name, names and dates only.
package renew

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/certferry/certferry/acme"
	"github.com/certferry/certferry/certs"
	"github.com/certferry/certferry/config"
	"github.com/certferry/certferry/hooks"
	"github.com/certferry/certferry/scheduler"
	"github.com/certferry/certferry/sinks/file"
	smsink "github.com/certferry/certferry/sinks/secretsmanager"
)

// ACME is the part of the ACME client a pass uses.
type ACME interface {
	Begin(ctx context.Context, req acme.OrderRequest) (*acme.Order, error)
	Complete(ctx context.Context, o *acme.Order) (*acme.Certificate, error)
	Abandon(ctx context.Context, o *acme.Order) error
	RenewalInfoByID(ctx context.Context, certID string) (*acme.RenewalInfo, error)
	// OrderRecords reads back an order placed earlier (the challenge journal's sweep).
	OrderRecords(ctx context.Context, orderURL string) ([]acme.OrderRecord, error)
}

// SecretStore is where certificates and their state are kept (the Secrets Manager
// sink). As autocert's Cache, it loads, saves and tags, no more; its contract is the
// sink's (docs/secret-format.md):
//   - Inventory lists every stored certificate from its tags alone (no value read);
//   - Inspect describes one secret that the inventory does not list;
//   - GetStage loads a version's certificate (smsink.ErrNotFound when there is none);
//   - Save writes a certificate's value (a compare-and-swap on AWSCURRENT) and no tag;
//   - WriteTags writes, in one call, the tags that describe a stored version and state
//     tags (an empty value clears one), creating a secret without a value when needed;
//   - CheckTagging writes a tag with the value it already has (no effect), to learn
//     before an order whether the secret's state can be written.
type SecretStore interface {
	Inventory(ctx context.Context) (map[string]smsink.Stored, error)
	Inspect(ctx context.Context, t smsink.Target) (smsink.Inspection, error)
	GetStage(ctx context.Context, secret, stage string) (*certs.Bundle, string, error)
	Save(ctx context.Context, t smsink.Target, b *certs.Bundle, opts smsink.StoreOptions) (smsink.Saved, error)
	WriteTags(ctx context.Context, t smsink.Target, tags smsink.Tagging) error
	CheckTagging(ctx context.Context, t smsink.Target, name string) error
}

var _ SecretStore = (*smsink.Sink)(nil)

// FileStore is the PEM file sink.
type FileStore interface {
	Store(ctx context.Context, t file.Target, b *certs.Bundle) error
	Load(dir string) (*certs.Bundle, error)
	// Preflight finds, writing nothing, what would make Store fail whatever the
	// certificate (an owner that does not resolve, a directory path through a file).
	Preflight(t file.Target) error
	// LoadState and SaveState keep the state of a certificate with no secret in a small
	// file next to its files (file.StateFile), so that it outlives the process.
	LoadState(t file.Target) (map[string]string, error)
	SaveState(ctx context.Context, t file.Target, tags map[string]string) error
}

// Cert is one configured certificate, as the pass needs it.
type Cert struct {
	Name    string
	Domains []string
	KeyType string
	Profile string
	ZoneID  string
	DNS     Route // CNAME following, alias, zones per name (dns: keys)
	// Challenge is "dns-persist-01" (ChallengeDNSPersist01) for standing
	// _validation-persist records (persist.go), anything else for dns-01.
	Challenge string
	// PersistUntil, with dns-persist-01: the records' persistUntil is this far ahead
	// when written; zero writes none.
	PersistUntil time.Duration
	RenewBefore  time.Duration
	Secret       *smsink.Target // nil: no Secrets Manager sink
	File         *file.Target   // nil: no file sink
	// OnRenew run in order once every sink stored a new certificate; OnFailure when it
	// failed (docs/hooks.md).
	OnRenew   []hooks.Hook
	OnFailure []hooks.Hook
}

// Settings are the pass-wide knobs.
type Settings struct {
	Concurrency int
	Guard       time.Duration // issuance guard
	Interval    time.Duration // fixed period of an outside scheduler (Lambda), 0 otherwise
	ARI         bool
	// Roots verify issued chains before they are stored; nil uses the system roots.
	Roots *x509.CertPool
	// StoredRoots, when set (acme.issuer_roots), are the roots a stored certificate must
	// chain to: one that does not (a self-signed certificate written into the secret by
	// hand) is due with reason not-from-ca and replaced. nil: not checked.
	StoredRoots *x509.CertPool
	// CleanupTimeout bounds TXT cleanup after the pass's context ended (a Lambda sets it
	// inside its safety margin).
	CleanupTimeout time.Duration
	// InsyncTimeout is the DNS provider's bound on one INSYNC wait: with OrderTimeout and
	// CleanupTimeout it says how long a runner may need its DNS-01 records (the
	// challenge journal's needed-until time).
	InsyncTimeout time.Duration
	// OrderTimeout bounds completing one order (validation, finalize, download), so an
	// order the CA leaves "processing" cannot hold a pass forever. Default 20m.
	OrderTimeout time.Duration
	// MinOrderTime: when set and the pass's context has a deadline, no order begins with
	// less than this left (the Lambda sets it: Begin, one INSYNC wait, validation and
	// finalize must fit before the invocation ends).
	MinOrderTime time.Duration
	// Directory is the ACME directory URL orders go to. It is recorded with every stored
	// certificate, so a change of CA is seen (reason ca-changed) and the ARI "replaces"
	// is sent only to the CA that issued the certificate being replaced.
	Directory string
	// ConfiguredDirectory is acme.directory when Directory is another (a dry run orders
	// from the dry-run CA): the challenge journal's entries of orders from Directory then
	// name it, and the sweep reads entries that name no directory from this one. ""
	// means Directory.
	ConfiguredDirectory string
	// AccountSecret is the secret that holds the ACME account (empty: a file store): no
	// certificate may be stored in it.
	AccountSecret string
	// Limits are the CA's issuance limits (acme.limits) new orders are planned inside;
	// zero: none known.
	Limits config.Limits
	// TrustChainTop verifies an issued chain up to its own topmost certificate instead of
	// Roots: set for a dry run against another CA than the configured one (Let's
	// Encrypt's staging CA), whose roots no trust store holds. The leaf's signature,
	// names, dates and usage are still checked.
	TrustChainTop bool
}

// Deps are the pass's collaborators. ACME is opened lazily: a pass with nothing due
// makes no ACME request and reads no account.
type Deps struct {
	ACME func(ctx context.Context) (ACME, error)
	// StoredACME, when set, opens a client for another ACME directory than
	// Settings.Directory with the account certferry stored for it, and never registers
	// one: an error wrapping acme.ErrNoAccount, before any request, when none is stored.
	// The challenge journal's sweep reads back with it the orders of another CA (a dry
	// run's). Nil: such entries are dropped unread.
	StoredACME func(ctx context.Context, directory string) (ACME, error)
	DNS        DNS
	Secrets    SecretStore // nil when no certificate uses Secrets Manager
	// Keys, when set, tells the state of a secret's customer managed KMS key, which the
	// preflight checks before an order. Nil: not checked.
	Keys KeyStates
	// Leases, when set, coordinates several runners: a due certificate is ordered only
	// under its lease (docs/coordination.md). Nil: this runner behaves as if alone.
	Leases Leases
	Files  FileStore
	Logger *zap.Logger
	Now    func() time.Time
	Rand   func() float64 // jitter source, [0,1)
	// OnHook, when set, is told of every hook run (metrics).
	OnHook func(cert, hook string, err error)
	// Memory is what the process remembers between passes (certificates issued but not
	// stored, the state of certificates without a secret). Share one across every Runner
	// of a process; nil gives this Runner a Memory of its own.
	Memory *Memory
}

// Options select what one pass does.
type Options struct {
	Force bool
	Only  []string // certificate names; empty: all
	// Plan decides and reports what is due and why, and does nothing else: no order, no
	// write, no hook (renew --plan, status).
	Plan bool
	// Refresh is a plan made from the inventory alone, for a runner that only reports
	// conditions between passes (the daemon's health_refresh): it implies Plan, asks the
	// CA nothing (the ARI window kept with the state is used as it is) and runs no
	// preflight, so it costs one ListSecrets page per 100 certificates.
	Refresh bool
	// DryRun treats every selected certificate as due and runs the real thing up to
	// storing: the preflight, an order from the Runner's directory (the dry-run CA: see
	// README.md, "validate, --plan and --dry-run"), TXT records published and removed,
	// the chain verified; then the certificate is thrown away. Nothing is stored, no
	// hook runs, and no state (backoff, ARI, failures) is written: the pass keeps it in
	// a Memory of its own. The challenge journal is the exception: its entries go to the
	// certificate's real state, as a real pass's do (see journal.go).
	DryRun bool
}

// Action is what a pass did with one certificate.
type Action string

const (
	ActionSkip  Action = "skip"
	ActionRenew Action = "renew"
	ActionIssue Action = "issue"
	ActionStore Action = "store" // an issued, not yet stored certificate was stored
	ActionPlan  Action = "plan"  // --plan: would renew or issue
	// ActionMove: the certificate's configured secret was renamed; the certificate was
	// copied from the old secret into it, without an order (Message: "moved from secret
	// X").
	ActionMove Action = "move"
	// ActionDryRun: --dry-run issued a certificate from the dry-run CA, verified it, and
	// threw it away.
	ActionDryRun Action = "dry-run"
	ActionFailed Action = "failed"
	ActionHooks  Action = "hooks" // only on_renew hooks left over from an earlier pass ran
	// ActionLostRace: another runner stored an equivalent certificate while this one was
	// obtaining its own; the other's is kept and this one's is dropped.
	ActionLostRace Action = "lost-race"
	// ActionElsewhere: another runner holds the certificate's lease and is renewing it
	// (Message: "renewing elsewhere (holder, until)"); not a failure.
	ActionElsewhere Action = "elsewhere"
	// ActionRenewedElsewhere: another runner stored a newer certificate since this pass
	// read the inventory, so nothing was ordered.
	ActionRenewedElsewhere Action = "renewed-elsewhere"
)

// Stored reports whether a pass with this action stored a certificate into the
// certificate's sinks: a renewal, a first issuance, one issued earlier, or a move.
func (a Action) Stored() bool {
	return a == ActionRenew || a == ActionIssue || a == ActionStore || a == ActionMove
}

// Result is one row of the summary.
type Result struct {
	Name      string           `json:"name"`
	Domains   []string         `json:"domains"`
	Action    Action           `json:"action"`
	Reason    scheduler.Reason `json:"reason"`
	Message   string           `json:"message,omitempty"`
	NotAfter  time.Time        `json:"not_after,omitzero"`
	NotBefore time.Time        `json:"not_before,omitzero"`
	VersionID string           `json:"version_id,omitempty"`
	// SecretARN is the Secrets Manager secret's ARN, when known: from the inventory for
	// a secret that existed before the pass, or the configured secret when it is an ARN.
	SecretARN string        `json:"secret,omitempty"`
	Duration  time.Duration `json:"duration_ns"`
	Error     string        `json:"error,omitempty"`
	// DueAt is when the certificate falls (or fell) due by the renewal rules: the moment
	// renewal became necessary, never a retry time (status's "next renewal").
	DueAt time.Time `json:"due_at,omitzero"`
	// Condition is the certificate's condition after the pass (see Condition).
	Condition Condition `json:"condition"`
	// FailingSince, Attempts and NextAttempt describe a failing certificate: the first
	// failure of the current run, the consecutive failed attempts, and when backoff (or
	// the issuance guard) lets the next order be placed.
	FailingSince time.Time `json:"failing_since,omitzero"`
	Attempts     int       `json:"attempts,omitempty"`
	NextAttempt  time.Time `json:"next_attempt,omitzero"`
	// LastError is the last failure: this pass's, or the one recorded by an earlier
	// pass (an issuance, a check before it, a store, or an on_renew hook).
	LastError string `json:"last_error,omitempty"`
	// Serial, KeyType and Profile describe the stored certificate (after the pass);
	// Sinks say where it is kept ("secretsmanager:<secret>", "file:<dir>").
	Serial  string   `json:"serial,omitempty"`
	KeyType string   `json:"key_type,omitempty"`
	Profile string   `json:"profile,omitempty"`
	Sinks   []string `json:"sinks,omitempty"`
	// HooksPending counts on_renew hooks of the stored version not yet run successfully.
	HooksPending int `json:"hooks_pending,omitempty"`
	// NewFailure is set when this pass's attempt failed (not an earlier pass's failure
	// still waiting in backoff).
	NewFailure bool `json:"new_failure,omitempty"`
	// NeedsHuman is set on a failing certificate that no wait or retry can fix: the
	// configuration is wrong (the preflight refused its secret: another certificate's,
	// being deleted, its KMS key disabled) or a permission is missing so that its state
	// cannot be recorded. It pages at once, whatever its renewal time says (the daemon's
	// /healthz), where a failure with time left does not.
	NeedsHuman bool `json:"needs_human,omitempty"`
	// Interrupted is set on a certificate the pass was stopped before it finished
	// (SIGTERM, a hang-up, a deadline): its Error says where it stopped, but it is not a
	// failure of its own (no backoff is recorded) and is due on the next run; the
	// summary counts it apart from the failing ones.
	Interrupted bool `json:"interrupted,omitempty"`
	// WaitingUntil is set when the certificate is due and waits for the CA's limit
	// (Action wait): acme.limits holds it back, or the CA answered rateLimited.
	WaitingUntil time.Time `json:"waiting_until,omitzero"`
	// ElsewhereUntil is set when another runner holds the certificate's lease (Action
	// elsewhere): when that lease ends unless its holder renews it.
	ElsewhereUntil time.Time `json:"elsewhere_until,omitzero"`
	// RetryAfter is set when the CA asked to wait (rateLimited).
	RetryAfter time.Duration `json:"retry_after_ns,omitempty"`
	// Hooks are the hooks that ran (or were skipped) for this certificate in this pass.
	Hooks []HookResult `json:"hooks,omitempty"`
	// HookError is set when an on_renew hook failed; it is retried on the next pass.
	HookError string `json:"hook_error,omitempty"`
	// Fallback is set when the certificate asked for dns-persist-01 and this pass's
	// order was validated with dns-01 instead (the CA offered none).
	Fallback bool `json:"-"`
	// Bundle is the certificate now stored (renewed or issued); nil otherwise. It is
	// for hooks and the demo's report, and never serialised.
	Bundle *certs.Bundle `json:"-"`
	err    error
}

// Err is the failure of this certificate, nil on success.
func (r *Result) Err() error { return r.err }

// Summary is a whole pass.
type Summary struct {
	Started  time.Time     `json:"started"`
	Duration time.Duration `json:"duration_ns"`
	Plan     bool          `json:"plan"`
	DryRun   bool          `json:"dry_run,omitempty"`
	Results  []*Result     `json:"results"`
	// LimitRemaining is, per limit of acme.limits (new_orders, per_registered_domain,
	// duplicates), how many more new orders fit after this pass's: for the per-domain and
	// per-set limits the least over the names planned. Nil when no limit is set.
	LimitRemaining map[string]int `json:"limit_remaining,omitempty"`
}

// Waiting counts the certificates waiting for the CA's limit.
func (s *Summary) Waiting() int {
	n := 0
	for _, r := range s.Results {
		if r.Action == ActionWait {
			n++
		}
	}
	return n
}

// WaitUntil is the first time a certificate this pass held back can go on: the CA's
// limit frees for one that waits (Action wait), or the lease of one renewing elsewhere
// ends (a second after its expiry, when it can be taken over): if its holder died, the
// next pass takes the certificate over then rather than at the next scheduled time.
// Zero when none was held back.
func (s *Summary) WaitUntil() time.Time {
	var t time.Time
	for _, r := range s.Results {
		var at time.Time
		switch {
		case r.Action == ActionWait:
			at = r.WaitingUntil
		case r.Action == ActionElsewhere && !r.ElsewhereUntil.IsZero():
			at = r.ElsewhereUntil.Add(time.Second)
		default:
			continue
		}
		if t.IsZero() || at.Before(t) {
			t = at
		}
	}
	return t
}

// Failed counts the certificates whose attempt failed in this pass (see also Failing).
func (s *Summary) Failed() int {
	n := 0
	for _, r := range s.Results {
		if r.err != nil {
			n++
		}
	}
	return n
}

// Interrupted counts the certificates the pass was stopped before it finished (SIGTERM,
// a hang-up, a deadline): not failures of their own (no backoff is recorded), but not
// done either, so a stopped run never looks like one with nothing to do.
func (s *Summary) Interrupted() int {
	n := 0
	for _, r := range s.Results {
		if r.Interrupted {
			n++
		}
	}
	return n
}

// HookFailures counts the certificates whose on_renew hooks failed.
func (s *Summary) HookFailures() int {
	n := 0
	for _, r := range s.Results {
		if r.HookError != "" {
			n++
		}
	}
	return n
}

// Err joins every certificate's failure, nil when none failed.
func (s *Summary) Err() error {
	var errs []error
	for _, r := range s.Results {
		if r.err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", r.Name, r.err))
		}
	}
	return errors.Join(errs...)
}

// Runner runs passes over a fixed list of certificates. What must outlive a Runner (a
// certificate issued but not stored, the state of certificates without a secret) is in
// its Deps.Memory, which every Runner of a process shares.
type Runner struct {
	certs    []Cert
	settings Settings
	deps     Deps
	log      *zap.Logger
	mem      *Memory
}

// New returns a Runner for the given certificates.
func New(certList []Cert, s Settings, d Deps) *Runner {
	if s.Concurrency < 1 {
		s.Concurrency = 1
	}
	if s.CleanupTimeout <= 0 {
		s.CleanupTimeout = 5 * time.Minute
	}
	if s.OrderTimeout <= 0 {
		s.OrderTimeout = 20 * time.Minute
	}
	if s.InsyncTimeout <= 0 {
		s.InsyncTimeout = 10 * time.Minute
	}
	if d.Logger == nil {
		d.Logger = zap.NewNop()
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Rand == nil {
		d.Rand = rand.Float64
	}
	if d.Memory == nil {
		d.Memory = NewMemory()
	}
	return &Runner{certs: certList, settings: s, deps: d, log: d.Logger.Named("renew"), mem: d.Memory}
}

// Pass runs one pass. The error is non-nil only when the pass could not run at all (bad
// selection, inventory unreadable); per-certificate failures are in the Summary, and
// every Result carries the certificate's Condition.
func (r *Runner) Pass(ctx context.Context, opts Options) (*Summary, error) {
	if opts.DryRun {
		// What a dry run learns or fails stays in a Memory of its own, dropped with it.
		dry := *r
		dry.mem = NewMemory()
		dry.deps.Memory = dry.mem
		r, opts.Plan = &dry, false
	}
	if opts.Refresh {
		opts.Plan = true
	}
	start := r.deps.Now()
	sum := &Summary{Started: start, Plan: opts.Plan, DryRun: opts.DryRun}
	selected, err := r.selectCerts(opts.Only)
	if err != nil {
		return nil, err
	}
	r.log.Info("pass starting", zap.Int("certificates", len(selected)), zap.Bool("plan", opts.Plan), zap.Bool("dry_run", opts.DryRun),
		zap.Bool("force", opts.Force))

	inv, err := r.inventory(ctx, selected)
	if err != nil {
		return nil, err
	}
	works := make([]*work, 0, len(selected))
	for _, c := range selected {
		w := r.plan(ctx, c, inv, opts)
		works = append(works, w)
		sum.Results = append(sum.Results, w.res)
	}
	due := r.run(ctx, works, inv, opts, sum)
	now := r.deps.Now()
	for _, w := range works {
		r.report(w, now)
	}
	sum.Duration = r.deps.Now().Sub(start)
	r.log.Info("pass finished", zap.Int("due", len(due)), zap.Int("failed", sum.Failed()), zap.Int("failing", sum.Failing()),
		zap.Duration("duration", sum.Duration))
	return sum, nil
}

// run does what plan decided, in order: sweep what dead runs left, check what is due
// (preflight), bring files up to date, obtain and store what is due, retry hooks left
// over, and record every certificate's state. It returns the due certificates.
func (r *Runner) run(ctx context.Context, works []*work, inv map[string]smsink.Stored, opts Options, sum *Summary) []*work {
	if !opts.Plan {
		r.sweep(ctx, works, inv)
	}
	// The preflight reads only: a plan (status, --plan) shows what it would refuse; a
	// refresh makes only its checks that read the inventory alone.
	r.preflight(ctx, works, inv, opts)
	if opts.Plan {
		if !opts.Refresh {
			r.peekLeases(ctx, works)
		}
		// A plan shows what the CA's limits hold back, too.
		r.holdForLimits(works, dueOf(works), inv, opts, sum)
		return nil
	}
	for _, w := range works {
		r.clearSolved(w)
	}
	r.syncFiles(ctx, works)
	// What the CA's limits hold back waits; the rest is ordered under its lease.
	due := r.holdForLimits(works, dueOf(works), inv, opts, sum)
	table := &leaseTable{} // what this pass learns of the lease table
	due = r.takeLeases(ctx, due, opts, table)
	if len(due) > 0 {
		r.obtain(ctx, due, opts)
		for _, w := range due {
			if w.res.Bundle != nil {
				r.mem.limits.storedNow(r.settings.Directory, w.cert.Name, w.res.Bundle.NotBefore)
			}
		}
	}
	if !opts.DryRun {
		r.leaseHookRetries(ctx, works, table)
		r.retryHooks(ctx, works)
	}
	fresh := context.WithoutCancel(ctx) // a stopped pass still records what it did
	r.forEach(fresh, works, r.record)
	r.releaseLeases(fresh, works, table)
	return due
}

// dueOf returns the due certificates nothing has stopped and no other runner deals with.
func dueOf(works []*work) []*work {
	var due []*work
	for _, w := range works {
		if w.decision.Due && w.alive() && !w.elsewhere() {
			due = append(due, w)
		}
	}
	return due
}

// retryHooks runs again, without a new certificate, the on_renew hooks that failed on an
// earlier pass for the version they were meant for.
func (r *Runner) retryHooks(ctx context.Context, works []*work) {
	for _, w := range works {
		if w.decision.Due || !w.alive() || w.elsewhere() || !w.hooksPending() {
			continue
		}
		st := w.state.now.Hooks
		w.res.Action = ActionHooks
		r.log.Info("retrying on_renew hooks", zap.String("cert", w.cert.Name), zap.Int("done", st.Done), zap.Int("hooks", len(w.cert.OnRenew)))
		r.runRenewHooks(ctx, w, st, hooks.Event{Name: w.cert.Name, Domains: w.cert.Domains, SecretARN: w.res.SecretARN,
			VersionID: st.Version, NotAfter: w.in.Stored.NotAfter, StoredAt: st.StoredAt, Kind: hooks.KindRenew})
	}
}

func (r *Runner) selectCerts(only []string) ([]Cert, error) {
	if len(only) == 0 {
		return r.certs, nil
	}
	var out []Cert
	for _, name := range only {
		if slices.ContainsFunc(out, func(c Cert) bool { return c.Name == name }) {
			// Named twice (--only web --only web, a Lambda event's list): once. Twice, the
			// pass ran it twice at once: two orders, one certificate thrown away.
			continue
		}
		i := slices.IndexFunc(r.certs, func(c Cert) bool { return c.Name == name })
		if i < 0 {
			known := make([]string, len(r.certs))
			for j, c := range r.certs {
				known[j] = c.Name
			}
			return nil, fmt.Errorf("renew: --only %q: no certificate of that name (configured: %s)", name, strings.Join(known, ", "))
		}
		out = append(out, r.certs[i])
	}
	return out, nil
}

// inventory reads what is stored, without reading any secret value: one ListSecrets
// page per 100 secrets.
func (r *Runner) inventory(ctx context.Context, selected []Cert) (map[string]smsink.Stored, error) {
	if r.deps.Secrets == nil || !slices.ContainsFunc(selected, func(c Cert) bool { return c.Secret != nil }) {
		return nil, nil
	}
	inv, err := r.deps.Secrets.Inventory(ctx)
	if err != nil {
		return nil, fmt.Errorf("renew: %w", err) // "secretsmanager: inventory: ..."
	}
	return inv, nil
}
