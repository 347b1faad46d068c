// Package file writes a certificate as PEM files in a directory, the layout certbot
// users know: cert.pem (the leaf), chain.pem (the intermediates), fullchain.pem (both)
// and privkey.pem (the key, mode 0600).
//
// Every file is replaced atomically (a temporary file in the same directory, fsync,
// chmod, chown, rename, fsync of the directory), and the four files are replaced
// together: when one rename fails, the files already replaced are put back, so a reader
// never sees a key that does not match its certificate. The sink never logs key
// material, nor the content of any file.
package file

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/certferry/certferry/certs"
	"github.com/certferry/certferry/internal/fileread"
)

// File names inside a Target's Dir.
const (
	CertFile      = "cert.pem"
	ChainFile     = "chain.pem"
	FullchainFile = "fullchain.pem"
	KeyFile       = "privkey.pem"
)

// Modes of the files and of a directory the sink creates.
const (
	KeyMode  fs.FileMode = 0o600
	CertMode fs.FileMode = 0o644
	DirMode  fs.FileMode = 0o700
)

// Target says where to write.
type Target struct {
	Dir   string // created with mode 0700 when missing
	Owner string // user name or numeric id; empty keeps the process's
	Group string // group name or numeric id; empty keeps the process's
}

// Sink writes bundles as PEM files. It is safe for concurrent use on distinct
// directories; two Stores into the same directory at once are not coordinated.
type Sink struct {
	log    *zap.Logger
	rename func(oldpath, newpath string) error  // os.Rename; a seam for tests
	access func(path string, mode uint32) error // syscall.Access; a seam for tests
}

// New returns a Sink that logs to logger (nil for none).
func New(logger *zap.Logger) *Sink {
	if logger == nil {
		logger = zap.NewNop()
	}
	return &Sink{log: logger.Named("file"), rename: os.Rename, access: syscall.Access}
}

type pending struct {
	name   string // final path
	tmp    string // staged temporary file
	backup string // hard link to the previous file, if there was one
	placed bool
}

// Preflight checks, before any order, what Store would refuse for reasons no order can
// change: an owner or group that does not resolve, a Dir that exists and is not a
// directory (or a path under a file), a directory where one of its files goes. A missing
// Dir is fine: Store creates it. Nothing is written.
func (s *Sink) Preflight(target Target) error {
	if err := preflight(target, s.access); err != nil {
		return fmt.Errorf("file: %s: %w", target.Dir, err)
	}
	return nil
}

// wantAccess is access(2)'s W_OK|X_OK: files may be created in the directory.
const wantAccess = 0x2 | 0x1

func preflight(target Target, access func(string, uint32) error) error {
	if target.Dir == "" {
		return errors.New("no directory")
	}
	if _, _, err := lookupOwner(target.Owner, target.Group); err != nil {
		return err
	}
	// The nearest existing ancestor must be a directory the process may create files in
	// (Store creates the rest under it): found only by Store, after the order, a
	// directory the service user cannot write cost an order on every run, with no
	// backoff, as a file-only certificate keeps its state there too.
	for dir := filepath.Clean(target.Dir); ; dir = filepath.Dir(dir) {
		fi, err := os.Stat(dir)
		switch {
		case err == nil && fi.IsDir():
			if err := access(dir, wantAccess); err != nil {
				return fmt.Errorf("%s: cannot create files in it: %w", dir, err)
			}
			if dir == filepath.Clean(target.Dir) {
				return inTheWay(dir)
			}
			return nil
		case err == nil:
			return fmt.Errorf("%s is not a directory", dir)
		case !errors.Is(err, fs.ErrNotExist):
			return err
		case filepath.Dir(dir) == dir:
			return err
		}
	}
}

// inTheWay refuses a directory standing where the sink writes one of its files (the PEM
// files, the state file): the rename that replaces the file fails on it, after the order
// (a file-only certificate, whose backoff goes in the state file, ordered on every run).
func inTheWay(dir string) error {
	for _, name := range []string{CertFile, ChainFile, FullchainFile, KeyFile, StateFile} {
		path := filepath.Join(dir, name)
		if fi, err := os.Lstat(path); err == nil && fi.IsDir() {
			return fmt.Errorf("%s is a directory, where certferry writes a file: remove it", path)
		}
	}
	return nil
}

// Store writes b into target.Dir. On error the previous files are left as they were
// and no temporary file remains.
func (s *Sink) Store(ctx context.Context, target Target, b *certs.Bundle) error {
	if err := s.store(ctx, target, b); err != nil {
		return fmt.Errorf("file: store %s: %w", target.Dir, err)
	}
	s.log.Info("stored certificate files", zap.String("cert", b.Name), zap.String("dir", target.Dir),
		zap.Time("not_after", b.NotAfter), zap.String("serial", b.Serial))
	return nil
}

func (s *Sink) store(ctx context.Context, target Target, b *certs.Bundle) error {
	if target.Dir == "" {
		return errors.New("no directory")
	}
	if b == nil || b.Leaf == nil || b.Key.IsZero() {
		return errors.New("incomplete bundle")
	}
	uid, gid, err := lookupOwner(target.Owner, target.Group)
	if err != nil {
		return err
	}
	if err := ensureDir(target.Dir, uid, gid); err != nil {
		return err
	}
	s.warnIfShared(target.Dir, b.Name)
	s.removeStale(target.Dir)
	leafLen := len(b.CertPEM) - len(b.ChainPEM)
	if leafLen <= 0 {
		return errors.New("bundle has no leaf PEM")
	}
	files := []struct {
		name string
		data []byte
		mode fs.FileMode
	}{
		{KeyFile, b.Key.Bytes(), KeyMode},
		{CertFile, b.CertPEM[:leafLen], CertMode},
		{ChainFile, b.ChainPEM, CertMode},
		{FullchainFile, b.CertPEM, CertMode},
	}
	var ps []*pending
	defer func() { cleanup(ps) }()
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return err
		}
		p := &pending{name: filepath.Join(target.Dir, f.name)}
		ps = append(ps, p)
		if fi, err := os.Lstat(p.name); err == nil && fi.IsDir() {
			return fmt.Errorf("%s exists and is a directory", f.name)
		}
		if p.tmp, err = writeTemp(target.Dir, f.data, f.mode, uid, gid); err != nil {
			return fmt.Errorf("write %s: %w", f.name, err)
		}
	}
	// Keep the previous files reachable until every rename has succeeded.
	for _, p := range ps {
		if _, err := os.Lstat(p.name); err == nil {
			p.backup = p.tmp + ".old"
			if err := os.Link(p.name, p.backup); err != nil {
				p.backup = ""
				return fmt.Errorf("keep previous %s: %w", filepath.Base(p.name), err)
			}
		}
	}
	for _, p := range ps {
		if err := s.rename(p.tmp, p.name); err != nil {
			rollback(ps)
			return fmt.Errorf("replace %s: %w", filepath.Base(p.name), err)
		}
		p.placed, p.tmp = true, ""
	}
	for _, p := range ps {
		if p.backup != "" {
			_ = os.Remove(p.backup)
			p.backup = ""
		}
	}
	return syncDir(target.Dir)
}

// tempPattern names the sink's temporary files (os.CreateTemp's pattern); a backup of a
// previous file is the temporary file's name with ".old" appended.
const tempPattern = ".certferry-*.tmp"

// staleAfter is the age past which a temporary file is left over from a Store that never
// finished (a kill -9, a power cut). A Store takes milliseconds, so a concurrent Store's
// files are never that old.
const staleAfter = 10 * time.Minute

// removeStale deletes what an interrupted Store left behind: staged files (the new key
// among them) and backups (hard links to the previous key). Otherwise each crash would
// leave one more copy of a key in the directory, and no later Store would remove it.
func (s *Sink) removeStale(dir string) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return // the Store that follows reports what is wrong with dir
	}
	for _, e := range ents {
		tmp, _ := filepath.Match(tempPattern, e.Name()) // the patterns are well formed
		old, _ := filepath.Match(tempPattern+".old", e.Name())
		if !tmp && !old || !e.Type().IsRegular() {
			continue
		}
		fi, err := e.Info()
		if err != nil || time.Since(fi.ModTime()) < staleAfter {
			continue
		}
		name := filepath.Join(dir, e.Name())
		if err := os.Remove(name); err != nil {
			s.log.Warn("cannot remove a file left by an interrupted store", zap.String("path", name), zap.Error(err))
			continue
		}
		s.log.Info("removed a file left by an interrupted store", zap.String("path", name))
	}
}

// rollback puts back the files replaced so far.
func rollback(ps []*pending) {
	for _, p := range ps {
		if !p.placed {
			continue
		}
		if p.backup != "" {
			if os.Rename(p.backup, p.name) == nil {
				p.backup = ""
			}
		} else {
			_ = os.Remove(p.name)
		}
		p.placed = false
	}
}

// cleanup removes temporary files and backups left by a failed Store.
func cleanup(ps []*pending) {
	for _, p := range ps {
		if p.tmp != "" {
			_ = os.Remove(p.tmp)
		}
		if p.backup != "" {
			_ = os.Remove(p.backup)
		}
	}
}

// writeTemp writes data to a new temporary file in dir with the final mode and owner,
// synced to disk, and returns its path.
func writeTemp(dir string, data []byte, mode fs.FileMode, uid, gid int) (path string, err error) {
	f, err := os.CreateTemp(dir, tempPattern) // mode 0600
	if err != nil {
		return "", err
	}
	path = f.Name()
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(path)
			path = ""
		}
	}()
	if _, err = f.Write(data); err != nil {
		return
	}
	if err = f.Sync(); err != nil {
		return
	}
	if err = f.Chmod(mode); err != nil {
		return
	}
	if uid >= 0 || gid >= 0 {
		if err = f.Chown(uid, gid); err != nil {
			return
		}
	}
	err = f.Close()
	return
}

// ensureDir creates dir with mode 0700 (owned by uid/gid) when it is missing.
// warnIfShared warns when users other than the owner may write into dir: they could
// replace the certificate or the key between two renewals (the sink only checks; the
// directory's mode is the operator's to choose, and config validation warns about
// well-known shared directories).
func (s *Sink) warnIfShared(dir, name string) {
	fi, err := os.Stat(dir)
	if err != nil || fi.Mode().Perm()&0o022 == 0 {
		return
	}
	who := "its group"
	switch {
	case fi.Mode().Perm()&0o022 == 0o022:
		who = "its group and every other user"
	case fi.Mode().Perm()&0o002 != 0:
		who = "every other user"
	}
	s.log.Warn("the certificate directory is writable by "+who+", who could replace the certificate or its key: chmod go-w it",
		zap.String("cert", name), zap.String("dir", dir), zap.String("mode", fi.Mode().Perm().String()))
}

func ensureDir(dir string, uid, gid int) error {
	fi, err := os.Stat(dir)
	if err == nil {
		if !fi.IsDir() {
			return errors.New("not a directory")
		}
		return nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := os.MkdirAll(dir, DirMode); err != nil {
		return err
	}
	if err := os.Chmod(dir, DirMode); err != nil { // whatever the umask
		return err
	}
	if uid >= 0 || gid >= 0 {
		if err := os.Chown(dir, uid, gid); err != nil {
			return err
		}
	}
	return syncDir(filepath.Dir(dir))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync directory: %w", err)
	}
	return nil
}

// lookupOwner resolves names or numeric ids; -1 means "leave as is".
func lookupOwner(owner, group string) (uid, gid int, err error) {
	uid, gid = -1, -1
	if owner != "" {
		u, err := user.Lookup(owner)
		if err != nil {
			if u, err = user.LookupId(owner); err != nil {
				return -1, -1, fmt.Errorf("owner %q: unknown user", owner)
			}
		}
		if uid, err = strconv.Atoi(u.Uid); err != nil {
			return -1, -1, fmt.Errorf("owner %q: non-numeric uid %q", owner, u.Uid)
		}
	}
	if group != "" {
		g, err := user.LookupGroup(group)
		if err != nil {
			if g, err = user.LookupGroupId(group); err != nil {
				return -1, -1, fmt.Errorf("group %q: unknown group", group)
			}
		}
		if gid, err = strconv.Atoi(g.Gid); err != nil {
			return -1, -1, fmt.Errorf("group %q: non-numeric gid %q", group, g.Gid)
		}
	}
	return uid, gid, nil
}

// Load reads the files of dir back into a bundle (fullchain.pem, or cert.pem then
// chain.pem, and privkey.pem). The bundle's Name is empty and its Domains are the
// certificate's names. A missing directory or file is an error that matches
// fs.ErrNotExist with errors.Is.
func Load(dir string) (*certs.Bundle, error) {
	b, err := load(dir)
	if err != nil {
		return nil, fmt.Errorf("file: load %s: %w", dir, err)
	}
	return b, nil
}

func load(dir string) (*certs.Bundle, error) {
	full, err := readPEM(dir, FullchainFile)
	if errors.Is(err, fs.ErrNotExist) {
		leaf, lerr := readPEM(dir, CertFile)
		if lerr != nil {
			return nil, lerr
		}
		chain, cerr := readPEM(dir, ChainFile)
		if cerr != nil && !errors.Is(cerr, fs.ErrNotExist) {
			return nil, cerr
		}
		full, err = append(leaf, chain...), nil
	}
	if err != nil {
		return nil, err
	}
	key, err := readPEM(dir, KeyFile)
	if err != nil {
		return nil, err
	}
	return certs.NewBundle("", nil, full, certs.NewPrivateKeyPEM(key), "")
}

// maxPEMFile bounds each file Load reads: a chain with its key is a few KB.
const maxPEMFile = 1 << 20

// readPEM reads one of the sink's files, refusing anything but a regular file of at
// most maxPEMFile bytes: someone who can write the directory must not be able to stall a
// pass with a FIFO named privkey.pem, or exhaust its memory.
func readPEM(dir, name string) ([]byte, error) {
	return fileread.Regular(filepath.Join(dir, name), maxPEMFile)
}

// Load reads the certificate stored in dir; it is Load as a method, so that the Sink
// serves as a store a pass can inventory.
func (s *Sink) Load(dir string) (*certs.Bundle, error) { return Load(dir) }
