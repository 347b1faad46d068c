package acme

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// FileStore keeps accounts as JSON files, one per (directory, email), for a single host:
// dir/<first 16 hex digits of sha256(directory "|" email)>.json, mode 0600, in a
// directory created with mode 0700.
//
// Create writes a temporary file and hard-links it to its final name, so the account
// appears complete or not at all and exactly one of two racing creators wins (a link
// never replaces an existing name; O_EXCL alone would let a reader see a half-written
// file). Update writes a temporary file and renames it over the old one.
type FileStore struct {
	dir string
}

var _ AccountStore = (*FileStore)(nil)

// NewFileStore returns a store that keeps accounts under dir.
func NewFileStore(dir string) *FileStore { return &FileStore{dir: dir} }

// Path returns the file that holds the account of (directory, email).
func (s *FileStore) Path(directory, email string) string {
	sum := sha256.Sum256([]byte(directory + "|" + email))
	return filepath.Join(s.dir, hex.EncodeToString(sum[:])[:16]+".json")
}

// Load implements AccountStore.
func (s *FileStore) Load(ctx context.Context, directory, email string) (*Account, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("acme: file store: load: %w", err)
	}
	path := s.Path(directory, email)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNoAccount
	}
	if err != nil {
		return nil, fmt.Errorf("acme: file store: load: %w", err)
	}
	var st storedAccount
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("acme: file store: load %s: %w", path, err)
	}
	return fromStored(st, directory, email, "file store: "+path)
}

// Create implements AccountStore.
func (s *FileStore) Create(ctx context.Context, a *Account) error {
	if err := s.check(ctx, a); err != nil {
		return fmt.Errorf("acme: file store: create: %w", err)
	}
	path := s.Path(a.Directory, a.Email)
	tmp, err := s.writeTemp(a)
	if err != nil {
		return fmt.Errorf("acme: file store: create %s: %w", path, err)
	}
	defer os.Remove(tmp)
	if err := os.Link(tmp, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return ErrAccountExists
		}
		return fmt.Errorf("acme: file store: create %s: %w", path, err)
	}
	return nil
}

// Update implements AccountStore.
func (s *FileStore) Update(ctx context.Context, a *Account) error {
	if err := s.check(ctx, a); err != nil {
		return fmt.Errorf("acme: file store: update: %w", err)
	}
	path := s.Path(a.Directory, a.Email)
	tmp, err := s.writeTemp(a)
	if err != nil {
		return fmt.Errorf("acme: file store: update %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("acme: file store: update %s: %w", path, err)
	}
	return nil
}

func (s *FileStore) check(ctx context.Context, a *Account) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return checkAccount(a)
}

// writeTemp writes a's JSON to a new 0600 file in s.dir, synced, and returns its name.
func (s *FileStore) writeTemp(a *Account) (string, error) {
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return "", err
	}
	b, err := json.Marshal(toStored(a))
	if err != nil {
		return "", err
	}
	f, err := os.CreateTemp(s.dir, ".account-*.tmp") // mode 0600
	if err != nil {
		return "", err
	}
	name := f.Name()
	_, werr := f.Write(append(b, '\n'))
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		_ = os.Remove(name)
		return "", err
	}
	return name, nil
}
