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
	"io/fs"
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/certferry/certferry/acme"
	"github.com/certferry/certferry/certs"
	"github.com/certferry/certferry/hooks"
	"github.com/certferry/certferry/lifecycle"
	"github.com/certferry/certferry/providers/route53"
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
}

// DNS publishes and removes DNS-01 records in batches.
type DNS interface {
	Present(ctx context.Context, recs []route53.Record) []error
	CleanUp(ctx context.Context, recs []route53.Record) []error
}

// SecretStore is the Secrets Manager sink.
type SecretStore interface {
	Inventory(ctx context.Context) (map[string]smsink.Stored, error)
	Preflight(ctx context.Context, t smsink.Target) error
	Save(ctx context.Context, t smsink.Target, b *certs.Bundle, opts smsink.StoreOptions) (smsink.Saved, error)
	Get(ctx context.Context, secret string) (*certs.Bundle, string, error)
	GetStage(ctx context.Context, secret, stage string) (*certs.Bundle, string, error)
	SetState(ctx context.Context, secret string, tags map[string]string) error
	SetStateOrCreate(ctx context.Context, t smsink.Target, name string, tags map[string]string) error
}

// FileStore is the PEM file sink.
type FileStore interface {
	Store(ctx context.Context, t file.Target, b *certs.Bundle) error
	Load(dir string) (*certs.Bundle, error)
}

// Cert is one configured certificate, as the pass needs it.
type Cert struct {
	Name        string
	Domains     []string
	KeyType     string
	Profile     string
	ZoneID      string
	DNS         route53.CertDNS // CNAME following, alias, zones per name (dns: keys)
	RenewBefore time.Duration
	Secret      *smsink.Target // nil: no Secrets Manager sink
	File        *file.Target   // nil: no file sink
	// OnRenew run in order once every sink stored a new certificate; OnFailure when it
	// failed (contract 4).
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
	// CleanupTimeout bounds TXT cleanup after the pass's context ended (a Lambda sets it
	// inside its safety margin).
	CleanupTimeout time.Duration
	// OrderTimeout bounds completing one order (validation, finalize, download), so an
	// order the CA leaves "processing" cannot hold a pass forever. Default 20m.
	OrderTimeout time.Duration
	// MinOrderTime: when set and the pass's context has a deadline, no order begins with
	// less than this left (the Lambda sets it: Begin, one INSYNC wait, validation and
	// finalize must fit before the invocation ends).
	MinOrderTime time.Duration
}

// Deps are the pass's collaborators. ACME is opened lazily: a pass with nothing due
// makes no ACME request and reads no account.
type Deps struct {
	ACME    func(ctx context.Context) (ACME, error)
	DNS     DNS
	Secrets SecretStore // nil when no certificate uses Secrets Manager
	Files   FileStore
	Logger  *zap.Logger
	Now     func() time.Time
	Rand    func() float64 // jitter source, [0,1)
	// OnHook, when set, is told of every hook run (metrics).
	OnHook func(cert, hook string, err error)
}

// Options select what one pass does.
type Options struct {
	Force  bool
	Only   []string // certificate names; empty: all
	DryRun bool
}

// Action is what a pass did with one certificate.
type Action string

const (
	ActionSkip   Action = "skip"
	ActionRenew  Action = "renew"
	ActionIssue  Action = "issue"
	ActionStore  Action = "store" // an issued, not yet stored certificate was stored
	ActionPlan   Action = "plan"  // --dry-run: would renew or issue
	ActionFailed Action = "failed"
	ActionHooks  Action = "hooks" // only on_renew hooks left over from an earlier pass ran
)

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
	// DueAt is when the certificate falls due (status's "next renewal").
	DueAt time.Time `json:"due_at,omitzero"`
	// LastError is the failure recorded with the secret by an earlier pass, if any.
	LastError string `json:"last_error,omitempty"`
	// RetryAfter is set when the CA asked to wait (rateLimited).
	RetryAfter time.Duration `json:"retry_after_ns,omitempty"`
	// Hooks are the hooks that ran (or were skipped) for this certificate in this pass.
	Hooks []HookResult `json:"hooks,omitempty"`
	// HookError is set when an on_renew hook failed; it is retried on the next pass.
	HookError string `json:"hook_error,omitempty"`
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
	DryRun   bool          `json:"dry_run"`
	Results  []*Result     `json:"results"`
}

// Failed counts the certificates that failed.
func (s *Summary) Failed() int {
	n := 0
	for _, r := range s.Results {
		if r.err != nil {
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

// Runner runs passes. One Runner lives as long as the process: it keeps certificates
// that were issued but could not be stored, so the next pass stores them instead of
// asking the CA again.
type Runner struct {
	certs    []Cert
	settings Settings
	deps     Deps
	log      *zap.Logger

	mu       sync.Mutex
	pending  map[string]*certs.Bundle     // issued, not yet stored in every sink, by cert name
	memHooks map[string]hookState         // hook progress of certificates without a secret
	memState map[string]scheduler.Stored  // backoff of certificates without a secret (Failures, NextAttempt)
	memTags  map[string]map[string]string // ARI state tags of certificates without a secret
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
	if d.Logger == nil {
		d.Logger = zap.NewNop()
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Rand == nil {
		d.Rand = rand.Float64
	}
	return &Runner{certs: certList, settings: s, deps: d, log: d.Logger.Named("renew"), pending: map[string]*certs.Bundle{},
		memHooks: map[string]hookState{}, memState: map[string]scheduler.Stored{}, memTags: map[string]map[string]string{}}
}

// ReasonStoredUnreadable: the stored secret could not be read or is not a valid
// certificate secret; it is reported and left alone unless --force.
const ReasonStoredUnreadable scheduler.Reason = "stored-unreadable"

// ReasonUnstored: a certificate issued by an earlier pass of this process could not be
// stored; it is stored now without a new order.
const ReasonUnstored scheduler.Reason = "unstored"

// State tags kept with the secret, so every runner sees the same backoff and ARI state.
const (
	TagFailures    = "certferry:failures"
	TagNextAttempt = "certferry:next-attempt"
	TagLastError   = "certferry:last-error"
	TagARINext     = "certferry:ari-next"
	TagARIStart    = "certferry:ari-start"
	TagARIEnd      = "certferry:ari-end"
)

// work is one certificate's state during a pass.
type work struct {
	cert     Cert
	res      *Result
	stored   scheduler.Stored
	tags     map[string]string
	ariID    string
	decision scheduler.Decision
	order    *acme.Order
	records  []int // indexes into the pass's record list
	started  time.Time
	version  string       // the stored AWSCURRENT version id, "" when unknown
	hooks    *storedHooks // on_renew hooks readied by store, run after cleanup
}

// Pass runs one pass. The error is non-nil only when the pass could not run at all (bad
// selection, inventory unreadable); per-certificate failures are in the Summary.
func (r *Runner) Pass(ctx context.Context, opts Options) (*Summary, error) {
	start := r.deps.Now()
	sum := &Summary{Started: start, DryRun: opts.DryRun}
	selected, err := r.selectCerts(opts.Only)
	if err != nil {
		return nil, err
	}
	r.log.Info("pass starting", zap.Int("certificates", len(selected)), zap.Bool("dry_run", opts.DryRun), zap.Bool("force", opts.Force))

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
	var due []*work
	for _, w := range works {
		if w.decision.Due {
			due = append(due, w)
		}
	}
	if opts.DryRun {
		sum.Duration = r.deps.Now().Sub(start)
		r.log.Info("dry run finished", zap.Int("due", len(due)), zap.Duration("duration", sum.Duration))
		return sum, nil
	}
	if len(due) > 0 {
		r.obtain(ctx, due, opts)
	}
	// Hooks that failed on an earlier pass run again for the version they were meant for,
	// without a new certificate.
	for _, w := range works {
		if w.decision.Due || w.res.err != nil {
			continue
		}
		if st, ok := r.pendingHooks(w, w.version); ok {
			w.res.Action = ActionHooks
			r.log.Info("retrying on_renew hooks", zap.String("cert", w.cert.Name), zap.Int("done", st.done), zap.Int("hooks", len(w.cert.OnRenew)))
			r.runRenewHooks(ctx, w, st, hooks.Event{Name: w.cert.Name, Domains: w.cert.Domains, SecretARN: w.res.SecretARN,
				VersionID: st.version, NotAfter: w.stored.NotAfter, StoredAt: st.storedAt, Kind: hooks.KindRenew})
		}
	}
	sum.Duration = r.deps.Now().Sub(start)
	r.log.Info("pass finished", zap.Int("due", len(due)), zap.Int("failed", sum.Failed()), zap.Duration("duration", sum.Duration))
	return sum, nil
}

func (r *Runner) selectCerts(only []string) ([]Cert, error) {
	if len(only) == 0 {
		return r.certs, nil
	}
	var out []Cert
	for _, name := range only {
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
		return nil, fmt.Errorf("renew: inventory: %w", err)
	}
	return inv, nil
}

func (r *Runner) plan(ctx context.Context, c Cert, inv map[string]smsink.Stored, opts Options) *work {
	now := r.deps.Now()
	w := &work{cert: c, res: &Result{Name: c.Name, Domains: c.Domains, Action: ActionSkip}, started: now}
	var err error
	w.stored, w.tags, w.ariID, err = r.storedState(ctx, c, inv, &w.res.SecretARN)
	if c.Secret == nil {
		r.mu.Lock()
		w.tags = maps.Clone(r.memTags[c.Name]) // ARI state this process keeps for it
		r.mu.Unlock()
	}
	if w.res.SecretARN == "" && c.Secret != nil && strings.HasPrefix(c.Secret.Secret, "arn:") {
		w.res.SecretARN = c.Secret.Secret
	}
	if err != nil {
		// An unreadable or corrupt stored secret is reported, never silently
		// overwritten: --force replaces it, and AWSPREVIOUS then keeps the old value.
		if !opts.Force {
			w.res.Reason = ReasonStoredUnreadable
			r.failNoState(w, err)
			return w
		}
		r.log.Warn("stored certificate unreadable; --force replaces it", zap.String("cert", c.Name), zap.Error(err))
	}
	if !w.stored.NotAfter.IsZero() {
		w.res.NotAfter, w.res.NotBefore = w.stored.NotAfter, w.stored.NotBefore
	}
	if c.Secret != nil {
		if s, _ := smsink.Lookup(inv, c.Secret.Secret); s.PendingVersionID != "" && !r.hasPending(c.Name) {
			r.adoptInterruptedWrite(ctx, w, s.PendingVersionID)
		}
	}
	r.mu.Lock()
	if m, ok := r.memState[c.Name]; ok && m.Failures > w.stored.Failures {
		// Backoff state this process could not store with a secret.
		w.stored.Failures, w.stored.NextAttempt = m.Failures, m.NextAttempt
	}
	r.mu.Unlock()
	in := scheduler.Input{
		Want:     scheduler.Want{Name: c.Name, Domains: c.Domains, KeyType: c.KeyType, Profile: c.Profile, RenewBefore: c.RenewBefore},
		Stored:   w.stored,
		Now:      now,
		Interval: r.settings.Interval,
		Guard:    r.settings.Guard,
		Force:    opts.Force,
	}
	in.ARI = r.ariWindow(ctx, w, opts)
	w.decision = scheduler.Decide(in)
	if c.Secret != nil && !w.decision.Due && w.decision.Reason != scheduler.ReasonBackoff && w.decision.Reason != scheduler.ReasonBlockedDecision {
		// Revoked (certferry revoke): unusable, so neither the timing rules nor the
		// issuance guard hold it back; backoff still does.
		if s, _ := smsink.Lookup(inv, c.Secret.Secret); s.Serial != "" {
			if rv, ok := lifecycle.Revoked(s.Tags, s.Serial); ok {
				w.decision = scheduler.Decision{Due: true, Reason: scheduler.ReasonRevoked, Message: "serial " + rv.Serial + " was revoked (" + rv.Reason + ")"}
			}
		}
	}
	if r.hasPending(c.Name) && !w.decision.Due {
		// Issued earlier but not stored: storing it asks nothing of the CA, so neither
		// backoff nor the issuance guard holds it back.
		w.decision = scheduler.Decision{Due: true, Reason: ReasonUnstored, Message: "a certificate issued earlier is waiting to be stored"}
	}
	w.res.Reason, w.res.Message, w.res.DueAt = w.decision.Reason, w.decision.Message, w.decision.DueAt
	w.res.LastError = w.tags[TagLastError]
	if c.Secret != nil {
		s, _ := smsink.Lookup(inv, c.Secret.Secret)
		w.version = s.CurrentVersionID
	} else {
		w.version = "files"
	}
	if w.decision.Due && !r.hasPending(c.Name) {
		// A certificate that cannot be stored is not ordered: checked before any request
		// to the CA, every pass (it costs nothing), until the configuration changes.
		if err := checkSecretSize(c); err != nil {
			r.failNoState(w, err)
			w.decision.Due = false
			return w
		}
	}
	if w.decision.Due {
		w.res.Action = ActionIssue
		if w.stored.Exists {
			w.res.Action = ActionRenew
		}
		if opts.DryRun {
			w.res.Action = ActionPlan
		}
	}
	r.log.Info("planned", zap.String("cert", c.Name), zap.Strings("domains", c.Domains), zap.Bool("due", w.decision.Due),
		zap.String("reason", string(w.decision.Reason)), zap.String("detail", w.decision.Message))
	return w
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
	case !sameSet(b.Domains, c.Domains) || b.KeyType != c.KeyType:
		r.log.Info("an interrupted write does not match the configuration; it is left alone", zap.String("cert", c.Name), zap.String("version_id", id))
		return
	case !b.NotAfter.After(w.stored.NotAfter) || !now.Before(b.NotAfter):
		return
	}
	if _, revoked := lifecycle.Revoked(w.tags, b.Serial); revoked {
		r.log.Warn("an interrupted write holds a revoked certificate; it is never promoted", zap.String("cert", c.Name), zap.String("version_id", id), zap.String("serial", b.Serial))
		return
	}
	if err := b.Verify(r.settings.Roots, now); err != nil {
		r.log.Warn("an interrupted write does not verify; it is left alone", zap.String("cert", c.Name), zap.String("version_id", id), zap.Error(err))
		return
	}
	b.Name = c.Name // the stored JSON does not carry the configuration's name
	r.log.Info("finishing an interrupted write", zap.String("cert", c.Name), zap.String("version_id", id), zap.Time("not_after", b.NotAfter))
	r.keepPending(c, b)
}

// storedState turns what the sinks hold into the scheduler's view. The secret's tags
// are enough unless they do not describe the current version (a write from outside
// certferry, or a runner stopped between writing and tagging): then the value is read.
func (r *Runner) storedState(ctx context.Context, c Cert, inv map[string]smsink.Stored, arn *string) (scheduler.Stored, map[string]string, string, error) {
	var st scheduler.Stored
	if c.Secret != nil {
		// The configured secret may be a name or an ARN (full or without its suffix).
		s, ok := smsink.Lookup(inv, c.Secret.Secret)
		if !ok {
			return st, nil, "", nil
		}
		*arn = s.ARN
		st.Failures, st.NextAttempt = parseState(s.Tags)
		if s.CurrentVersionID == "" {
			// A secret without a value: created to hold the backoff state of a
			// certificate that has never been stored.
			return st, s.Tags, "", nil
		}
		if !s.TagsCurrent {
			b, _, err := r.deps.Secrets.Get(ctx, c.Secret.Secret)
			switch {
			case errors.Is(err, smsink.ErrNotFound):
				return st, s.Tags, "", nil
			case err != nil:
				return st, s.Tags, "", fmt.Errorf("read stored certificate: %w", err)
			}
			st.Exists, st.Domains, st.KeyType, st.Profile = true, b.Domains, b.KeyType, s.Profile
			st.NotBefore, st.NotAfter, st.IssuedAt = b.NotBefore, b.NotAfter, b.NotBefore
			return st, s.Tags, b.ARIID, nil
		}
		if s.NotAfter.IsZero() {
			return st, s.Tags, "", nil
		}
		domains := s.Domains
		if s.DomainsTruncated && s.DomainsHash == certs.HashDomains(c.Domains) {
			domains = c.Domains
		}
		st.Exists, st.Domains, st.KeyType, st.Profile = true, domains, s.KeyType, s.Profile
		st.NotBefore, st.NotAfter, st.IssuedAt = s.NotBefore, s.NotAfter, s.NotBefore
		return st, s.Tags, s.ARIID, nil
	}
	if c.File != nil && r.deps.Files != nil {
		b, err := r.deps.Files.Load(c.File.Dir)
		if errors.Is(err, fs.ErrNotExist) {
			return st, nil, "", nil
		}
		if err != nil {
			return st, nil, "", fmt.Errorf("read stored files: %w", err)
		}
		return scheduler.Stored{Exists: true, Domains: b.Domains, KeyType: b.KeyType, Profile: c.Profile,
			NotBefore: b.NotBefore, NotAfter: b.NotAfter, IssuedAt: b.NotBefore}, nil, b.ARIID, nil
	}
	return st, nil, "", nil
}

func parseState(tags map[string]string) (int, time.Time) {
	n, _ := strconv.Atoi(tags[TagFailures])
	t, _ := time.Parse(time.RFC3339, tags[TagNextAttempt])
	return n, t
}

// ariRetryOnError is how long after a failed ARI check (no ARI, a malformed answer, a
// server error) the CA is asked again. Meanwhile the lifetime rule decides; an hour keeps
// a broken ARI endpoint from being asked on every pass of every runner, and is short
// against the days a renewal window spans.
const ariRetryOnError = time.Hour

// recordState keeps ARI state tags with the secret, or in this process's memory for a
// certificate without one (so a file-only certificate is not asked about on every pass).
func (r *Runner) recordState(ctx context.Context, w *work, tags map[string]string) {
	if w.cert.Secret == nil || r.deps.Secrets == nil {
		r.mu.Lock()
		m := r.memTags[w.cert.Name]
		if m == nil {
			m = map[string]string{}
			r.memTags[w.cert.Name] = m
		}
		for k, v := range tags {
			if v == "" {
				delete(m, k)
			} else {
				m[k] = v
			}
		}
		r.mu.Unlock()
		return
	}
	if err := r.deps.Secrets.SetState(ctx, w.cert.Secret.Secret, tags); err != nil {
		r.log.Warn("could not record the ARI state", zap.String("cert", w.cert.Name), zap.Error(err))
	}
}

// ariWindow returns the CA's renewal window for a stored certificate. To keep idle
// passes free of ACME requests it asks the CA only when the time the CA gave for the
// next check (stored in the secret's tags) has passed, and caches the answer in tags.
func (r *Runner) ariWindow(ctx context.Context, w *work, opts Options) *scheduler.Window {
	if !r.settings.ARI || !w.stored.Exists || w.ariID == "" || opts.Force {
		return nil
	}
	now := r.deps.Now()
	start, errS := time.Parse(time.RFC3339, w.tags[TagARIStart])
	end, errE := time.Parse(time.RFC3339, w.tags[TagARIEnd])
	next, errN := time.Parse(time.RFC3339, w.tags[TagARINext])
	if errN == nil && now.Before(next) {
		if errS == nil && errE == nil {
			return &scheduler.Window{Start: start, End: end}
		}
		return nil
	}
	client, err := r.deps.ACME(ctx)
	if err != nil {
		r.log.Warn("ARI unavailable: the lifetime rule applies", zap.String("cert", w.cert.Name), zap.Error(err))
		return nil
	}
	info, err := client.RenewalInfoByID(ctx, w.ariID)
	if err != nil {
		// A CA without ARI, or a broken answer (malformed, 500): fall back to the
		// lifetime rule, and ask again after ariRetryOnError rather than on every pass.
		retryAt := now.Add(ariRetryOnError)
		r.log.Warn("ARI check failed: the lifetime rule applies", zap.String("cert", w.cert.Name),
			zap.Time("ari_retry", retryAt), zap.Error(err))
		if !opts.DryRun && ctx.Err() == nil {
			r.recordState(ctx, w, map[string]string{TagARIStart: "", TagARIEnd: "", TagARINext: retryAt.UTC().Format(time.RFC3339)})
		}
		return nil
	}
	retry := info.RetryAfter
	if retry <= 0 || retry > 24*time.Hour {
		retry = 6 * time.Hour
	}
	win := &scheduler.Window{Start: info.Start, End: info.End}
	if !opts.DryRun {
		r.recordState(ctx, w, map[string]string{
			TagARIStart: info.Start.UTC().Format(time.RFC3339),
			TagARIEnd:   info.End.UTC().Format(time.RFC3339),
			TagARINext:  now.Add(retry).UTC().Format(time.RFC3339),
		})
	}
	r.log.Info("ARI window", zap.String("cert", w.cert.Name), zap.Time("start", info.Start), zap.Time("end", info.End))
	return win
}
