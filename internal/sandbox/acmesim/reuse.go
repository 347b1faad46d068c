package acmesim

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"path"
	"time"

	pebbledb "github.com/letsencrypt/pebble/v2/db"
)

// withoutAuthzReuse makes "Pebble reuses no valid authorization" hold. Pebble v2.10.3
// reuses one when rand.Intn(100) > percent is false, so at 0 % it still reuses about
// one order in a hundred: a renewal then publishes no DNS-01 record, and every test
// that counts Route 53 changes fails about once a hundred renewals. Before each new
// order, the authorizations of the account's orders that already have their
// certificate are expired, so there is nothing left to reuse. Orders still in flight
// keep theirs (another order of the account may be about to finalize with them).
func withoutAuthzReuse(db *pebbledb.MemoryStore, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != newOrderPath {
			next.ServeHTTP(w, r)
			return
		}
		head, err := io.ReadAll(io.LimitReader(r.Body, maxOrderBody+1))
		r.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(head), r.Body), r.Body}
		if err == nil && len(head) <= maxOrderBody {
			if id := orderAccountID(head); id != "" {
				expireIssuedAuthorizations(db, id)
			}
		}
		next.ServeHTTP(w, r)
	})
}

// orderAccountID is the account ID a newOrder request (a flattened JWS) names in its
// protected header's kid, or "" when it names none that can be read.
func orderAccountID(body []byte) string {
	var jws struct {
		Protected string `json:"protected"`
	}
	if json.Unmarshal(body, &jws) != nil {
		return ""
	}
	raw, err := base64.RawURLEncoding.DecodeString(jws.Protected)
	if err != nil {
		return ""
	}
	var hdr struct {
		KID string `json:"kid"`
	}
	if json.Unmarshal(raw, &hdr) != nil || hdr.KID == "" {
		return ""
	}
	return path.Base(hdr.KID)
}

// expireIssuedAuthorizations sets the expiry of every authorization of the account's
// issued orders to the past.
func expireIssuedAuthorizations(db *pebbledb.MemoryStore, accountID string) {
	past := time.Now().Add(-time.Second)
	for _, o := range db.GetOrdersByAccountID(accountID) {
		o.RLock()
		issued := o.CertificateObject != nil
		authzs := o.AuthorizationObjects
		o.RUnlock()
		if !issued {
			continue
		}
		for _, a := range authzs {
			a.Lock()
			if a.ExpiresDate.After(past) {
				a.ExpiresDate = past
			}
			a.Unlock()
		}
	}
}
