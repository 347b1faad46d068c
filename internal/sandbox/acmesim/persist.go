package acmesim

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
)

// DefaultPersistIssuer is the issuer domain name Pebble names in its dns-persist-01
// challenges (and in its directory's meta.caaIdentities) unless
// Options.PersistIssuer sets another.
const DefaultPersistIssuer = "pebble.letsencrypt.org"

// maxAuthzBody bounds an authorization document that withoutPersist rewrites.
const maxAuthzBody = 1 << 20

// persistIssuer is the issuer domain name of opts.
func persistIssuer(opts Options) string {
	if opts.PersistIssuer != "" {
		return opts.PersistIssuer
	}
	return DefaultPersistIssuer
}

// withoutPersist removes the dns-persist-01 challenges from every authorization Pebble
// answers, as a CA that does not offer the method (Let's Encrypt production while it
// is held) answers. Pebble itself always offers it; only the documents change, so a
// client that answered the challenge anyway would still be validated.
func withoutPersist(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/authZ/") {
			next.ServeHTTP(w, r)
			return
		}
		rec := &bufferedResponse{header: make(http.Header)}
		next.ServeHTTP(rec, r)
		if rec.status == 0 || rec.status == http.StatusOK {
			rec.body = *bytes.NewBuffer(stripPersist(rec.body.Bytes()))
		}
		rec.flush(w)
	})
}

// stripPersist drops the dns-persist-01 entries of an authorization's challenges; a
// body it cannot read is returned as it is.
func stripPersist(body []byte) []byte {
	if len(body) > maxAuthzBody {
		return body
	}
	var authz map[string]json.RawMessage
	if json.Unmarshal(body, &authz) != nil {
		return body
	}
	var chals []map[string]json.RawMessage
	if json.Unmarshal(authz["challenges"], &chals) != nil {
		return body
	}
	kept := chals[:0]
	for _, c := range chals {
		var typ string
		_ = json.Unmarshal(c["type"], &typ)
		if typ != "dns-persist-01" {
			kept = append(kept, c)
		}
	}
	b, err := json.Marshal(kept)
	if err != nil {
		return body
	}
	authz["challenges"] = b
	out, err := json.Marshal(authz)
	if err != nil {
		return body
	}
	return out
}

// ValidIssuerName reports whether s is a lowercase domain name of letters, digits,
// hyphens and dots, as an issuer domain name must be (RFC 8659 §4.2).
func ValidIssuerName(s string) bool {
	if len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range label {
			if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
				return false
			}
		}
	}
	return true
}
