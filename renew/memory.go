package renew

import (
	"maps"
	"sync"
	"time"

	"github.com/certferry/certferry/certs"
)

// Memory is what a process remembers between passes that no sink holds:
//
//   - certificates issued but not yet stored in every sink (a write failed), so the next
//     pass stores them instead of ordering again;
//   - the state tags (backoff, ARI, hook progress) of certificates without a secret
//     (file-only), and of certificates whose secret refused a state write;
//   - which certificates' state writes were refused for good (a permission missing):
//     they are failing, needing a human, until a write of their state succeeds.
//
// One Memory lives as long as the process. Every Runner built in it shares it (a daemon
// reload, a Lambda that rebuilds its Runner after a configuration change), so replacing a
// Runner loses nothing and no hand-over is needed. Its methods are safe for concurrent
// use. See docs/architecture.md, "Where state lives".
type Memory struct {
	mu       sync.Mutex
	unstored map[string]*certs.Bundle     // by certificate name
	tags     map[string]map[string]string // by certificate name
	refused  map[string]refusal           // by certificate name
	limits   *limitMemory                 // the CA's limits: orders not stored, a rateLimited answer's wait
}

// NewMemory returns an empty Memory.
func NewMemory() *Memory {
	return &Memory{unstored: map[string]*certs.Bundle{}, tags: map[string]map[string]string{}, refused: map[string]refusal{},
		limits: newLimitMemory()}
}

// keep remembers b as issued but not stored for the certificate name.
func (m *Memory) keep(name string, b *certs.Bundle) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.unstored[name] = b
}

// hasUnstored reports whether a certificate issued earlier waits to be stored for name.
func (m *Memory) hasUnstored(name string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.unstored[name]
	return ok
}

// take removes and returns the certificate waiting to be stored for name, if any.
func (m *Memory) take(name string) *certs.Bundle {
	m.mu.Lock()
	defer m.mu.Unlock()
	b := m.unstored[name]
	delete(m.unstored, name)
	return b
}

// stateTags returns a copy of the state tags remembered for name (nil when none).
func (m *Memory) stateTags(name string) map[string]string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return maps.Clone(m.tags[name])
}

// mergeTags merges tags into what is remembered for name; an empty value removes a key.
func (m *Memory) mergeTags(name string, tags map[string]string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t := m.tags[name]
	if t == nil {
		t = map[string]string{}
		m.tags[name] = t
	}
	for k, v := range tags {
		if v == "" {
			delete(t, k)
		} else {
			t[k] = v
		}
	}
	if len(t) == 0 {
		delete(m.tags, name)
	}
}

// forget drops the state tags remembered for name, and that its writes were refused:
// a write of its state has succeeded.
func (m *Memory) forget(name string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.tags, name)
	delete(m.refused, name)
}

// refusal is a state write refused for good: since when (the first refusal), and why.
type refusal struct {
	since time.Time
	err   string
}

// refuse remembers that name's state write was refused for good at now, for err.
func (m *Memory) refuse(name string, now time.Time, err string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.refused[name]
	if !ok {
		r.since = now
	}
	r.err = err
	m.refused[name] = r
}

// refusalOf returns name's refused state write, if one is remembered.
func (m *Memory) refusalOf(name string) (refusal, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.refused[name]
	return r, ok
}
