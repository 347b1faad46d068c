package renew

import (
	"context"
	"maps"
	"time"

	"go.uber.org/zap"

	"github.com/certferry/certferry/sinks/file"
	smsink "github.com/certferry/certferry/sinks/secretsmanager"
)

// stateStore keeps one certificate's state tags between passes. A Runner picks one per
// certificate when it plans it, and the rest of the pass never asks where state lives.
type stateStore interface {
	// load returns the state tags as the pass found them (never nil).
	load() map[string]string
	// save merges tags into the state (an empty value removes a key) and, when cert is
	// set, writes the tags that describe the stored certificate with them, in one write
	// under ctx (the caller's: a pass's, or a fresh one bounded by stateWriteTimeout).
	save(ctx context.Context, tags map[string]string, cert *smsink.Tagging) error
}

// state is one certificate's state during a pass: where it is kept (store), what it
// holds now (now: as found, with this pass's changes laid over), and the changes not
// yet written. The steps of a pass only add changes (set); they are written once, by
// the first write that has to happen (the challenge journal before DNS-01 records are
// published, the certificate's store) or at the end of the pass (record).
type state struct {
	store    stateStore
	now      smsink.State
	pending  map[string]string
	cert     *smsink.Tagging // the tags of a certificate stored in this pass, not yet written
	readOnly bool            // a plan (status, --plan): nothing is changed
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

// know tells the store what the preflight learnt of the certificate's secret (the
// store phase trusts it too): a write to a secret known to be missing creates it at once.
func (s *state) know(in *smsink.Inspection) {
	if ss, ok := s.store.(*secretState); ok {
		ss.known = in
	}
}

// describe readies the tags that describe the stored certificate, written with the
// next write of the state.
func (s *state) describe(t smsink.Tagging) {
	if !s.readOnly {
		s.cert = &t
	}
}

// take returns the unwritten changes, to be written, and forgets them.
func (s *state) take() map[string]string {
	p := s.pending
	s.pending = nil
	if p == nil {
		p = map[string]string{}
	}
	return p
}

// flush writes the unwritten changes, with extra, in one write. A write the store
// refuses is remembered by the process (see secretState).
func (s *state) flush(ctx context.Context, extra map[string]string) error {
	if s.readOnly {
		return nil
	}
	s.set(extra)
	if len(s.pending) == 0 && s.cert == nil && !s.owed() {
		return nil
	}
	p, cert := s.take(), s.cert
	err := s.store.save(ctx, p, cert)
	if err == nil {
		s.cert = nil
	}
	s.reload(s.clock())
	return err
}

// owed reports whether an earlier write of the state was refused for good (Memory): it
// is tried again even with no change of this pass's, so that the certificate stops
// failing once the permission is granted.
func (s *state) owed() bool {
	ss, ok := s.store.(*secretState)
	if !ok {
		return false
	}
	_, refused := ss.mem.refusalOf(ss.name)
	return refused
}

// rereadJournal reads the challenge journal's slots again where they may have changed
// since the pass read them (a secret; a state file is read at every load).
func (s *state) rereadJournal(ctx context.Context) {
	if ss, ok := s.store.(*secretState); ok {
		ss.rereadJournal(ctx)
		s.reload(s.clock())
	}
}

// found returns the tags as the pass found them, before its own changes.
func (s *state) found() map[string]string { return s.store.load() }

// drop forgets this pass's unwritten changes, and takes tags (read again; nil: keep
// what was found) as found: another runner deals with the certificate, and what this
// pass would have written is that runner's to write.
func (s *state) drop(tags map[string]string) {
	s.pending, s.cert = nil, nil
	if ss, ok := s.store.(*secretState); ok && tags != nil {
		ss.found = maps.Clone(tags)
	}
	s.reload(s.clock())
}

// unremember drops key from what the process remembers of a refused write (Memory, see
// secretState and fileState), so that no later write records it: a journal entry whose
// write was refused, of an order abandoned unpublished.
func (s *state) unremember(key string) {
	switch st := s.store.(type) {
	case *secretState:
		st.mem.mergeTags(st.name, map[string]string{key: ""})
	case fileState:
		st.mem.mergeTags(st.name, map[string]string{key: ""})
	}
	s.reload(s.clock())
}

// reload decodes the state as it stands.
func (s *state) reload(now time.Time) { s.now = smsink.DecodeState(s.tags(), now) }

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

func (s memoryState) save(_ context.Context, tags map[string]string, _ *smsink.Tagging) error {
	s.mem.mergeTags(s.name, tags)
	return nil
}

// fileState keeps the state of a certificate whose only sink is files in the sink's state
// file (file.StateFile, next to the PEM files), and in Memory: a one-shot run, a restart,
// a run killed mid-order find its backoff and its challenge journal there. Memory is laid
// over the file (this process's own writes), so a file it could not write is still
// honoured by this process.
type fileState struct {
	mem    *Memory
	name   string
	files  FileStore
	target file.Target
	log    *zap.Logger
}

func (s fileState) load() map[string]string {
	tags, err := s.files.LoadState(s.target)
	if err != nil {
		s.log.Warn("the certificate's state file cannot be read; it is written again", zap.String("cert", s.name), zap.Error(err))
		tags = map[string]string{}
	}
	maps.Copy(tags, s.mem.stateTags(s.name))
	return tags
}

func (s fileState) save(ctx context.Context, tags map[string]string, _ *smsink.Tagging) error {
	all := s.load()
	s.mem.mergeTags(s.name, tags)
	for k, v := range tags {
		if v == "" {
			delete(all, k)
		} else {
			all[k] = v
		}
	}
	return s.files.SaveState(ctx, s.target, all)
}

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
	known   *smsink.Inspection // what the preflight learnt of the secret, if it ran
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

func (s *secretState) save(ctx context.Context, tags map[string]string, cert *smsink.Tagging) error {
	// What an earlier write could not record goes along with this one.
	all := s.mem.stateTags(s.name)
	if all == nil {
		all = map[string]string{}
	}
	maps.Copy(all, tags)
	// A tag is cleared by writing it empty: only the ones there are.
	have := s.load()
	for k, v := range all {
		if v == "" && have[k] == "" {
			delete(all, k)
		}
	}
	t := smsink.Tagging{Name: s.name, Missing: s.known != nil && !s.known.Exists, State: all}
	if cert != nil {
		t.Bundle, t.Version, t.Profile, t.Directory = cert.Bundle, cert.Version, cert.Profile, cert.Directory
	}
	// A certificate never stored has no secret yet: one is created, without a value, to
	// hold the state, so that no runner orders again before the backoff ends.
	if err := s.secrets.WriteTags(ctx, s.target, t); err != nil {
		s.mem.mergeTags(s.name, tags)
		return err
	}
	if s.known != nil {
		s.known.Exists = true // created if it was missing
	}
	s.written(all)
	return nil
}

// rereadJournal takes the challenge journal's slots as the secret holds them now: another
// runner may have journaled since the inventory (a dry run, which takes no lease; see
// Runner.journal). A secret that cannot be described keeps what was read before.
func (s *secretState) rereadJournal(ctx context.Context) {
	in, err := s.secrets.Inspect(ctx, s.target)
	if err != nil || !in.Exists {
		return
	}
	if s.found == nil {
		s.found = map[string]string{}
	}
	for i := range smsink.JournalSlots {
		k := smsink.JournalTag(i)
		if v := in.Tags[k]; v != "" {
			s.found[k] = v
		} else {
			delete(s.found, k)
		}
	}
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
