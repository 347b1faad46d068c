package certs_test

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/go-acme/lego/v4/certificate"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/certferry/certferry/certs"
	"github.com/certferry/certferry/certs/certstest"
)

func TestNewBundle(t *testing.T) {
	t.Parallel()
	ca := certstest.NewCA(t)
	tests := []struct {
		keyType, format string
	}{
		{"ec256", "pkcs8"},
		{"ec256", "sec1"},
		{"ec384", "pkcs8"},
		{"rsa2048", "pkcs1"},
		{"rsa3072", "pkcs8"},
	}
	for _, tt := range tests {
		t.Run(tt.keyType+"/"+tt.format, func(t *testing.T) {
			t.Parallel()
			domains := []string{"www.example.com", "example.com"}
			serial := new(big.Int).SetBytes([]byte{0x87, 0x65, 0x43, 0x21}) // high bit set
			full, key := ca.Issue(t, certstest.Leaf{Domains: domains, KeyType: tt.keyType, KeyFormat: tt.format, Serial: serial})
			b, err := certs.NewBundle("example", domains, full, certs.NewPrivateKeyPEM(key), "")
			if err != nil {
				t.Fatalf("NewBundle: %v", err)
			}
			legoID, err := certificate.MakeARICertID(b.Leaf)
			if err != nil {
				t.Fatal(err)
			}
			checks := []struct{ name, got, want string }{
				{"key type", b.KeyType, tt.keyType},
				{"serial", b.Serial, "87654321"},
				{"ari id", b.ARIID, legoID},
				{"issuer", b.Issuer, "CN=certstest intermediate,O=certferry tests"},
				{"chain", string(b.ChainPEM), string(ca.InterPEM)},
				{"fullchain", string(b.CertPEM), string(full)},
				{"domains", strings.Join(b.Domains, ","), "www.example.com,example.com"},
				{"not after", b.NotAfter.Format(time.RFC3339), b.Leaf.NotAfter.UTC().Format(time.RFC3339)},
				{"key", string(b.Key.Bytes()), string(key)},
			}
			for _, c := range checks {
				if c.got != c.want {
					t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
				}
			}
			if err := b.Verify(ca.Roots, time.Now()); err != nil {
				t.Errorf("Verify: %v", err)
			}
		})
	}
}

func TestNewBundleErrors(t *testing.T) {
	t.Parallel()
	ca := certstest.NewCA(t)
	full, key := ca.Issue(t, certstest.Leaf{})
	_, otherKey := ca.Issue(t, certstest.Leaf{})
	tests := []struct {
		name      string
		fullchain []byte
		key       []byte
		want      string
	}{
		{"mismatched key", full, otherKey, `certs: new bundle "x": key: does not match the certificate's public key`},
		{"no key", full, nil, `certs: new bundle "x": key: missing`},
		{"garbage key", full, []byte("not a key"), `certs: new bundle "x": key: no PEM private key block found`},
		{"corrupt key block", full, []byte("-----BEGIN " + "PRIVATE KEY-----\nAAAA\n-----END " + "PRIVATE KEY-----\n"),
			`certs: new bundle "x": key: the private key block does not parse as PKCS#8, SEC 1 (EC) or PKCS#1 (RSA)`},
		{"no cert", nil, key, `certs: new bundle "x": cert: no PEM certificate found`},
		{"key in cert field", key, key, `certs: new bundle "x": cert: PEM block 1 is not a CERTIFICATE`},
		{"key after cert", append(append([]byte{}, full...), key...), key, `certs: new bundle "x": cert: PEM block 3 is not a CERTIFICATE`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := certs.NewBundle("x", nil, tt.fullchain, certs.NewPrivateKeyPEM(tt.key), "")
			if err == nil || err.Error() != tt.want {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "PRIVATE KEY") {
				t.Fatalf("error mentions the key: %v", err)
			}
		})
	}
}

func TestVerify(t *testing.T) {
	t.Parallel()
	ca := certstest.NewCA(t)
	other := certstest.NewCA(t)
	now := time.Now()
	plain := ca.Bundle(t, "plain", certstest.Leaf{Domains: []string{"www.example.com", "example.com"}})
	wild := ca.Bundle(t, "wild", certstest.Leaf{Domains: []string{"*.example.com", "example.com"}})
	with := func(b *certs.Bundle, domains ...string) *certs.Bundle {
		c := *b
		c.Domains = domains
		return &c
	}
	noChain := *plain
	noChain.ChainPEM = nil
	tests := []struct {
		name  string
		b     *certs.Bundle
		roots *x509.CertPool
		now   time.Time
		want  string // "" for success; otherwise a substring
	}{
		{"ok", plain, ca.Roots, now, ""},
		{"wildcard named", wild, ca.Roots, now, ""},
		{"name under wildcard", with(wild, "api.example.com"), ca.Roots, now, ""},
		{"wildcard not on cert", with(plain, "*.example.com"), ca.Roots, now, `certs: verify "plain": certificate does not name "*.example.com"`},
		{"name not covered", with(plain, "www.example.com", "mail.example.com"), ca.Roots, now, `certs: verify "plain": certificate does not cover "mail.example.com"`},
		{"two levels under wildcard", with(wild, "a.b.example.com"), ca.Roots, now, `certificate does not cover "a.b.example.com"`},
		{"other roots", plain, other.Roots, now, "x509: certificate signed by unknown authority"},
		{"missing intermediates", &noChain, ca.Roots, now, "x509: certificate signed by unknown authority"},
		{"expired", plain, ca.Roots, now.Add(91 * 24 * time.Hour), "x509: certificate has expired or is not yet valid"},
		{"no domains", with(plain), ca.Roots, now, `certs: verify "plain": no domains`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.b.Verify(tt.roots, tt.now)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("Verify: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("Verify = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestSecretRoundTrip(t *testing.T) {
	t.Parallel()
	ca := certstest.NewCA(t)
	b := ca.Bundle(t, "example", certstest.Leaf{Domains: []string{"www.example.com", "example.com"}})
	data, err := b.MarshalSecret()
	if err != nil {
		t.Fatal(err)
	}
	// Field names and order are the stored format (docs/secret-format.md).
	var keys []string
	dec := json.NewDecoder(bytes.NewReader(data))
	_, _ = dec.Token()
	for dec.More() {
		tok, _ := dec.Token()
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		_ = dec.Decode(&skip)
	}
	if got, want := strings.Join(keys, ","), "cert,key,chain,domains,not_before,not_after,serial,issuer,ari_id"; got != want {
		t.Errorf("fields = %s, want %s", got, want)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	if m["not_after"] != b.NotAfter.UTC().Format(time.RFC3339) || !strings.HasSuffix(m["not_after"].(string), "Z") {
		t.Errorf("not_after = %v", m["not_after"])
	}
	if m["key"] != string(b.Key.Bytes()) || m["cert"] != string(b.CertPEM) || m["chain"] != string(ca.InterPEM) {
		t.Errorf("cert, key or chain differ")
	}

	// Unknown extra fields are tolerated.
	m["rotation_note"] = map[string]any{"by": "someone"}
	data2, _ := json.Marshal(m)
	got, err := certs.ParseSecret(data2)
	if err != nil {
		t.Fatalf("ParseSecret: %v", err)
	}
	if got.Serial != b.Serial || got.ARIID != b.ARIID || !got.NotAfter.Equal(b.NotAfter) ||
		strings.Join(got.Domains, ",") != "www.example.com,example.com" || got.KeyType != "ec256" ||
		!bytes.Equal(got.CertPEM, b.CertPEM) || !bytes.Equal(got.ChainPEM, b.ChainPEM) {
		t.Errorf("round trip differs: %v vs %v", got, b)
	}
	if err := got.Verify(ca.Roots, time.Now()); err != nil {
		t.Errorf("Verify after round trip: %v", err)
	}
}

func TestParseSecretLeafOnlyCertWithChainField(t *testing.T) {
	t.Parallel()
	ca := certstest.NewCA(t)
	b := ca.Bundle(t, "x", certstest.Leaf{})
	leafOnly := string(b.CertPEM[:len(b.CertPEM)-len(b.ChainPEM)])
	data, _ := json.Marshal(map[string]any{"cert": leafOnly, "key": string(b.Key.Bytes()), "chain": string(b.ChainPEM)})
	got, err := certs.ParseSecret(data)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.CertPEM, b.CertPEM) || len(got.Domains) != 1 || got.Domains[0] != "www.example.com" {
		t.Errorf("got %v", got)
	}
}

func TestParseSecretErrors(t *testing.T) {
	t.Parallel()
	ca := certstest.NewCA(t)
	b := ca.Bundle(t, "x", certstest.Leaf{})
	_, otherKey := ca.Issue(t, certstest.Leaf{})
	cert, key := string(b.CertPEM), string(b.Key.Bytes())
	obj := func(kv ...any) []byte {
		m := map[string]any{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		data, _ := json.Marshal(m)
		return data
	}
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "certs: parse secret: not valid JSON (syntax error at byte 0)"},
		{"not json", []byte("-----BEGIN " + "PRIVATE KEY-----\nabc"), "certs: parse secret: not valid JSON (syntax error at byte 2)"},
		{"truncated", obj("cert", cert, "key", key)[:100], "certs: parse secret: not valid JSON (syntax error at byte 100)"},
		{"array", []byte(`["a"]`), "certs: parse secret: not a JSON object (got array)"},
		{"string", []byte(`"` + strings.ReplaceAll(key, "\n", `\n`) + `"`), "certs: parse secret: not a JSON object (got string)"},
		{"null", []byte(`null`), "certs: parse secret: not a JSON object"},
		{"missing cert", obj("key", key), `certs: parse secret: field "cert" is missing`},
		{"missing key", obj("cert", cert), `certs: parse secret: field "key" is missing`},
		{"empty key", obj("cert", cert, "key", ""), `certs: parse secret: field "key" is empty`},
		{"cert number", obj("cert", 5, "key", key), `certs: parse secret: field "cert": want a string, got a number`},
		{"key object", obj("cert", cert, "key", map[string]any{"pem": key}), `certs: parse secret: field "key": want a string, got an object`},
		{"key null", obj("cert", cert, "key", nil), `certs: parse secret: field "key": want a string, got null`},
		{"domains string", obj("cert", cert, "key", key, "domains", "a.example.com"), `certs: parse secret: field "domains": want an array of strings, got a string`},
		{"domains numbers", obj("cert", cert, "key", key, "domains", []int{1}), `certs: parse secret: field "domains": want an array of strings, got an array`},
		{"domains null", obj("cert", cert, "key", key, "domains", nil), `certs: parse secret: field "domains": want an array of strings, got null`},
		{"not_after bool", obj("cert", cert, "key", key, "not_after", true), `certs: parse secret: field "not_after": want a string, got a boolean`},
		{"not_after bad", obj("cert", cert, "key", key, "not_after", "tomorrow"), `certs: parse secret: field "not_after": not an RFC 3339 time`},
		{"serial number", obj("cert", cert, "key", key, "serial", 12), `certs: parse secret: field "serial": want a string, got a number`},
		{"key mismatch", obj("cert", cert, "key", string(otherKey)), `certs: parse secret: key: does not match the certificate's public key`},
		{"cert and key swapped", obj("cert", key, "key", cert), `certs: parse secret: cert: PEM block 1 is not a CERTIFICATE`},
		{"cert garbage", obj("cert", "hello", "key", key), `certs: parse secret: cert: no PEM certificate found`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := certs.ParseSecret(tt.data)
			if err == nil || err.Error() != tt.want {
				t.Fatalf("err = %v\nwant  %s", err, tt.want)
			}
			if strings.Contains(err.Error(), "PRIVATE KEY") {
				t.Fatalf("error mentions the key: %v", err)
			}
		})
	}
}

func TestMarshalSecretSizeLimit(t *testing.T) {
	t.Parallel()
	ca := certstest.NewCA(t)
	b := ca.Bundle(t, "x", certstest.Leaf{})
	withDomainLen := func(n int) *certs.Bundle {
		c := *b
		c.Domains = []string{strings.Repeat("a", n)}
		return &c
	}
	base, err := withDomainLen(1).MarshalSecret()
	if err != nil {
		t.Fatal(err)
	}
	n := 1 + certs.MaxSecretSize - len(base)
	at, err := withDomainLen(n).MarshalSecret()
	if err != nil || len(at) != certs.MaxSecretSize {
		t.Fatalf("at the limit: %d bytes, err %v", len(at), err)
	}
	_, err = withDomainLen(n + 1).MarshalSecret()
	want := `certs: marshal secret "x": secret is 65537 bytes, over the Secrets Manager limit of 65536 bytes`
	if err == nil || err.Error() != want {
		t.Fatalf("over the limit: err = %v, want %q", err, want)
	}
	var se *certs.SizeError
	if !errors.As(err, &se) || se.Size != 65537 || se.Limit != 65536 {
		t.Fatalf("not a *SizeError: %#v", se)
	}
}

func TestRedaction(t *testing.T) {
	t.Parallel()
	ca := certstest.NewCA(t)
	b := ca.Bundle(t, "example", certstest.Leaf{})
	type holder struct {
		Bundle  certs.Bundle
		Ptr     *certs.Bundle
		Key     certs.PrivateKeyPEM
		private certs.Bundle
		pkey    certs.PrivateKeyPEM
	}
	h := holder{Bundle: *b, Ptr: b, Key: b.Key, private: *b, pkey: b.Key}
	var outs []string
	for _, v := range []any{b, *b, b.Key, &b.Key, h, &h} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d"} {
			outs = append(outs, fmt.Sprintf(verb, v))
		}
		data, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("json.Marshal(%T): %v", v, err)
		}
		outs = append(outs, string(data))
	}
	text, _ := b.Key.MarshalText()
	outs = append(outs, string(text), b.Key.String(), b.String())

	core, logs := observer.New(zapcore.DebugLevel)
	log := zap.New(core)
	log.Debug("bundle", zap.Any("bundle", b), zap.Any("value", *b), zap.Any("key", b.Key),
		zap.Any("holder", h), zap.Stringer("s", b.Key), zap.Reflect("r", h))
	for _, e := range logs.All() {
		data, _ := json.Marshal(e.ContextMap())
		outs = append(outs, string(data), fmt.Sprint(e.ContextMap()))
	}
	// A real encoder too, since the observer keeps the fields' values.
	var buf bytes.Buffer
	jl := zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewDevelopmentEncoderConfig()), zapcore.AddSync(&buf), zapcore.DebugLevel))
	jl.Debug("bundle", zap.Any("bundle", b), zap.Any("key", b.Key), zap.Any("holder", h), zap.Reflect("r", h))
	outs = append(outs, buf.String())

	keyBody := strings.Split(string(b.Key.Bytes()), "\n")[1] // a line of base64 key material
	for _, o := range outs {
		if strings.Contains(o, "PRIVATE KEY") || strings.Contains(o, keyBody) {
			t.Errorf("output leaks the key: %s", o)
		}
	}
	if !strings.Contains(outs[0], "[REDACTED]") {
		t.Errorf("%%v of a bundle = %s, want it to say [REDACTED]", outs[0])
	}
}

func TestHashDomains(t *testing.T) {
	t.Parallel()
	a := certs.HashDomains([]string{"www.example.com", "example.com"})
	for _, d := range [][]string{
		{"example.com", "www.example.com"},
		{"Example.COM.", "www.example.com", "example.com"},
	} {
		if got := certs.HashDomains(d); got != a {
			t.Errorf("HashDomains(%q) = %s, want %s", d, got, a)
		}
	}
	if certs.HashDomains([]string{"example.com"}) == a || len(a) != 64 {
		t.Errorf("hash of a different set collides or has the wrong length: %s", a)
	}
}

func TestARICertID(t *testing.T) {
	t.Parallel()
	// RFC 9773, section 4.1, the worked example.
	aki := []byte{0x69, 0x88, 0x5B, 0x6B, 0x87, 0x46, 0x40, 0x41, 0xE1, 0xB3, 0x7B, 0x84, 0x7B, 0xA0, 0xAE, 0x2C, 0xDE, 0x01, 0xC8, 0xD4}
	c := &x509.Certificate{AuthorityKeyId: aki, SerialNumber: big.NewInt(0x87654321)}
	got, err := certs.ARICertID(c)
	if err != nil || got != "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE" {
		t.Fatalf("ARICertID = %q, %v", got, err)
	}
	for _, s := range []int64{1, 0x7f, 0x80, 0xff00, 0x1234567} {
		c := &x509.Certificate{AuthorityKeyId: aki, SerialNumber: big.NewInt(s)}
		got, _ := certs.ARICertID(c)
		want, _ := certificate.MakeARICertID(c)
		if got != want {
			t.Errorf("serial %x: %s, lego says %s", s, got, want)
		}
	}
	if _, err := certs.ARICertID(&x509.Certificate{SerialNumber: big.NewInt(1)}); err == nil {
		t.Error("no AKI: want an error")
	}
}

func TestKeyTypeOf(t *testing.T) {
	t.Parallel()
	for _, kt := range []string{"ec256", "ec384", "rsa2048"} {
		if got := certs.KeyTypeOf(certstest.NewKey(t, kt).Public()); got != kt {
			t.Errorf("KeyTypeOf(%s) = %s", kt, got)
		}
	}
	if got := certs.KeyTypeOf("nope"); got != "unknown" {
		t.Errorf("KeyTypeOf(string) = %s", got)
	}
}

// TestHugeValueCutInErrors: a stored secret hand-edited to hold a 300 KB domain yields
// errors that quote at most a few hundred bytes of it.
func TestHugeValueCutInErrors(t *testing.T) {
	t.Parallel()
	ca := certstest.NewCA(t)
	b := ca.Bundle(t, "plain", certstest.Leaf{Domains: []string{"www.example.com"}})
	huge := strings.Repeat("a", 300<<10) + ".example.com"
	for _, domains := range [][]string{{huge}, {"*." + huge}} {
		c := *b
		c.Domains = domains
		err := c.Verify(ca.Roots, time.Now())
		if err == nil || len(err.Error()) > 1000 || !strings.Contains(err.Error(), "... (") {
			t.Errorf("Verify with a 300 KB domain: %d bytes of error: %.300v", len(fmt.Sprint(err)), err)
		}
	}
}

// TestParseSecretHugeValues: ParseSecret's errors never echo a stored value, however big.
func TestParseSecretHugeValues(t *testing.T) {
	t.Parallel()
	v := strings.Repeat("x", 300<<10)
	for _, doc := range []string{
		`{"cert":"` + v + `","key":"` + v + `"}`,
		`{"cert":"a","key":"b","not_after":"` + v + `"}`,
		`{"cert":"a","key":"b","domains":"` + v + `"}`,
		`{"cert":` + v + `}`,
		`"` + v + `"`,
	} {
		_, err := certs.ParseSecret([]byte(doc))
		if err == nil || len(err.Error()) > 300 {
			t.Errorf("ParseSecret(%.40s...) = %d bytes of error: %.300v", doc, len(fmt.Sprint(err)), err)
		}
	}
}

func TestPrivateKeyPEMEqual(t *testing.T) {
	t.Parallel()
	a, b, c := certs.NewPrivateKeyPEM([]byte("one")), certs.NewPrivateKeyPEM([]byte("one")), certs.NewPrivateKeyPEM([]byte("two"))
	var zero certs.PrivateKeyPEM
	for _, tc := range []struct {
		x, y certs.PrivateKeyPEM
		want bool
	}{{a, b, true}, {a, c, false}, {a, zero, false}, {zero, zero, true}, {zero, certs.NewPrivateKeyPEM(nil), true}} {
		if got := tc.x.Equal(tc.y); got != tc.want {
			t.Errorf("%d-byte key Equal %d-byte key = %v, want %v", tc.x.Len(), tc.y.Len(), got, tc.want)
		}
	}
}
