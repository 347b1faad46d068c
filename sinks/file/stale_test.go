package file_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/certferry/certferry/certs/certstest"
	"github.com/certferry/certferry/sinks/file"
)

// TestStoreRemovesStaleTempFiles: a Store killed between staging and renaming (kill -9, a
// power cut) leaves 0600 copies of keys behind (the staged new key, the backup link to the
// old one). The next Store removes those older than a few minutes, and leaves alone a
// recent one (a Store still running) and files that are not the sink's.
func TestStoreRemovesStaleTempFiles(t *testing.T) {
	t.Parallel()
	ca := certstest.NewCA(t)
	dir := t.TempDir()
	s, logs := newSink(t)
	if err := s.Store(context.Background(), file.Target{Dir: dir}, ca.Bundle(t, "x", certstest.Leaf{})); err != nil {
		t.Fatal(err)
	}
	key, err := os.ReadFile(filepath.Join(dir, file.KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	longAgo := time.Now().Add(-time.Hour)
	for name, age := range map[string]time.Time{
		".certferry-111.tmp":     longAgo,    // a staged file of a killed Store
		".certferry-222.tmp.old": longAgo,    // its backup link to the previous key
		".certferry-333.tmp":     time.Now(), // a Store in progress
		"notes.tmp":              longAgo,    // the operator's
	} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, key, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, age, age); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, ".certferry-444.tmp"), 0o700); err != nil { // not a regular file
		t.Fatal(err)
	}
	if err := s.Store(context.Background(), file.Target{Dir: dir}, ca.Bundle(t, "x", certstest.Leaf{})); err != nil {
		t.Fatal(err)
	}
	want := []string{".certferry-333.tmp", ".certferry-444.tmp", "cert.pem", "chain.pem", "fullchain.pem", "notes.tmp", "privkey.pem"}
	if got := listDir(t, dir); !slices.Equal(got, want) {
		t.Errorf("files = %q, want %q", got, want)
	}
	if n := logs.FilterMessage("removed a file left by an interrupted store").Len(); n != 2 {
		t.Errorf("%d removals logged, want 2", n)
	}
}
