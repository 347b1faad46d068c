package file_test

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/certferry/certferry/certs"
	"github.com/certferry/certferry/certs/certstest"
	"github.com/certferry/certferry/internal/testwait"
	"github.com/certferry/certferry/sinks/file"
)

// newSink returns a sink whose debug-level log is checked for key material at the end.
func newSink(t *testing.T) (*file.Sink, *observer.ObservedLogs) {
	core, logs := observer.New(zapcore.DebugLevel)
	t.Cleanup(func() {
		enc := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
		for _, e := range logs.All() {
			buf, err := enc.EncodeEntry(e.Entry, e.Context)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(buf.String(), "PRIVATE KEY") {
				t.Errorf("log line leaks the key: %s", buf.String())
			}
		}
	})
	return file.New(zap.New(core)), logs
}

func mode(t *testing.T, path string) fs.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

func TestStoreAndLoad(t *testing.T) {
	t.Parallel()
	ca := certstest.NewCA(t)
	b := ca.Bundle(t, "example", certstest.Leaf{Domains: []string{"www.example.com", "example.com"}})
	s, logs := newSink(t)
	dir := filepath.Join(t.TempDir(), "live", "example")
	if err := s.Store(context.Background(), file.Target{Dir: dir}, b); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(listDir(t, dir), ","); got != "cert.pem,chain.pem,fullchain.pem,privkey.pem" {
		t.Fatalf("files = %s", got)
	}
	want := map[string]struct {
		mode fs.FileMode
		data []byte
	}{
		file.KeyFile:       {0o600, b.Key.Bytes()},
		file.CertFile:      {0o644, b.CertPEM[:len(b.CertPEM)-len(b.ChainPEM)]},
		file.ChainFile:     {0o644, ca.InterPEM},
		file.FullchainFile: {0o644, b.CertPEM},
	}
	for name, w := range want {
		p := filepath.Join(dir, name)
		if m := mode(t, p); m != w.mode {
			t.Errorf("%s mode %o, want %o", name, m, w.mode)
		}
		got, _ := os.ReadFile(p)
		if !bytes.Equal(got, w.data) {
			t.Errorf("%s content differs", name)
		}
	}
	if m := mode(t, dir); m != 0o700 {
		t.Errorf("dir mode %o, want 700", m)
	}
	if logs.Len() == 0 {
		t.Error("no log line")
	}

	got, err := file.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got.Serial != b.Serial || got.NotAfter != b.NotAfter || strings.Join(got.Domains, ",") != "www.example.com,example.com" {
		t.Errorf("Load = %v", got)
	}
	if err := got.Verify(ca.Roots, time.Now()); err != nil {
		t.Error(err)
	}

	// A second store replaces every file and leaves nothing else behind.
	b2 := ca.Bundle(t, "example", certstest.Leaf{Domains: []string{"www.example.com"}})
	if err := s.Store(context.Background(), file.Target{Dir: dir}, b2); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(listDir(t, dir), ","); got != "cert.pem,chain.pem,fullchain.pem,privkey.pem" {
		t.Fatalf("files after replace = %s", got)
	}
	got, err = file.Load(dir)
	if err != nil || got.Serial != b2.Serial {
		t.Fatalf("Load after replace = %v, %v", got, err)
	}
}

func TestStoreExistingDirKeepsMode(t *testing.T) {
	t.Parallel()
	ca := certstest.NewCA(t)
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	s, _ := newSink(t)
	if err := s.Store(context.Background(), file.Target{Dir: dir}, ca.Bundle(t, "x", certstest.Leaf{})); err != nil {
		t.Fatal(err)
	}
	if m := mode(t, dir); m != 0o755 {
		t.Errorf("existing dir mode changed to %o", m)
	}
}

func TestStoreFailureLeavesOldFiles(t *testing.T) {
	t.Parallel()
	ca := certstest.NewCA(t)
	old := ca.Bundle(t, "x", certstest.Leaf{})
	dir := t.TempDir()
	s, _ := newSink(t)
	if err := s.Store(context.Background(), file.Target{Dir: dir}, old); err != nil {
		t.Fatal(err)
	}
	// Make one rename target a directory.
	if err := os.Remove(filepath.Join(dir, file.ChainFile)); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, file.ChainFile), 0o700); err != nil {
		t.Fatal(err)
	}
	err := s.Store(context.Background(), file.Target{Dir: dir}, ca.Bundle(t, "x", certstest.Leaf{}))
	want := "file: store " + dir + ": chain.pem exists and is a directory"
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v, want %q", err, want)
	}
	got, err := file.Load(dir)
	if err != nil || got.Serial != old.Serial {
		t.Fatalf("old files changed: %v, %v", got, err)
	}
	if got := strings.Join(listDir(t, dir), ","); got != "cert.pem,chain.pem,fullchain.pem,privkey.pem" {
		t.Fatalf("files = %s", got)
	}
}

func TestStoreErrors(t *testing.T) {
	t.Parallel()
	ca := certstest.NewCA(t)
	b := ca.Bundle(t, "x", certstest.Leaf{})
	notDir := filepath.Join(t.TempDir(), "plain")
	if err := os.WriteFile(notDir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	s, _ := newSink(t)
	tests := []struct {
		name   string
		target file.Target
		b      *certs.Bundle
		want   string
	}{
		{"no dir", file.Target{}, b, "file: store : no directory"},
		{"dir is a file", file.Target{Dir: notDir}, b, "file: store " + notDir + ": not a directory"},
		{"unknown owner", file.Target{Dir: t.TempDir(), Owner: "no-such-user-certferry"}, b, `unknown user`},
		{"unknown group", file.Target{Dir: t.TempDir(), Group: "no-such-group-certferry"}, b, `unknown group`},
		{"nil bundle", file.Target{Dir: t.TempDir()}, nil, "incomplete bundle"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.Store(context.Background(), tt.target, tt.b)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestStoreOwner(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("chown needs root")
	}
	u, err := user.Lookup("nobody")
	if err != nil {
		t.Skip("no user nobody")
	}
	g, err := user.LookupGroupId(u.Gid)
	if err != nil {
		t.Skip("no group for nobody")
	}
	ca := certstest.NewCA(t)
	dir := filepath.Join(t.TempDir(), "owned")
	s, _ := newSink(t)
	if err := s.Store(context.Background(), file.Target{Dir: dir, Owner: "nobody", Group: g.Name}, ca.Bundle(t, "x", certstest.Leaf{})); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{dir, filepath.Join(dir, file.KeyFile), filepath.Join(dir, file.FullchainFile)} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		if strconv.Itoa(int(st.Uid)) != u.Uid || strconv.Itoa(int(st.Gid)) != u.Gid {
			t.Errorf("%s owned by %d:%d, want %s:%s", p, st.Uid, st.Gid, u.Uid, u.Gid)
		}
	}
}

func TestLoadMissing(t *testing.T) {
	t.Parallel()
	_, err := file.Load(filepath.Join(t.TempDir(), "nothing"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("err = %v, want fs.ErrNotExist", err)
	}
}

// TestStoreWarnsAboutSharedDirectory: a directory others may write into is used, with a
// warning naming who can write; a private or group-readable one gets none.
func TestStoreWarnsAboutSharedDirectory(t *testing.T) {
	t.Parallel()
	ca := certstest.NewCA(t)
	b := ca.Bundle(t, "x", certstest.Leaf{})
	for _, c := range []struct {
		mode fs.FileMode
		want string
	}{
		{0o700, ""},
		{0o755, ""},
		{0o775, "writable by its group,"},
		{0o757, "writable by every other user,"},
		{0o777, "writable by its group and every other user,"},
		{0o1777, "writable by its group and every other user,"},
	} {
		dir := t.TempDir()
		if err := os.Chmod(dir, c.mode); err != nil {
			t.Fatal(err)
		}
		s, logs := newSink(t)
		if err := s.Store(context.Background(), file.Target{Dir: dir}, b); err != nil {
			t.Fatal(err)
		}
		warns := logs.FilterLevelExact(zapcore.WarnLevel).All()
		switch {
		case c.want == "" && len(warns) != 0:
			t.Errorf("mode %o: warned %q", c.mode, warns[0].Message)
		case c.want != "" && (len(warns) != 1 || !strings.Contains(warns[0].Message, c.want) || warns[0].ContextMap()["dir"] != dir):
			t.Errorf("mode %o: warnings %v, want one containing %q", c.mode, warns, c.want)
		}
	}
}

// TestLoadRefusesFIFO: a FIFO planted as privkey.pem fails Load at once instead of
// blocking it (and the pass with it).
func TestLoadRefusesFIFO(t *testing.T) {
	t.Parallel()
	ca := certstest.NewCA(t)
	dir := t.TempDir()
	s, _ := newSink(t)
	if err := s.Store(context.Background(), file.Target{Dir: dir}, ca.Bundle(t, "x", certstest.Leaf{})); err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(dir, file.KeyFile)
	if err := os.Remove(key); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(key, 0o600); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := file.Load(dir); done <- err }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "privkey.pem: a named pipe (FIFO), not a regular file") {
			t.Errorf("Load = %v", err)
		}
	case <-time.After(testwait.For(0)): // a refusal needs no I/O: a step of work
		t.Fatal("Load blocked on a FIFO")
	}
}
