package app_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/certferry/certferry/config"
	"github.com/certferry/certferry/internal/app"
)

// TestTrustProblems: run as root, an exec hook that another user could rewrite (its mode,
// a directory on its path, its owner) is refused, as sshd's StrictModes refuses a key
// file; run as another user, the hook checks do not apply. A world-writable sink
// directory is refused whatever the user; a sink directory that is a symbolic link into
// /etc is warned about as /etc itself is.
func TestTrustProblems(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	mk := func(name string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	mkdir := func(name string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.Mkdir(p, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := mk("good.sh", 0o755)
	worldWritable := mk("world.sh", 0o777)
	groupWritable := mk("group.sh", 0o775)
	open := mkdir("open", 0o777)
	inOpen := filepath.Join(open, "hook.sh")
	if err := os.WriteFile(inOpen, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	sticky := mkdir("sticky", 0o777|os.ModeSticky)
	inSticky := filepath.Join(sticky, "hook.sh")
	if err := os.WriteFile(inSticky, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "etc-link")
	if err := os.Symlink("/etc", link); err != nil {
		t.Fatal(err)
	}
	// A symbolic link is replaced by whoever may write the directory that holds it,
	// whatever it points to: a link in an open directory to a good hook, a path through a
	// linked directory there, a link in a sticky directory owned by another user.
	linkInOpen := filepath.Join(open, "link.sh")
	if err := os.Symlink(good, linkInOpen); err != nil {
		t.Fatal(err)
	}
	safeDir := mkdir("safe", 0o755)
	safeHook := filepath.Join(safeDir, "hook.sh")
	if err := os.WriteFile(safeHook, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(safeDir, filepath.Join(open, "dir")); err != nil {
		t.Fatal(err)
	}
	throughOpenDir := filepath.Join(open, "dir", "hook.sh")
	chained := filepath.Join(dir, "chained.sh") // a good directory's link to the open one's
	if err := os.Symlink(linkInOpen, chained); err != nil {
		t.Fatal(err)
	}
	relative := filepath.Join(dir, "relative.sh") // a relative link to the good hook
	if err := os.Symlink("safe/hook.sh", relative); err != nil {
		t.Fatal(err)
	}
	otherLink := filepath.Join(sticky, "other-link.sh")
	if err := os.Symlink(good, otherLink); err != nil {
		t.Fatal(err)
	}
	sinkOpen := mkdir("sink-open", 0o777)
	sinkOK := mkdir("sink-ok", 0o750)
	// A sink directory reached through an open directory is anyone's to swap; one not
	// created yet in an open (even sticky) directory is anyone's to create first.
	sinkLinkInOpen := filepath.Join(open, "sink")
	if err := os.Symlink(sinkOK, sinkLinkInOpen); err != nil {
		t.Fatal(err)
	}
	sinkOtherLink := filepath.Join(sticky, "sink-link")
	if err := os.Symlink(sinkOK, sinkOtherLink); err != nil {
		t.Fatal(err)
	}

	uid := os.Geteuid()
	otherOwned := mk("other.sh", 0o755)
	if uid == 0 {
		if err := os.Chown(otherOwned, 4242, 4242); err != nil {
			t.Fatal(err)
		}
		if err := os.Lchown(otherLink, 4242, 4242); err != nil {
			t.Fatal(err)
		}
		if err := os.Lchown(sinkOtherLink, 4242, 4242); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		name    string
		hook    string
		sinkDir string
		euid    int
		want    string // "" : no problem
		warn    string
	}{
		{"good hook", good, "", uid, "", ""},
		{"world-writable hook", worldWritable, "", 0, "is writable by every user (mode -rwxrwxrwx)", ""},
		{"group-writable hook", groupWritable, "", 0, "is writable by its group (mode -rwxrwxr-x)", ""},
		{"hook in a world-writable directory", inOpen, "", 0, "directory " + open + " is writable by every user", ""},
		{"hook in a sticky directory", inSticky, "", 0, "", ""},
		{"hook linked from a world-writable directory", linkInOpen, "", 0, "directory " + open + " is writable by every user", ""},
		{"hook through a linked directory in a world-writable directory", throughOpenDir, "", 0, "directory " + open + " is writable by every user", ""},
		{"hook through a chain of links", chained, "", 0, "directory " + open + " is writable by every user", ""},
		{"hook through a relative link", relative, "", 0, "", ""},
		{"hook linked from a sticky directory by another user", otherLink, "", 0, otherLink + " is owned by uid 4242, not root", ""},
		{"hook owned by another user", otherOwned, "", 0, otherOwned + " is owned by uid 4242, not root", ""},
		{"not root: hooks not checked", worldWritable, "", 4242, "", ""},
		{"world-writable sink directory", "", sinkOpen, 4242, "writable by every user (mode -rwxrwxrwx)", ""},
		{"sink directory", "", sinkOK, 0, "", ""},
		{"sink directory not there yet", "", filepath.Join(dir, "later"), 0, "", ""},
		{"sink directory linked from a world-writable directory", "", sinkLinkInOpen, 4242, "directory " + open + " is writable by every user", ""},
		{"sink directory under a world-writable directory", "", filepath.Join(open, "later", "certs"), 4242, "directory " + open + " is writable by every user", ""},
		{"sink directory not there yet in a sticky directory", "", filepath.Join(sticky, "later"), 4242, "does not exist yet and " + sticky + " is writable by every user", ""},
		{"sink directory linked from a sticky directory by another user", "", sinkOtherLink, 0, sinkOtherLink + " is owned by uid 4242", ""},
		{"sink directory linked to /etc", "", link, 0, "", "is a symbolic link to /etc, which is a system directory"},
	} {
		cert := config.Certificate{Name: "web", Domains: []string{"www.example.com"}}
		if c.hook != "" {
			cert.Hooks.OnRenew = []config.Hook{{Exec: []string{c.hook}}}
		}
		if c.sinkDir != "" {
			cert.Sinks.File = &config.FileSink{Dir: c.sinkDir}
		}
		if c.euid == 0 && uid != 0 {
			t.Logf("%s: skipped: the test does not run as root, and the files are not root's", c.name)
			continue
		}
		problems, warnings := app.TrustProblems(&config.Config{Certificates: []config.Certificate{cert}}, c.euid)
		checkProblems(t, c.name, problems, c.want)
		if got := strings.Join(warnings, "\n"); (c.warn == "") != (got == "") || !strings.Contains(got, c.warn) {
			t.Errorf("%s: warnings %q, want %q", c.name, got, c.warn)
		}
	}
}

// TestTrustProblemsAccountStore: the file account store's directory holds the ACME
// account's key; one every user may write into (or create first, in /tmp) is refused as
// a file sink directory is, whatever the user: anyone could put their own account there.
// It passed validate silently.
func TestTrustProblemsAccountStore(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	open := filepath.Join(dir, "open")
	if err := os.Mkdir(open, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o777); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ dir, want string }{
		{open, "acme.account_store: \"" + open + "\": writable by every user"},
		{filepath.Join(open, "accounts"), "acme.account_store: \"" + filepath.Join(open, "accounts") + "\": directory " + open + " is writable by every user"},
		{filepath.Join(dir, "accounts"), ""},
	} {
		cfg := &config.Config{ACME: config.ACME{AccountStore: config.AccountStore{Kind: config.AccountStoreFile, Dir: c.dir}}}
		problems, _ := app.TrustProblems(cfg, 4242)
		checkProblems(t, c.dir, problems, c.want)
	}
}

// TestTrustProblemsInterpreterScript: run as root, a hook that runs a script through an
// interpreter (["/bin/sh", "/opt/hooks/deploy.sh"]) has the script checked as a program
// is: a world-writable script, or one in a world-writable directory, passed validate
// silently behind a well-kept /bin/sh, and root ran whatever any local user wrote in it.
// An option ("-c") and a program that is no interpreter are not checked. A script run
// through env (["/usr/bin/env", "bash", "/opt/hooks/deploy.sh"], env -S, env VAR=x) was
// not checked at all; it is now, as env would find it.
func TestTrustProblemsInterpreterScript(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("the hook checks apply when certferry runs as root")
	}
	dir := t.TempDir()
	script := func(name string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good, open := script("good.sh", 0o755), script("open.sh", 0o666)
	prog := script("prog", 0o777) // found on env's PATH= as env would run it
	for _, c := range []struct {
		exec []string
		want string
	}{
		{[]string{"/bin/sh", good}, ""},
		{[]string{"/bin/sh", open}, "exec[1] (web): \"" + open + "\": " + open + " is writable by every user (mode -rw-rw-rw-)"},
		{[]string{"/usr/bin/python3.12", open}, "exec[1] (web)"},
		{[]string{"/bin/bash", "-c", open}, ""},
		{[]string{"/usr/bin/install", open, "/srv/cert.pem"}, ""},
		// Through env: its options and VAR=value words skipped, the program found on
		// the hook's PATH (or a PATH= given to env), the script checked as above.
		{[]string{"/usr/bin/env", "bash", open}, "exec[2] (web): \"" + open + "\": " + open + " is writable by every user"},
		{[]string{"/usr/bin/env", "-", "sh", open}, "exec[3] (web)"},
		{[]string{"/usr/bin/env", "-i", "-u", "HOME", "--chdir=/", "VAR=x", "sh", open}, "exec[7] (web)"},
		{[]string{"/usr/bin/env", "-S", "bash -e " + open}, ""}, // -e is an option, not a script
		{[]string{"/usr/bin/env", "-S", "bash " + open}, "exec[2] (web): \"" + open + "\""},
		{[]string{"/usr/bin/env", "-vS bash " + open}, "exec[1] (web): \"" + open + "\""},
		{[]string{"/usr/bin/env", "--split-string=-i bash", open}, "exec[2] (web)"},
		{[]string{"/usr/bin/env", "--", "/usr/bin/env", "python3", open}, "exec[4] (web)"},
		{[]string{"/usr/bin/env", "PATH=" + dir, "prog"}, "exec[2] (web): \"" + prog + "\": " + prog + " is writable by every user"},
		{[]string{"/usr/bin/env", "bash", good}, ""},
		{[]string{"/usr/bin/env", "bash", "-c", open}, ""},
	} {
		cert := config.Certificate{Name: "web", Domains: []string{"www.example.com"}}
		cert.Hooks.OnRenew = []config.Hook{{Exec: c.exec}}
		problems, _ := app.TrustProblems(&config.Config{Certificates: []config.Certificate{cert}}, 0)
		checkProblems(t, fmt.Sprintf("%q", c.exec), problems, c.want)
	}
}

// TestTrustProblemsSinkOwner: run as root, a file sink directory that belongs to another
// user is warned about (that user can replace the certificate and key written there);
// it passed validate silently. A sink that sets owner: hands its files to a user on
// purpose and is not warned about, nor is a certferry run as another user.
func TestTrustProblemsSinkOwner(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("the owner warning applies when certferry runs as root")
	}
	dir := filepath.Join(t.TempDir(), "certs")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, 4242, 4242); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		owner string
		euid  int
		warn  string
	}{
		{"", 0, "belongs to uid 4242, who can replace the certificate and key written there"},
		{"4242", 0, ""},
		{"", 4242, ""},
	} {
		cert := config.Certificate{Name: "web", Domains: []string{"www.example.com"}, Sinks: config.Sinks{File: &config.FileSink{Dir: dir, Owner: c.owner}}}
		problems, warnings := app.TrustProblems(&config.Config{Certificates: []config.Certificate{cert}}, c.euid)
		if got := strings.Join(warnings, "\n"); len(problems) > 0 || (c.warn == "") != (got == "") || !strings.Contains(got, c.warn) {
			t.Errorf("owner %q, euid %d: problems %v, warnings %q; want warning %q", c.owner, c.euid, problems, got, c.warn)
		}
	}
}

// checkProblems fails the test unless problems is empty (want "") or is one problem
// containing want; what names the case in the message.
func checkProblems(t *testing.T, what string, problems []error, want string) {
	t.Helper()
	switch {
	case want == "" && len(problems) > 0:
		t.Errorf("%s: %v, want no problem", what, problems)
	case want != "" && (len(problems) != 1 || !strings.Contains(problems[0].Error(), want)):
		t.Errorf("%s: %v, want one problem containing %q", what, problems, want)
	}
}
