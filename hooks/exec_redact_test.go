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

// TestExecOutputRedactsKeysPastTheCut: a line is cut at 1 KiB, and the markers of a
// private key's BEGIN and END lines count wherever they fall in it: a hook that printed a
// long line with no newline and then cat privkey.pem had the BEGIN line cut before its
// marker, and the key's base64 logged line by line. The END marker past the cut ends the
// block as well, and a marker split between two writes, or between the kept part and the
// cut one, is found too.
func TestExecOutputRedactsKeysPastTheCut(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	keyPEM := certstest.KeyPEM(t, certstest.NewKey(t, "ec256"), "sec1")
	keyFile := filepath.Join(dir, "key.pem")
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(keyPEM)), "\n")
	body := strings.Join(lines[1:len(lines)-1], "\n") + "\n"
	if err := os.WriteFile(filepath.Join(dir, "body"), []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	const redacted = "[REDACTED: the hook printed private key material]"
	for _, tc := range []struct{ name, sh string }{
		{"BEGIN past the cut", "head -c 1100 /dev/zero | tr '\\0' x; cat " + keyFile + "\necho after\n"},
		// The marker straddles the 1025th byte: "-----BEGIN EC PRIV" kept, the rest cut.
		{"BEGIN split by the cut", "head -c 1007 /dev/zero | tr '\\0' x; cat " + keyFile + "\necho after\n"},
		// Printed in two writes, both past the cut, split inside the marker.
		{"BEGIN split between writes", "head -c 1100 /dev/zero | tr '\\0' x; printf -- '-----BEGIN EC PRIV'; printf 'ATE KEY-----\\n'; cat " + filepath.Join(dir, "body") + "; echo '-----END EC PRIV''ATE KEY-----'\necho after\n"},
		// The END line is long: the block ends there, and what follows is logged again.
		{"END past the cut", "printf -- '-----BEGIN EC PRIV''ATE KEY-----\\n'; cat " + filepath.Join(dir, "body") + "; head -c 1100 /dev/zero | tr '\\0' y; echo '-----END EC PRIV''ATE KEY-----'\necho after\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			log, logs := observed()
			h := one(t, config.Hook{Exec: []string{script(t, tc.sh)}}, hooks.Deps{Logger: log})
			if err := h.Run(t.Context(), event); err != nil {
				t.Fatalf("Run = %v", err)
			}
			got := outputLines(logs, "stdout")
			if want := []string{redacted, "after"}; !slices.Equal(got, want) {
				t.Errorf("stdout log = %.200q, want %q", got, want)
			}
			for _, e := range logs.All() {
				for k, v := range e.ContextMap() {
					if s, ok := v.(string); ok && strings.Contains(s, lines[1]) {
						t.Errorf("log %q field %s holds key material: %.80q", e.Message, k, s)
					}
				}
			}
		})
	}
}
