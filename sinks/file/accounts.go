package file

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/certferry/certferry/acme"
	"github.com/certferry/certferry/internal/accountstore"
	"github.com/certferry/certferry/internal/fileread"
)

// AccountStore keeps accounts as JSON files for a single host, one per (directory, EAB key
// id): dir/account-<first 16 hex digits of sha256(directory NUL kid)>.json, mode 0600,
// in a directory created with mode 0700.
//
// Create writes a temporary file and hard-links it to its final name, so the account
// appears complete or not at all and exactly one of two racing creators wins (a link
// never replaces an existing name; O_EXCL alone would let a reader see a half-written
// file). Update writes a temporary file and renames it over the old one. Accounts of
// different pairs live in different files, so writers of two CAs never meet.
//
// Files older versions wrote (dir/<16 hex digits>.json, keyed by directory and email)
// are still read: Load falls back to one whose directory matches, and the next write
// of that account goes to the new name. The old file is left in place.
type AccountStore struct {
	dir string
}

var _ acme.AccountStore = (*AccountStore)(nil)

// NewAccountStore returns a store that keeps accounts under dir.
func NewAccountStore(dir string) *AccountStore { return &AccountStore{dir: dir} }

// Path returns the file that holds the account of (directory, kid).
func (s *AccountStore) Path(directory, kid string) string {
	sum := sha256.Sum256([]byte(directory + "\x00" + kid))
	return filepath.Join(s.dir, "account-"+hex.EncodeToString(sum[:])[:16]+".json")
}

// legacyName matches the files older versions wrote.
var legacyName = regexp.MustCompile(`^[0-9a-f]{16}\.json$`)

// Load implements acme.AccountStore.
func (s *AccountStore) Load(ctx context.Context, directory, kid string) (*acme.Account, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("file: account store: load: %w", err)
	}
	path := s.Path(directory, kid)
	st, err := readAccountFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return s.loadLegacy(directory, kid)
	}
	if err != nil {
		return nil, fmt.Errorf("file: account store: load %s: %w", path, err)
	}
	if ok, _ := st.Matches(directory, kid); !ok {
		return nil, fmt.Errorf("file: account store: %s holds the account of directory %q, not %q", path, st.Directory, directory)
	}
	return st.Account(kid, "file: account store: "+path)
}

// loadLegacy finds an account file of an older version for directory: the registered
// one most recently written when there are several (an older version made one per
// email).
func (s *AccountStore) loadLegacy(directory, kid string) (*acme.Account, error) {
	type cand struct {
		path string
		st   accountstore.Stored
		mod  time.Time
	}
	var found []cand
	entries, err := os.ReadDir(s.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, acme.ErrNoAccount
	}
	if err != nil {
		return nil, fmt.Errorf("file: account store: load: %w", err)
	}
	for _, e := range entries {
		if !e.Type().IsRegular() || !legacyName.MatchString(e.Name()) {
			continue
		}
		path := filepath.Join(s.dir, e.Name())
		st, err := readAccountFile(path)
		if err != nil {
			return nil, fmt.Errorf("file: account store: load %s: %w", path, err)
		}
		st.KID = nil
		if st.Directory != directory {
			continue
		}
		info, err := e.Info()
		if err != nil {
			return nil, fmt.Errorf("file: account store: load %s: %w", path, err)
		}
		found = append(found, cand{path, st, info.ModTime()})
	}
	if len(found) == 0 {
		return nil, acme.ErrNoAccount
	}
	best := slices.MaxFunc(found, func(a, b cand) int {
		if (a.st.URL != "") != (b.st.URL != "") {
			if a.st.URL != "" {
				return 1
			}
			return -1
		}
		return cmp.Or(a.mod.Compare(b.mod), strings.Compare(b.path, a.path))
	})
	return best.st.Account(kid, "file: account store: "+best.path)
}

func readAccountFile(path string) (accountstore.Stored, error) {
	b, err := fileread.Regular(path, accountstore.MaxSize) // a FIFO or a huge file is refused unread
	if err != nil {
		return accountstore.Stored{}, err
	}
	var st accountstore.Stored
	if err := json.Unmarshal(b, &st); err != nil {
		return accountstore.Stored{}, err
	}
	return st, nil
}

// List implements acme.AccountStore: every account file, the older versions' included.
func (s *AccountStore) List(ctx context.Context) ([]*acme.Account, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("file: account store: list: %w", err)
	}
	entries, err := os.ReadDir(s.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("file: account store: list: %w", err)
	}
	var out []*acme.Account
	for _, e := range entries {
		name := e.Name()
		if !e.Type().IsRegular() || !strings.HasSuffix(name, ".json") ||
			!(strings.HasPrefix(name, "account-") || legacyName.MatchString(name)) {
			continue
		}
		path := filepath.Join(s.dir, name)
		st, err := readAccountFile(path)
		if err != nil {
			return nil, fmt.Errorf("file: account store: list %s: %w", path, err)
		}
		a, err := st.Account("", "file: account store: "+path)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

// Create implements acme.AccountStore.
func (s *AccountStore) Create(ctx context.Context, a *acme.Account) error {
	if err := s.check(ctx, a); err != nil {
		return fmt.Errorf("file: account store: create: %w", err)
	}
	path := s.Path(a.Directory, a.KID)
	tmp, err := s.writeTemp(a)
	if err != nil {
		return fmt.Errorf("file: account store: create %s: %w", path, err)
	}
	defer os.Remove(tmp)
	for attempt := 0; ; attempt++ {
		err := os.Link(tmp, path)
		if err == nil {
			return nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("file: account store: create %s: %w", path, err)
		}
		// A deactivated account makes room: it is moved aside (kept, never deleted),
		// and of two racing creators only one rename finds it.
		old, rerr := readAccountFile(path)
		if rerr != nil || !old.Deactivated || attempt > 0 {
			return acme.ErrAccountExists
		}
		aside := path + ".deactivated-" + strconv.FormatInt(time.Now().UnixNano(), 10)
		if err := os.Rename(path, aside); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("file: account store: create %s: move the deactivated account aside: %w", path, err)
		}
	}
}

// Update implements acme.AccountStore.
func (s *AccountStore) Update(ctx context.Context, a *acme.Account) error {
	if err := s.check(ctx, a); err != nil {
		return fmt.Errorf("file: account store: update: %w", err)
	}
	path := s.Path(a.Directory, a.KID)
	tmp, err := s.writeTemp(a)
	if err != nil {
		return fmt.Errorf("file: account store: update %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("file: account store: update %s: %w", path, err)
	}
	return nil
}

// UpdateIf implements acme.AccountStore. The read, the check and the write happen under a
// lock file (dir/<account file>.lock, created exclusively), so two processes on the
// host never interleave them; a lock older than lockStale is taken to be left by a
// killed process and broken.
func (s *AccountStore) UpdateIf(ctx context.Context, a *acme.Account, check func(*acme.Account) error) error {
	if err := s.check(ctx, a); err != nil {
		return fmt.Errorf("file: account store: update: %w", err)
	}
	path := s.Path(a.Directory, a.KID)
	unlock, err := s.lock(ctx, path+".lock")
	if err != nil {
		return fmt.Errorf("file: account store: update %s: %w", path, err)
	}
	defer unlock()
	cur, err := s.Load(ctx, a.Directory, a.KID)
	switch {
	case errors.Is(err, acme.ErrNoAccount):
		cur = nil
	case err != nil:
		return err
	}
	if err := check(cur); err != nil {
		return err
	}
	return s.Update(ctx, a)
}

// lockStale is how old a lock file must be before it is broken.
const lockStale = time.Minute

// lock creates name exclusively, waiting (polling every lockPoll) while another process
// holds it, and returns the function that removes it.
func (s *AccountStore) lock(ctx context.Context, name string) (func(), error) {
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return nil, err
	}
	for {
		f, err := os.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err == nil {
			_ = f.Close()
			return func() { _ = os.Remove(name) }, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, err
		}
		if fi, serr := os.Stat(name); serr == nil && time.Since(fi.ModTime()) > lockStale {
			_ = os.Remove(name) // left by a killed process
			continue
		}
		t := time.NewTimer(lockPoll)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("wait for the lock %s: %w", name, ctx.Err())
		case <-t.C:
		}
	}
}

// lockPoll is how often a waiting UpdateIf looks at the lock again.
const lockPoll = 20 * time.Millisecond

func (s *AccountStore) check(ctx context.Context, a *acme.Account) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return accountstore.Check(a)
}

// writeTemp writes a's JSON to a new 0600 file in s.dir, synced, and returns its name.
func (s *AccountStore) writeTemp(a *acme.Account) (string, error) {
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return "", err
	}
	b, err := json.Marshal(accountstore.ToStored(a))
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
