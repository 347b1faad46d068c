package app_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/certferry/certferry/acme"
	"github.com/certferry/certferry/internal/app"
	"github.com/certferry/certferry/internal/e2etest"
	"github.com/certferry/certferry/internal/sandbox"
)

// TestStoredACME: a client for another directory than the Runner's is opened only with
// an account certferry stored for it. For a directory it keeps none for, StoredACME
// fails with acme.ErrNoAccount, sends that directory nothing and stores no account; once
// a dry run registered the dry-run CA's account, its client opens (and is kept).
func TestStoredACME(t *testing.T) {
	t.Parallel()
	e := e2etest.Start(t, sandbox.Options{Zones: []string{"example.com"}})
	e.Base = `acme:
  directory: {{dir}}
  email: stored@example.com
  ca_bundle: {{ca}}
  issuer_roots: {{issuer}}
aws:
  region: {{region}}
  endpoint_url: {{endpoint}}
`
	cfg := e.Config(t, e2etest.CertsYAML(e2etest.CertYAML("web", "www.example.com")))
	a := e.App(t, cfg)
	var requests atomic.Int64
	stranger := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		requests.Add(1)
		http.Error(w, "not a CA of certferry's", http.StatusNotFound)
	}))
	defer stranger.Close()
	other := strings.Replace(e.Info.ACMEDirectory, "127.0.0.1", "localhost", 1)
	for _, dir := range []string{stranger.URL + "/dir", other} {
		if _, err := a.StoredACME(t.Context(), dir); !errors.Is(err, acme.ErrNoAccount) {
			t.Errorf("StoredACME(%s) with no account stored: %v, want ErrNoAccount", dir, err)
		}
	}
	if n := requests.Load(); n != 0 {
		t.Errorf("%d request(s) reached a directory certferry keeps no account for", n)
	}
	if list, err := a.AccountStore().List(t.Context()); err != nil || len(list) != 0 {
		t.Errorf("accounts stored by StoredACME: %d (%v)", len(list), err)
	}

	// A dry run against other registers that CA's account; the sweep's client opens.
	dry, err := app.New(t.Context(), cfg, zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)),
		app.Options{AWS: &e.AWS, Version: "test", DryRunDirectory: other})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dry.ACME(t.Context()); err != nil {
		t.Fatalf("the dry run's account: %v", err)
	}
	c, err := a.StoredACME(t.Context(), other)
	if err != nil {
		t.Fatalf("StoredACME(%s) with its account stored: %v", other, err)
	}
	if again, err := a.StoredACME(t.Context(), other); err != nil || again != c {
		t.Errorf("StoredACME opened the client again: %v", err)
	}
	if list, _ := a.AccountStore().List(t.Context()); len(list) != 1 || list[0].Directory != other {
		t.Errorf("accounts stored: %d, want the dry-run CA's only", len(list))
	}
}
