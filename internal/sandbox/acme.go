package sandbox

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/certferry/certferry/internal/sandbox/calls"
	"github.com/certferry/certferry/internal/sandbox/limitsim"
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
// With limits set (a Limiter), a new order over one of them is answered rateLimited
// (429) with a Retry-After of when the window frees and Let's Encrypt's problem text,
// and counted as acme.RateLimited; an order Pebble accepts is counted against them.
// New orders then reach Pebble one at a time, so that the check and the count see no
// other order in between. (Pebble's own lock-order deadlocks are acmesim's to avoid, for
// every user of it: see its lockOrder.)
func countACME(reg *calls.Registry, limits *limitsim.Limiter) func(http.Handler) http.Handler {
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
				if op == "NewOrder" && limits != nil {
					newOrder.Lock()
					defer newOrder.Unlock()
					limitNewOrder(reg, limits, next, w, r)
					return
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

// maxOrderBody bounds the new-order request the limits read.
const maxOrderBody = 1 << 20

// limitNewOrder answers a new order over a limit as the CA does, or passes it to Pebble
// and counts it when Pebble accepts it (201). The caller serialises new orders, so the
// check and the count see no other order in between.
func limitNewOrder(reg *calls.Registry, limits *limitsim.Limiter, next http.Handler, w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxOrderBody))
	if err != nil {
		http.Error(w, "read request", http.StatusBadRequest)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	o, ok := parseNewOrder(body)
	if !ok {
		next.ServeHTTP(w, r) // Pebble answers the malformed request
		return
	}
	if refusal := limits.Check(o); refusal != nil {
		reg.Record("acme", "RateLimited")
		secs := int64(math.Ceil(refusal.RetryAfter.Seconds()))
		w.Header().Set("Retry-After", strconv.FormatInt(max(secs, 1), 10))
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusTooManyRequests)
		_ = json.NewEncoder(w).Encode(map[string]any{
			"type":   "urn:ietf:params:acme:error:rateLimited",
			"detail": refusal.Detail,
			"status": http.StatusTooManyRequests,
		})
		return
	}
	rec := &statusWriter{ResponseWriter: w}
	next.ServeHTTP(rec, r)
	if rec.status == http.StatusCreated {
		limits.Count(o)
	}
}

// parseNewOrder reads the account (the JWS kid) and the order's names and replaces from
// a new-order request; the signature is Pebble's to check.
func parseNewOrder(body []byte) (limitsim.Order, bool) {
	var jws struct{ Protected, Payload string }
	if json.Unmarshal(body, &jws) != nil {
		return limitsim.Order{}, false
	}
	prot, err1 := base64.RawURLEncoding.DecodeString(jws.Protected)
	payload, err2 := base64.RawURLEncoding.DecodeString(jws.Payload)
	if err1 != nil || err2 != nil {
		return limitsim.Order{}, false
	}
	var h struct{ Kid string }
	var p struct {
		Identifiers []struct{ Value string }
		Replaces    string
	}
	if json.Unmarshal(prot, &h) != nil || json.Unmarshal(payload, &p) != nil || len(p.Identifiers) == 0 {
		return limitsim.Order{}, false
	}
	o := limitsim.Order{Account: h.Kid, Replaces: p.Replaces != ""}
	for _, id := range p.Identifiers {
		o.Names = append(o.Names, id.Value)
	}
	return o, true
}

// statusWriter remembers the status Pebble answered.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}
