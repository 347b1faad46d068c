package sandbox

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"

	"github.com/certferry/certferry/internal/sandbox/calls"
)

// acmeOps names Pebble's endpoints by the ACME resource they serve (RFC 8555, RFC 9773),
// longest path first where one is a prefix of another.
var acmeOps = []struct{ prefix, op string }{
	{"/dir", "Directory"},
	{"/nonce-plz", "NewNonce"},
	{"/sign-me-up", "NewAccount"},
	{"/my-account/", "Account"},
	{"/order-plz", "NewOrder"},
	{"/my-order/", "Order"},
	{"/finalize-order/", "Finalize"},
	{"/authZ/", "Authorization"},
	{"/chalZ/", "Challenge"},
	{"/certZ/", "Certificate"},
	{"/revoke-cert", "RevokeCert"},
	{"/rollover-account-key", "KeyChange"},
	{"/list-orderz/", "Orders"},
	{"/draft-ietf-acme-ari-03/renewalInfo/", "RenewalInfo"},
}

// acmeStatuses are the HTTP statuses ACME servers (Boulder, Pebble) answer problem
// types with, where it is not 400.
var acmeStatuses = map[string]int{
	"rateLimited":     http.StatusTooManyRequests,
	"serverInternal":  http.StatusInternalServerError,
	"unauthorized":    http.StatusForbidden,
	"caa":             http.StatusForbidden,
	"orderNotReady":   http.StatusForbidden,
	"alreadyReplaced": http.StatusConflict,
}

// countACME counts every ACME request in reg as service "acme" and answers injected
// faults as ACME problem documents: the fault's Code becomes
// "urn:ietf:params:acme:error:<Code>" (for example "rateLimited" or "serverInternal"),
// its Status the HTTP status (default: the status a CA uses for that problem, 400 for
// unknown ones). A rateLimited fault carries "Retry-After: 1".
// A fault's RetryAfter is sent as given (seconds or an HTTP date). A fault with Hang
// holds the request first, then answers the fault, or passes the request to Pebble when
// the fault has no Code; a client that gives up first gets nothing. A faulted request
// never reaches Pebble.
//
// New orders reach Pebble one at a time: Pebble v2.10.3's in-memory store takes its own
// lock and the authorizations' locks in opposite orders, and many concurrent new orders
// (32 at once, a few hundred authorizations) once deadlocked it. A real CA needs no such
// care; serialising one cheap endpoint costs the sandbox nothing.
func countACME(reg *calls.Registry) func(http.Handler) http.Handler {
	var newOrder sync.Mutex
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			op := "Other"
			for _, o := range acmeOps {
				if strings.HasPrefix(r.URL.Path, o.prefix) {
					op = o.op
					break
				}
			}
			f, faulted := reg.Record("acme", op)
			if faulted && !f.Hold(r) {
				return
			}
			if !faulted || f.Code == "" {
				if op == "NewOrder" {
					newOrder.Lock()
					defer newOrder.Unlock()
				}
				next.ServeHTTP(w, r)
				return
			}
			status := f.StatusFor(acmeStatuses)
			switch {
			case f.RetryAfter != "":
				w.Header().Set("Retry-After", f.RetryAfter)
			case f.Code == "rateLimited":
				w.Header().Set("Retry-After", "1")
			}
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(status)
			_ = json.NewEncoder(w).Encode(map[string]any{
				"type":   "urn:ietf:params:acme:error:" + f.Code,
				"detail": f.Message,
				"status": status,
			})
		})
	}
}
