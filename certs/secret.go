package certs

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// MaxSecretSize is the largest SecretString Secrets Manager stores, in bytes.
const MaxSecretSize = 65536

// secretJSON is the stored format (docs/secret-format.md). Field order is the output order.
type secretJSON struct {
	Cert      string   `json:"cert"`
	Key       string   `json:"key"`
	Chain     string   `json:"chain"`
	Domains   []string `json:"domains"`
	NotBefore string   `json:"not_before"`
	NotAfter  string   `json:"not_after"`
	Serial    string   `json:"serial"`
	Issuer    string   `json:"issuer"`
	ARIID     string   `json:"ari_id"`
}

// SizeError says a marshalled secret is larger than MaxSecretSize.
type SizeError struct {
	Size, Limit int
}

func (e *SizeError) Error() string {
	return fmt.Sprintf("secret is %d bytes, over the Secrets Manager limit of %d bytes", e.Size, e.Limit)
}

// MarshalSecret returns the stored form of the bundle (docs/secret-format.md): one JSON object with
// cert, key, chain, domains, not_before, not_after, serial, issuer and ari_id. It fails
// with a *SizeError when the result exceeds MaxSecretSize.
func (b *Bundle) MarshalSecret() ([]byte, error) {
	if b.Key.IsZero() {
		return nil, fmt.Errorf("certs: marshal secret %q: no key", b.Name)
	}
	domains := b.Domains
	if domains == nil {
		domains = []string{}
	}
	s := secretJSON{
		Cert:      string(b.CertPEM),
		Key:       string(b.Key.Bytes()),
		Chain:     string(b.ChainPEM),
		Domains:   domains,
		NotBefore: b.NotBefore.UTC().Format(time.RFC3339),
		NotAfter:  b.NotAfter.UTC().Format(time.RFC3339),
		Serial:    b.Serial,
		Issuer:    b.Issuer,
		ARIID:     b.ARIID,
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		return nil, fmt.Errorf("certs: marshal secret %q: %w", b.Name, err)
	}
	out := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	if len(out) > MaxSecretSize {
		return nil, fmt.Errorf("certs: marshal secret %q: %w", b.Name, &SizeError{Size: len(out), Limit: MaxSecretSize})
	}
	return out, nil
}

// ParseSecret parses a stored secret (docs/secret-format.md). It is strict about the types of the
// fields it knows (cert, key, chain, issuer, serial, ari_id strings; domains an array of
// strings; not_before, not_after RFC 3339 strings) and ignores fields it does not know.
// cert and key are required and the key must match the certificate. The metadata of the
// returned Bundle comes from the certificate itself; Name is left empty.
//
// Its errors name the field at fault and never include the secret's text.
func ParseSecret(data []byte) (*Bundle, error) {
	b, err := parseSecret(data)
	if err != nil {
		return nil, fmt.Errorf("certs: parse secret: %w", err)
	}
	return b, nil
}

func parseSecret(data []byte) (*Bundle, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(data, &fields); err != nil {
		return nil, describeJSONError(err)
	}
	if fields == nil {
		return nil, errors.New("not a JSON object")
	}
	str := func(name string, required bool) (string, error) {
		raw, ok := fields[name]
		if !ok {
			if required {
				return "", fmt.Errorf("field %q is missing", name)
			}
			return "", nil
		}
		var v string
		if err := json.Unmarshal(raw, &v); err != nil || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
			return "", fmt.Errorf("field %q: want a string, got %s", name, jsonKind(raw))
		}
		if required && strings.TrimSpace(v) == "" {
			return "", fmt.Errorf("field %q is empty", name)
		}
		return v, nil
	}
	cert, err := str("cert", true)
	if err != nil {
		return nil, err
	}
	key, err := str("key", true)
	if err != nil {
		return nil, err
	}
	chain, err := str("chain", false)
	if err != nil {
		return nil, err
	}
	ariID, err := str("ari_id", false)
	if err != nil {
		return nil, err
	}
	for _, name := range []string{"serial", "issuer"} {
		if _, err := str(name, false); err != nil {
			return nil, err
		}
	}
	for _, name := range []string{"not_before", "not_after"} {
		v, err := str(name, false)
		if err != nil {
			return nil, err
		}
		if v != "" {
			if _, err := time.Parse(time.RFC3339, v); err != nil {
				return nil, fmt.Errorf("field %q: not an RFC 3339 time", name)
			}
		}
	}
	var domains []string
	if raw, ok := fields["domains"]; ok {
		if bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
			return nil, fmt.Errorf("field %q: want an array of strings, got null", "domains")
		}
		if err := json.Unmarshal(raw, &domains); err != nil {
			return nil, fmt.Errorf("field %q: want an array of strings, got %s", "domains", jsonKind(raw))
		}
	}
	return newBundle("", domains, []byte(cert), []byte(chain), NewPrivateKeyPEM([]byte(key)), ariID)
}

// describeJSONError turns a decoding error into text without any of the input: the
// standard library's syntax errors quote the offending character.
func describeJSONError(err error) error {
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		return fmt.Errorf("not valid JSON (syntax error at byte %d)", syn.Offset)
	}
	var typ *json.UnmarshalTypeError
	if errors.As(err, &typ) {
		return fmt.Errorf("not a JSON object (got %s)", typ.Value)
	}
	return errors.New("not valid JSON")
}

// jsonKind names the JSON type of raw, for errors.
func jsonKind(raw json.RawMessage) string {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 {
		return "nothing"
	}
	switch t[0] {
	case '"':
		return "a string"
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	default:
		return "a number"
	}
}
