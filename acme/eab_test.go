package acme_test

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/certferry/certferry/acme"
	"github.com/certferry/certferry/internal/sandbox/acmesim"
	"github.com/certferry/certferry/sinks/file"
)

// The EAB options reach Pebble as arguments, not through the environment, so these tests
// may run in parallel with the others.

func randomHMAC(t *testing.T) string {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// newEABClient is acme.New against ca with eab, logging to an observer; it returns the
// log text, the store's directory and the error (rather than failing).
func newEABClient(t *testing.T, ca *acmesim.CA, eab *acme.EAB) (*acme.Client, string, string, error) {
	t.Helper()
	core, logs := observer.New(zapcore.DebugLevel)
	dir := t.TempDir()
	c, err := acme.New(t.Context(), acme.Config{
		DirectoryURL: ca.DirectoryURL(),
		Email:        "eab@example.com",
		HTTPClient:   ca.HTTPClient(),
		UserAgent:    "certferry-test",
		EAB:          eab,
		Store:        file.NewAccountStore(dir),
		Logger:       zap.New(core),
	})
	enc := zapcore.NewJSONEncoder(zap.NewDevelopmentEncoderConfig())
	var b strings.Builder
	for _, e := range logs.All() {
		buf, encErr := enc.EncodeEntry(e.Entry, e.Context)
		if encErr != nil {
			t.Fatal(encErr)
		}
		b.WriteString(buf.String())
		buf.Free()
	}
	return c, b.String(), dir, err
}

// assertNoSecret fails if any of the HMAC keys appears in text (error, log or files).
func assertNoSecret(t *testing.T, what, text string, keys ...string) {
	t.Helper()
	for _, k := range keys {
		if strings.Contains(text, k) {
			t.Errorf("%s holds the EAB HMAC key: %s", what, text)
		}
	}
}

// assertStoreHasNoSecret reads every file the account store wrote.
func assertStoreHasNoSecret(t *testing.T, dir string, keys ...string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		assertNoSecret(t, "stored file "+d.Name(), string(b), keys...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestEAB(t *testing.T) {
	t.Parallel()
	hmacKey, wrongKey := randomHMAC(t), randomHMAC(t)
	ca := startCA(t, acmesim.Options{
		AlwaysValid: true,
		RequireEAB:  true,
		EABKeys:     map[string]string{"kid-1": hmacKey},
		Profiles:    map[string]acmesim.Profile{"only": {Validity: 24 * time.Hour}},
	})

	t.Run("valid", func(t *testing.T) {
		t.Parallel()
		c, logs, dir, err := newEABClient(t, ca, &acme.EAB{KID: "kid-1", HMACKey: hmacKey})
		if err != nil {
			t.Fatalf("acme.New: %v", err)
		}
		if c.AccountURL() == "" {
			t.Fatal("no account URL")
		}
		if !strings.Contains(logs, "registered the ACME account") {
			t.Errorf("registration not logged: %s", logs)
		}
		_, cert := issue(t, c, acme.OrderRequest{Name: "eab", Domains: []string{"eab.example.com"}})
		if chain := parseChain(t, cert.FullchainPEM); chain[0].DNSNames[0] != "eab.example.com" {
			t.Errorf("leaf names = %v", chain[0].DNSNames)
		}
		assertNoSecret(t, "log", logs, hmacKey)
		assertStoreHasNoSecret(t, dir, hmacKey)
	})

	for _, tc := range []struct {
		name string
		eab  *acme.EAB
		want []string // substrings of the error
	}{
		{
			"wrong key", &acme.EAB{KID: "kid-1", HMACKey: wrongKey},
			[]string{`acme: register account with external account binding (EAB) kid "kid-1": acme problem unauthorized`, "verification error"},
		},
		{
			"unknown kid", &acme.EAB{KID: "kid-9", HMACKey: hmacKey},
			[]string{`acme: register account with external account binding (EAB) kid "kid-9": acme problem unauthorized`, "not known"},
		},
		{
			"none configured", nil,
			[]string{"acme: register account: the CA requires an external account binding (EAB) and none is configured"},
		},
		// Bad configurations fail before anything is stored or sent.
		{
			"key not base64url", &acme.EAB{KID: "kid-1", HMACKey: "not base64!" + hmacKey},
			[]string{`acme: new client: external account binding (EAB) kid "kid-1": HMACKey is not base64url`},
		},
		{
			"empty key", &acme.EAB{KID: "kid-1"},
			[]string{`acme: new client: external account binding (EAB) kid "kid-1": HMACKey is empty`},
		},
		{
			"empty kid", &acme.EAB{HMACKey: hmacKey},
			[]string{"acme: new client: external account binding (EAB): KID is empty"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, logs, dir, err := newEABClient(t, ca, tc.eab)
			if err == nil {
				t.Fatalf("acme.New succeeded (account %s), want an error", c.AccountURL())
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "acme: register account") && !strings.HasPrefix(msg, "acme: new client") {
				t.Errorf("err = %q, want an acme: register account or new client error", msg)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("err = %q, want it to mention %q", msg, w)
				}
			}
			keys := []string{hmacKey, wrongKey}
			assertNoSecret(t, "error", msg, keys...)
			assertNoSecret(t, "log", logs, keys...)
			assertStoreHasNoSecret(t, dir, keys...)
			if !acme.IsPermanent(err) {
				t.Errorf("IsPermanent(%q) = false: a refused account needs a human, not a retry in a minute", msg)
			}
			if strings.Contains(logs, "registered the ACME account") {
				t.Errorf("failed registration logged as success: %s", logs)
			}
		})
	}
}

// hideEABMeta is a RoundTripper that removes meta.externalAccountRequired from the
// directory, like a CA that requires a binding without announcing it.
type hideEABMeta struct{ base http.RoundTripper }

func (h hideEABMeta) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := h.base.RoundTrip(req)
	if err != nil || req.Method != http.MethodGet || req.URL.Path != "/dir" {
		return resp, err
	}
	defer resp.Body.Close()
	var dir map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&dir); err != nil {
		return nil, err
	}
	if meta, ok := dir["meta"].(map[string]any); ok {
		delete(meta, "externalAccountRequired")
	}
	b, err := json.Marshal(dir)
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(b))
	resp.ContentLength = int64(len(b))
	resp.Header.Del("Content-Length")
	return resp, nil
}

func TestEABRequiredUnannounced(t *testing.T) {
	t.Parallel()
	ca := startCA(t, acmesim.Options{RequireEAB: true, EABKeys: map[string]string{"kid-1": randomHMAC(t)}})
	hc := ca.HTTPClient()
	hc.Transport = hideEABMeta{base: hc.Transport}
	_, err := acme.New(t.Context(), acme.Config{
		DirectoryURL: ca.DirectoryURL(),
		HTTPClient:   hc,
		Store:        file.NewAccountStore(t.TempDir()),
	})
	const want = "acme: register account: the CA requires an external account binding (EAB) and none is configured: acme problem externalAccountRequired (HTTP 403)"
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("err = %v, want it to start with %q", err, want)
	}
	if !acme.IsPermanent(err) {
		t.Error("IsPermanent = false, want true")
	}
}
