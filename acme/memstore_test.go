package acme

import (
	"context"
	"sync"
)

// memStore is an AccountStore in memory, for the tests inside the package (the real
// stores, in sinks/, import this package).
type memStore struct {
	mu       sync.Mutex
	accounts map[[2]string]Account
}

var _ AccountStore = (*memStore)(nil)

func newMemStore() *memStore { return &memStore{accounts: map[[2]string]Account{}} }

func (s *memStore) Load(_ context.Context, directory, kid string) (*Account, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.accounts[[2]string{directory, kid}]
	if !ok {
		return nil, ErrNoAccount
	}
	return &a, nil
}

func (s *memStore) Create(_ context.Context, a *Account) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := [2]string{a.Directory, a.KID}
	if old, ok := s.accounts[k]; ok && !old.Deactivated {
		return ErrAccountExists
	}
	s.accounts[k] = *a
	return nil
}

func (s *memStore) Update(_ context.Context, a *Account) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.accounts[[2]string{a.Directory, a.KID}] = *a
	return nil
}

func (s *memStore) UpdateIf(_ context.Context, a *Account, check func(*Account) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := [2]string{a.Directory, a.KID}
	var cur *Account
	if old, ok := s.accounts[k]; ok {
		cur = &old
	}
	if err := check(cur); err != nil {
		return err
	}
	s.accounts[k] = *a
	return nil
}

func (s *memStore) List(context.Context) ([]*Account, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*Account
	for _, a := range s.accounts {
		out = append(out, &a)
	}
	return out, nil
}
