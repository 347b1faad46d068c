package acme_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/certferry/certferry/acme"
	"github.com/certferry/certferry/internal/sandbox/acmesim"
	"github.com/certferry/certferry/sinks/file"
)

// TestAccountDeactivatedElsewhereIsReplacedOnce: the account is deactivated at the CA by
// someone else (another client holding its key, whose store is not ours); the orders
// then begun at once all get the CA's "deactivated" answer, and one new account replaces
// it for all of them: one newAccount, every order placed, the old record kept in the
// store as superseded with the CA's answer.
func TestAccountDeactivatedElsewhereIsReplacedOnce(t *testing.T) {
	ca := startCA(t, acmesim.Options{AlwaysValid: true})
	dir := t.TempDir()
	store := file.NewAccountStore(dir)
	core, logs := observer.New(zapcore.InfoLevel)
	c, cnt := newClient(t, ca, clientOpts{store: store, logger: zap.New(core)})
	old, err := store.Load(t.Context(), ca.DirectoryURL(), "")
	if err != nil || old.URL == "" {
		t.Fatalf("stored account: %+v %v", old, err)
	}
	// The outsider: the same key and URL in a store of its own.
	other := file.NewAccountStore(t.TempDir())
	if err := other.Create(t.Context(), old); err != nil {
		t.Fatal(err)
	}
	outsider, _ := newClient(t, ca, clientOpts{store: other})
	if err := outsider.Deactivate(t.Context()); err != nil {
		t.Fatal(err)
	}

	registered := cnt.count("POST /sign-me-up")
	ctx, cancel := context.WithTimeout(t.Context(), orderBound)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() {
			o, err := c.Begin(ctx, acme.OrderRequest{Name: fmt.Sprint("c", i), Domains: []string{fmt.Sprintf("c%d.example.com", i)}, Profile: acmesim.ProfileDefault})
			if err == nil {
				_, err = c.Complete(ctx, o)
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("order %d: %v", i, err)
		}
	}
	if n := cnt.count("POST /sign-me-up") - registered; n != 1 {
		t.Errorf("%d newAccount requests, want 1", n)
	}
	now, err := store.Load(t.Context(), ca.DirectoryURL(), "")
	if err != nil || now.URL == "" || now.URL == old.URL || now.Deactivated || c.AccountURL() != now.URL {
		t.Fatalf("the account now: %+v %v (old %s, client %s)", now, err, old.URL, c.AccountURL())
	}
	// The log says what happened: superseded, not "deactivated" (certferry did not).
	if n := logs.FilterMessageSnippet("was deactivated").Len(); n != 0 {
		t.Errorf("%d log lines call the superseded account deactivated", n)
	}
	if n := logs.FilterMessage("the stored ACME account is superseded; registering a new one").Len(); n != 1 {
		t.Errorf("%d log lines say the superseded account is replaced, want 1", n)
	}
	// The file store keeps the superseded record aside, with the CA's answer.
	aside, _ := filepath.Glob(filepath.Join(dir, "*.deactivated-*"))
	if len(aside) != 1 {
		t.Fatalf("superseded records kept aside: %q", aside)
	}
	b, err := os.ReadFile(aside[0])
	if err != nil || !strings.Contains(string(b), `"deactivated_reason":"superseded at `) || !strings.Contains(string(b), "deactivated") || !strings.Contains(string(b), old.URL) {
		t.Errorf("the superseded record: %v\n%s", err, b)
	}
}
