package hooks_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/certferry/certferry/certs/certstest"
	"github.com/certferry/certferry/config"
	"github.com/certferry/certferry/hooks"
)

// TestExecOutputRedactsKeys: a hook that prints a private key (cat privkey.pem, an aws
// CLI call reading the secret's JSON) gets its output logged without the key: the PEM
// block is one redacted line, a line naming a key is replaced whole, the lines around them
// are kept, and the error's last line is the redacted one too.
func TestExecOutputRedactsKeys(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, format := range []string{"pkcs8", "sec1"} {
		keyPEM := certstest.KeyPEM(t, certstest.NewKey(t, "ec256"), format)
		if err := os.WriteFile(filepath.Join(dir, format+".pem"), keyPEM, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	keyPEM, err := os.ReadFile(filepath.Join(dir, "pkcs8.pem"))
	if err != nil {
		t.Fatal(err)
	}
	secretJSON, err := json.Marshal(map[string]string{"cert": "x", "key": string(keyPEM)})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "secret.json"), append(secretJSON, '\n'), 0o600); err != nil {
		t.Fatal(err)
	}

	log, logs := observed()
	p := script(t, "echo before\ncat "+dir+"/pkcs8.pem "+dir+"/sec1.pem\necho after\ncat "+dir+"/secret.json >&2\nexit 1\n")
	h := one(t, config.Hook{Exec: []string{p}}, hooks.Deps{Logger: log})
	err = h.Run(t.Context(), event)
	var xe *hooks.ExitError
	if !errors.As(err, &xe) {
		t.Fatalf("Run = %v, want an *ExitError", err)
	}
	const redacted = "[REDACTED: the hook printed private key material]"
	if want := []string{"before", redacted, redacted, "after"}; !slices.Equal(outputLines(logs, "stdout"), want) {
		t.Errorf("stdout log = %q, want %q", outputLines(logs, "stdout"), want)
	}
	if want := []string{redacted}; !slices.Equal(outputLines(logs, "stderr"), want) {
		t.Errorf("stderr log = %q, want %q", outputLines(logs, "stderr"), want)
	}
	if xe.LastLine != redacted {
		t.Errorf("ExitError.LastLine = %q, want the redacted line", xe.LastLine)
	}
	body := strings.Split(string(keyPEM), "\n")[1] // the first line of the key's base64
	for _, e := range logs.All() {
		for k, v := range e.ContextMap() {
			if s, ok := v.(string); ok && (strings.Contains(s, "PRIVATE"+" KEY-") || strings.Contains(s, body)) {
				t.Errorf("log %q field %s holds key material: %.80q", e.Message, k, s)
			}
		}
	}
}
