package renew

import (
	"context"
	"maps"
	"strconv"
	"time"

	smsink "github.com/certferry/certferry/sinks/secretsmanager"
)

// State tags: what certferry remembers of a certificate between passes, kept with its
// secret so that every runner (a bastion, a Lambda, a laptop) sees the same backoff, ARI
// and hook state; see docs/architecture.md. A certificate without a secret keeps them in
// the process's Memory.
const (
	TagFailures     = "certferry:failures"      // consecutive failed attempts
	TagNextAttempt  = "certferry:next-attempt"  // RFC 3339: when backoff lets the next order be placed
	TagFailingSince = "certferry:failing-since" // RFC 3339: the first failure of the current run of failures
	TagLastError    = "certferry:last-error"    // the last failure, cut to a tag value
	TagBlocked      = "certferry:blocked"       // passes a problem found before ordering stopped it (no backoff)
	TagARINext      = "certferry:ari-next"      // RFC 3339: when to ask the CA for ARI again
	TagARIStart     = "certferry:ari-start"     // RFC 3339: the cached ARI window
	TagARIEnd       = "certferry:ari-end"
	// TagHooks records, per secret version, how far the on_renew hooks got:
	// "<version-id> <hooks done> <stored-at RFC 3339>". on_renew hooks run in order and
	// stop at the first failure, so a count is the whole state. A version without the tag
	// (stored before any hook was configured) has nothing pending.
	TagHooks = "certferry:hooks"
	// TagHookError is the last on_renew hook failure of the version in TagHooks; removed
	// once every hook succeeded.
	TagHookError = "certferry:hook-error"
)

// stateStore keeps one certificate's state tags between passes. A Runner picks one per
// certificate when it plans it, and the rest of the pass never asks where state lives.
type stateStore interface {
	// load returns the state tags as the pass found them (never nil).
	load() map[string]string
	// save merges tags into the state; an empty value removes a key.
	save(ctx context.Context, tags map[string]string) error
	// written tells the store that tags were written with the certificate itself (a
	// store writes its state tags in the same call as the new version).
	written(tags map[string]string)
}

// state is one certificate's state during a pass: where it is kept (store), what it
// holds now (now: as found, with this pass's changes laid over), and the changes not
// yet written. The steps of a pass only add changes (set); they are written once, by
// the first write that has to happen (the challenge journal before DNS-01 records are
// published, the certificate's store) or at the end of the pass (record).
type state struct {
	store    stateStore
	now      certState
	pending  map[string]string
	readOnly bool // a plan (status, --plan): nothing is changed
	clock    func() time.Time
}

func newState(store stateStore, readOnly bool, clock func() time.Time) *state {
	s := &state{store: store, readOnly: readOnly, clock: clock}
	s.reload(clock())
	return s
}

// tags are the state tags as they stand, this pass's unwritten changes included.
func (s *state) tags() map[string]string {
	t := s.store.load()
	for k, v := range s.pending {
		if v == "" {
			delete(t, k)
		} else {
			t[k] = v
		}
	}
	return t
}

// set adds changes (an empty value removes a key), written later.
func (s *state) set(tags map[string]string) {
	if s.readOnly || len(tags) == 0 {
		return
	}
	if s.pending == nil {
		s.pending = map[string]string{}
	}
	maps.Copy(s.pending, tags)
	s.reload(s.clock())
}

// take returns the unwritten changes, to be written with the certificate, and forgets
// them (see written).
func (s *state) take() map[string]string {
	p := s.pending
	s.pending = nil
	if p == nil {
		p = map[string]string{}
	}
	return p
}

// written records tags as written with the certificate.
func (s *state) written(tags map[string]string) {
	s.store.written(tags)
	s.reload(s.clock())
}

// flush writes the unwritten changes, with extra, in one write. A write the store
// refuses is remembered by the process (see secretState).
func (s *state) flush(ctx context.Context, extra map[string]string) error {
	if s.readOnly {
		return nil
	}
	s.set(extra)
	if len(s.pending) == 0 {
		return nil
	}
	p := s.take()
	err := s.store.save(ctx, p)
	s.reload(s.clock())
	return err
}

// reload decodes the state as it stands.
func (s *state) reload(now time.Time) { s.now = decodeState(s.tags(), now) }

// memoryState keeps the state of a certificate without a secret in the process's Memory.
type memoryState struct {
	mem  *Memory
	name string
}

func (s memoryState) load() map[string]string {
	if t := s.mem.stateTags(s.name); t != nil {
		return t
	}
	return map[string]string{}
}

func (s memoryState) save(_ context.Context, tags map[string]string) error {
	s.mem.mergeTags(s.name, tags)
	return nil
}

func (s memoryState) written(tags map[string]string) { s.mem.mergeTags(s.name, tags) }

// secretState keeps the state in the tags of the certificate's secret. found are the tags
// the inventory read at the start of the pass. A write that Secrets Manager refuses is
// remembered in Memory and laid over the secret's tags until a later write succeeds, so
// this process at least still honours a backoff it could not record.
type secretState struct {
	secrets SecretStore
	target  smsink.Target
	name    string
	found   map[string]string
	mem     *Memory
}

func (s *secretState) load() map[string]string {
	t := maps.Clone(s.found)
	if t == nil {
		t = map[string]string{}
	}
	for k, v := range s.mem.stateTags(s.name) {
		if v == "" {
			delete(t, k)
		} else {
			t[k] = v
		}
	}
	return t
}

func (s *secretState) save(ctx context.Context, tags map[string]string) error {
	// What an earlier write could not record goes along with this one.
	all := s.mem.stateTags(s.name)
	if all == nil {
		all = map[string]string{}
	}
	maps.Copy(all, tags)
	// A certificate never stored has no secret yet: one is created, without a value, to
	// hold the state, so that no runner orders again before the backoff ends.
	if err := s.secrets.SetStateOrCreate(ctx, s.target, s.name, all); err != nil {
		s.mem.mergeTags(s.name, tags)
		return err
	}
	s.written(all)
	return nil
}

func (s *secretState) written(tags map[string]string) {
	s.mem.forget(s.name)
	if s.found == nil {
		s.found = map[string]string{}
	}
	for k, v := range tags {
		if v == "" {
			delete(s.found, k)
		} else {
			s.found[k] = v
		}
	}
}

// certState is the decoded state of one certificate.
type certState struct {
	failures     int
	blocked      int
	nextAttempt  time.Time
	failingSince time.Time
	lastError    string
	hookError    string
	ariStart     time.Time
	ariEnd       time.Time
	ariNext      time.Time
	hooks        hookState
	hooksOK      bool // hooks holds a parsed TagHooks
}

// decodeState reads the state tags. A value that does not parse counts as absent; a
// date no runner could have written (a backoff far beyond the longest wait) is capped,
// so a hand-edited tag cannot hold a certificate back for good.
func decodeState(tags map[string]string, now time.Time) certState {
	var s certState
	s.failures, _ = strconv.Atoi(tags[TagFailures])
	if s.failures < 0 {
		s.failures = 0
	}
	s.blocked, _ = strconv.Atoi(tags[TagBlocked])
	s.blocked = max(s.blocked, 0)
	s.nextAttempt = parseTime(tags[TagNextAttempt])
	if limit := now.Add(maxPlausibleWait); s.nextAttempt.After(limit) {
		s.nextAttempt = limit
	}
	s.failingSince = parseTime(tags[TagFailingSince])
	s.lastError = tags[TagLastError]
	s.hookError = tags[TagHookError]
	s.ariStart, s.ariEnd, s.ariNext = parseTime(tags[TagARIStart]), parseTime(tags[TagARIEnd]), parseTime(tags[TagARINext])
	if limit := now.Add(maxPlausibleWait); s.ariNext.After(limit) {
		s.ariNext = time.Time{}
	}
	s.hooks, s.hooksOK = parseHookState(tags[TagHooks])
	return s
}

// maxPlausibleWait bounds a wait read from a tag: the longest backoff is a day, a CA's
// Retry-After rarely more than a few; a week is more than any runner writes.
const maxPlausibleWait = 7 * 24 * time.Hour

func parseTime(v string) time.Time {
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}
	}
	return t
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}
