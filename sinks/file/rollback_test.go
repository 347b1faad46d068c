package file

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/certferry/certferry/certs/certstest"
)

// TestStoreRollback fails the third rename of a Store: the two files already replaced
// must be put back, and nothing temporary may remain.
func TestStoreRollback(t *testing.T) {
	t.Parallel()
	ca := certstest.NewCA(t)
	old := ca.Bundle(t, "x", certstest.Leaf{})
	dir := t.TempDir()
	s := New(zap.NewNop())
	if err := s.Store(context.Background(), Target{Dir: dir}, old); err != nil {
		t.Fatal(err)
	}
	n := 0
	s.rename = func(oldpath, newpath string) error {
		n++
		if n == 3 {
			return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: errors.New("injected")}
		}
		return os.Rename(oldpath, newpath)
	}
	err := s.Store(context.Background(), Target{Dir: dir}, ca.Bundle(t, "x", certstest.Leaf{}))
	if err == nil || !strings.Contains(err.Error(), "replace chain.pem: rename") {
		t.Fatalf("err = %v", err)
	}
	got, err := Load(dir)
	if err != nil || got.Serial != old.Serial {
		t.Fatalf("after rollback: %v, %v", got, err)
	}
	cert, _ := os.ReadFile(filepath.Join(dir, CertFile))
	if string(cert) != string(old.CertPEM[:len(old.CertPEM)-len(old.ChainPEM)]) {
		t.Fatal("cert.pem not rolled back")
	}
	ents, _ := os.ReadDir(dir)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if got := strings.Join(names, ","); got != "cert.pem,chain.pem,fullchain.pem,privkey.pem" {
		t.Fatalf("files = %s", got)
	}
}

// TestStoreRollbackFirstWrite: when nothing existed before, a failed Store leaves no file.
func TestStoreRollbackFirstWrite(t *testing.T) {
	t.Parallel()
	ca := certstest.NewCA(t)
	dir := t.TempDir()
	s := New(zap.NewNop())
	n := 0
	s.rename = func(oldpath, newpath string) error {
		n++
		if n == 2 {
			return errors.New("injected")
		}
		return os.Rename(oldpath, newpath)
	}
	if err := s.Store(context.Background(), Target{Dir: dir}, ca.Bundle(t, "x", certstest.Leaf{})); err == nil {
		t.Fatal("want an error")
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("left %d entries", len(ents))
	}
}
