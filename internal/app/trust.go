package app

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/certferry/certferry/config"
)

// Trust checks, as sshd's StrictModes makes them: what certferry runs or writes into must
// not be changeable by anyone but root and the user certferry runs as. An exec hook that
// any local user can rewrite, run by a root certferry, is a privilege escalation; a sink
// directory anyone can write into lets them replace the key a server loads. They are
// refused by "certferry validate" and at start (New), with the path and why.

// TrustProblems checks, for a process running as euid: when euid is 0 (root), every exec
// hook's program and each directory on its path (symbolic links resolved) is owned by
// root or euid and not writable by group or others (a sticky directory such as /tmp is
// allowed on the way, as no one may replace what others own in it); whatever euid, no
// file sink directory (nor the file account store's directory) is one that every user may
// write into, swap or create first (checkSinkDir). warnings are the file sink
// directories that are symbolic links into a system directory (the configuration's own
// check sees only the path as written).
func TrustProblems(cfg *config.Config, euid int) (problems []error, warnings []string) {
	// The file account store holds the ACME account's key: whoever could swap its
	// directory would choose the account certferry orders (and revokes) with.
	if s := cfg.ACME.AccountStore; s.Kind == config.AccountStoreFile && filepath.IsAbs(s.Dir) {
		if _, p := checkSinkDir(s.Dir, euid); p != nil {
			problems = append(problems, fmt.Errorf("acme.account_store: %q: %w", s.Dir, p))
		}
	}
	for i, c := range cfg.Certificates {
		if euid == 0 {
			for _, h := range []struct {
				kind  string
				hooks []config.Hook
			}{{"on_renew", c.Hooks.OnRenew}, {"on_failure", c.Hooks.OnFailure}} {
				for j, hk := range h.hooks {
					for _, pg := range programArgs(hk.Exec, hookPath(hk)) {
						if err := checkOwnedPath(pg.path, euid); err != nil {
							problems = append(problems, fmt.Errorf("certificates[%d].hooks.%s[%d].exec[%d] (%s): %q: %w: certferry runs it as root, so only root may be able to change it",
								i, h.kind, j, pg.index, c.Name, pg.path, err))
						}
					}
				}
			}
		}
		if f := c.Sinks.File; f != nil && filepath.IsAbs(f.Dir) {
			w, p := checkSinkDir(f.Dir, euid)
			if p != nil {
				problems = append(problems, fmt.Errorf("certificates[%d].sinks.file.dir (%s): %q: %w", i, c.Name, f.Dir, p))
			}
			if w != "" {
				warnings = append(warnings, fmt.Sprintf("certificates[%d].sinks.file.dir (%s): %q %s", i, c.Name, f.Dir, w))
			}
			if w := otherOwner(f, euid); w != "" {
				warnings = append(warnings, fmt.Sprintf("certificates[%d].sinks.file.dir (%s): %q %s", i, c.Name, f.Dir, w))
			}
		}
	}
	return problems, warnings
}

// ConfigFileProblem checks, for a process running as root (euid 0), the configuration
// file at path as an exec hook is checked (checkOwnedPath): the file, each directory on
// its path and each symbolic link on the way owned by root and not writable by group or
// others (a sticky directory such as /tmp allowed). The configuration names the programs
// root runs and where, and for whom, keys are written: whoever can change it can have
// root run anything, which makes the hook checks moot. nil for any other euid.
func ConfigFileProblem(path string, euid int) error {
	if euid != 0 {
		return nil
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return fmt.Errorf("config: %s: %w", path, err)
	}
	if err := checkOwnedPath(abs, euid); err != nil {
		return fmt.Errorf("config: %s: %w: certferry runs as root and the configuration names the programs it runs, so only root may be able to change it", path, err)
	}
	return nil
}

// program is a file a hook's exec makes root run: its path and the exec index it comes
// from.
type program struct {
	index int
	path  string
}

// programArgs are the files a hook's exec names that root runs: the program (when it is
// an absolute path), and, when the program is an interpreter, the script it is given
// (["/bin/sh", "/opt/hooks/deploy.sh"]): root runs whatever that file says, so a
// world-writable script behind a well-kept /bin/sh is as much an escalation as a
// world-writable program. An option ("-c") is not a script. When the program is env,
// what env runs is checked as the program is (envProgram), found on path, the PATH the
// hook runs with.
func programArgs(exec []string, path string) []program {
	if len(exec) == 0 || !filepath.IsAbs(exec[0]) {
		return nil
	}
	progs := []program{{0, exec[0]}}
	if filepath.Base(exec[0]) == "env" {
		return append(progs, envProgram(exec, path)...)
	}
	if len(exec) > 1 && filepath.IsAbs(exec[1]) && isInterpreter(filepath.Base(exec[0])) {
		progs = append(progs, program{1, exec[1]})
	}
	return progs
}

// isInterpreter reports whether a program's base name is a shell or a script
// interpreter that runs its first argument as a script (python3.12 and the like too).
func isInterpreter(base string) bool {
	switch strings.TrimRight(base, "0123456789.") {
	case "sh", "bash", "dash", "zsh", "ksh", "mksh", "ash", "fish", "python", "perl", "ruby", "node", "php", "lua", "tclsh":
		return true
	}
	return false
}

// maxLinkHops bounds the symbolic links checkOwnedPath follows, as the kernel's ELOOP does.
const maxLinkHops = 40

// checkOwnedPath checks path as the kernel follows it when it runs the program (walkPath):
// every directory a name is looked up in, every symbolic link met on the way (its owner
// can point it elsewhere) and the program it ends at. Resolving first and checking the
// result would miss a link in a directory anyone may write into: whoever replaces the
// link chooses what root runs. A path that does not exist is left to checkProgram.
func checkOwnedPath(path string, euid int) error {
	end, fi, err := walkPath(path,
		func(dir string) error { return lstatTrusted(dir, euid, false) },
		func(link string, fi fs.FileInfo) error { return ownedBy(link, fi, euid) })
	if err != nil || fi == nil {
		return err
	}
	return trusted(end, fi, euid, true)
}

// walkPath resolves path component by component, as the kernel does, calling dirFn for
// each directory a name is looked up in and linkFn for each symbolic link met. It
// returns where it ended and that file's Lstat, or, when a name is not there, the
// directory it was missing from and a nil FileInfo.
func walkPath(path string, dirFn func(dir string) error, linkFn func(link string, fi fs.FileInfo) error) (string, fs.FileInfo, error) {
	todo := splitPath(path)
	dir, hops := "/", 0
	for len(todo) > 0 {
		name := todo[0]
		todo = todo[1:]
		switch name {
		case "", ".":
			continue
		case "..":
			dir = filepath.Dir(dir)
			continue
		}
		if err := dirFn(dir); err != nil {
			return "", nil, err
		}
		p := filepath.Join(dir, name)
		fi, err := os.Lstat(p)
		if err != nil {
			return dir, nil, nil
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			if len(todo) == 0 {
				return p, fi, nil
			}
			dir = p
			continue
		}
		if err := linkFn(p, fi); err != nil {
			return "", nil, err
		}
		if hops++; hops > maxLinkHops {
			return "", nil, fmt.Errorf("%s: too many symbolic links", path)
		}
		target, err := os.Readlink(p)
		if err != nil {
			return dir, nil, nil
		}
		if filepath.IsAbs(target) {
			dir = "/"
		}
		todo = append(splitPath(target), todo...)
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return dir, nil, nil
	}
	return dir, fi, nil
}

func splitPath(p string) []string { return strings.Split(p, "/") }

// lstatTrusted checks the directory (or, as leaf, the file) p as trusted does.
func lstatTrusted(p string, euid int, leaf bool) error {
	fi, err := os.Lstat(p)
	if err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	return trusted(p, fi, euid, leaf)
}

// ownedBy refuses p when someone other than root or euid owns it.
func ownedBy(p string, fi fs.FileInfo, euid int) error {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Uid != 0 && int(st.Uid) != euid {
		return fmt.Errorf("%s is owned by uid %d, not root", p, st.Uid)
	}
	return nil
}

// trusted checks one path of checkOwnedPath.
func trusted(p string, fi fs.FileInfo, euid int, leaf bool) error {
	what := "directory " + p
	if leaf {
		what = p
	}
	if err := ownedBy(what, fi, euid); err != nil {
		return err
	}
	perm := fi.Mode().Perm()
	if perm&0o022 == 0 || (!leaf && fi.IsDir() && fi.Mode()&fs.ModeSticky != 0) {
		return nil
	}
	who := "its group"
	if perm&0o002 != 0 {
		who = "every user"
	}
	return fmt.Errorf("%s is writable by %s (mode %s): chmod go-w it", what, who, perm)
}

// checkSinkDir refuses a file sink directory that every user may write into, or may
// swap or create: a directory on its path writable by every user (not sticky), a
// symbolic link on the way in such a sticky directory owned by another user, a
// directory not created yet in a directory every user may write into (anyone could
// create it first). It warns when the directory is a symbolic link into a system
// directory. A directory not created yet elsewhere is fine (the sink creates it 0700).
func checkSinkDir(dir string, euid int) (warning string, problem error) {
	end, fi, err := walkPath(dir, openDirOnTheWay, func(link string, fi fs.FileInfo) error {
		if parent, err := os.Lstat(filepath.Dir(link)); err == nil && parent.Mode().Perm()&0o002 != 0 {
			return ownedBy(link, fi, euid)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	if fi == nil {
		if parent, err := os.Stat(end); err == nil && parent.Mode().Perm()&0o002 != 0 {
			return "", fmt.Errorf("does not exist yet and %s is writable by every user: anyone could create it first and choose what certferry writes into; choose another directory", end)
		}
		return "", nil
	}
	if end != filepath.Clean(dir) {
		if why, ok := config.SystemDirectory(end); ok {
			warning = fmt.Sprintf("is a symbolic link to %s, which is %s: give the certificate a directory of its own", end, why)
		}
	}
	if !fi.IsDir() {
		return warning, nil
	}
	if fi.Mode().Perm()&0o002 != 0 {
		return warning, fmt.Errorf("writable by every user (mode %s%s): anyone could replace the keys certferry writes there; chmod o-w it or choose another directory",
			fi.Mode().Perm(), stickyNote(fi))
	}
	return warning, nil
}

// otherOwner warns, for a root certferry, about a file sink directory that exists and
// belongs to another user than root, unless the sink hands its files to a user (owner:
// set, as for a server that reads them): that user can replace the certificate and key
// servers load, and nothing said so.
func otherOwner(f *config.FileSink, euid int) string {
	if euid != 0 || f.Owner != "" {
		return ""
	}
	fi, err := os.Stat(f.Dir)
	if err != nil || !fi.IsDir() {
		return ""
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Uid != 0 {
		return fmt.Sprintf("belongs to uid %d, who can replace the certificate and key written there: chown root it, or set owner: to hand the files to that user", st.Uid)
	}
	return ""
}

// openDirOnTheWay refuses a directory on a sink's path that every user may write into
// and that is not sticky: anyone could rename what follows and put their own in its place.
func openDirOnTheWay(dir string) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		return nil
	}
	if fi.Mode().Perm()&0o002 != 0 && fi.Mode()&fs.ModeSticky == 0 {
		return fmt.Errorf("directory %s is writable by every user (mode %s): anyone could replace what lies under it; chmod o-w it or choose another directory", dir, fi.Mode().Perm())
	}
	return nil
}

func stickyNote(fi fs.FileInfo) string {
	if fi.Mode()&fs.ModeSticky != 0 {
		return ", sticky"
	}
	return ""
}
