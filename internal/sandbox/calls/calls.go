// Package calls counts the API calls that the sandbox's stand-in services answer and
// holds the faults that tests inject into them ("fail the next N calls of operation X").
//
// One Registry is shared by every service of a sandbox, so a test or benchmark can
// assert how many calls of each operation a pass made. It is safe for concurrent use.
package calls

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"time"
)

// Fault is an error a service answers instead of doing the call. Code is the service's
// error code (for example "Throttling" or "InternalServiceError"); Status is the HTTP
// status, and when it is zero each service answers the status the real service uses for
// that code (see StatusFor). Every service honours every field the same way.
type Fault struct {
	Code    string `json:"code"`
	Message string `json:"message,omitempty"`
	Status  int    `json:"status,omitempty"`
	// RetryAfter, when set, is sent verbatim as the Retry-After header: seconds ("120")
	// or an HTTP date, the two forms RFC 9110 allows.
	RetryAfter string `json:"retry_after,omitempty"`
	// Hang holds the request this long (or until the client gives up) before answering:
	// with the fault when Code is set, else by passing the request on untouched. A
	// negative Hang (HangForever) holds it until the client gives up. A client that gives
	// up first gets nothing written back.
	Hang time.Duration `json:"hang,omitempty"`
	// Gate, when set (from Go only), holds the request like Hang until the channel is
	// closed (or the client gives up): a test lets the call through at the moment it
	// chooses, for instance after another runner has done its work.
	Gate <-chan struct{} `json:"-"`
	// pass marks a queued entry that lets one call through (FailAfter).
	pass bool
}

// HangForever as a Fault's Hang holds the request until the client's context ends (its
// deadline, a cancel, or a closed connection), as an unresponsive endpoint would.
const HangForever time.Duration = -1

// maxHeldBody bounds the request body Hold reads ahead; every stand-in's own limit is
// smaller.
const maxHeldBody = 1 << 20

// Hold waits out f's Hang on request r. It returns true when the service should go on
// (no hang, or the hang is over) and false when r's context ended first: the client has
// given up (deadline, cancel, closed connection) and the service must write nothing.
func (f Fault) Hold(r *http.Request) bool {
	if f.Hang == 0 && f.Gate == nil {
		return true
	}
	// The HTTP server notices a client hanging up only once the request body has been
	// read to its end: read it now, bounded, and hand it back to the service unread.
	if r.Body != nil && r.Body != http.NoBody {
		head, _ := io.ReadAll(io.LimitReader(r.Body, maxHeldBody))
		r.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(head), r.Body), r.Body}
	}
	ctx := r.Context()
	var over <-chan time.Time
	if f.Hang > 0 {
		t := time.NewTimer(f.Hang)
		defer t.Stop()
		over = t.C
	}
	select {
	case <-ctx.Done():
		return false
	case <-over:
		return true
	case <-f.Gate:
		return true
	}
}

// StatusFor returns the HTTP status to answer f with: its own Status, else the status
// the service answers its Code with (statuses, per service), else 400, the status of
// AWS's client errors.
func (f Fault) StatusFor(statuses map[string]int) int {
	if f.Status != 0 {
		return f.Status
	}
	if s, ok := statuses[f.Code]; ok {
		return s
	}
	return http.StatusBadRequest
}

// SetRetryAfter sets the Retry-After header of the answer when f carries one.
func (f Fault) SetRetryAfter(h http.Header) {
	if f.RetryAfter != "" {
		h.Set("Retry-After", f.RetryAfter)
	}
}

// Text returns f's message, or one saying the fault was injected.
func (f Fault) Text() string {
	if f.Message != "" {
		return f.Message
	}
	return "injected fault: " + f.Code
}

// Registry counts calls per (service, operation) and hands out injected faults.
type Registry struct {
	mu     sync.Mutex
	counts map[string]int
	faults map[string][]Fault // pending faults per key, consumed first to last
}

// New returns an empty Registry.
func New() *Registry {
	return &Registry{counts: map[string]int{}, faults: map[string][]Fault{}}
}

func key(service, op string) string { return service + "." + op }

// Record counts one call of op on service and returns the fault to answer with, if one
// was injected for it. Services call it once per request, before doing any work, so a
// faulted call changes no state.
func (r *Registry) Record(service, op string) (Fault, bool) {
	k := key(service, op)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.counts[k]++
	if q := r.faults[k]; len(q) > 0 {
		f := q[0]
		if len(q) == 1 {
			delete(r.faults, k)
		} else {
			r.faults[k] = q[1:]
		}
		if f.pass {
			return Fault{}, false
		}
		return f, true
	}
	return Fault{}, false
}

// DropFaults drops every fault still queued, keeping the counters.
func (r *Registry) DropFaults() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.faults = map[string][]Fault{}
}

// FailAfter lets the next skip calls of op on service through, then makes the n calls
// after them answer with f: for a fault meant for a later call of an operation the
// code makes several times (a certificate's store after the tag write that journals
// its DNS-01 records).
func (r *Registry) FailAfter(service, op string, skip, n int, f Fault) {
	r.FailNext(service, op, skip, Fault{pass: true})
	r.FailNext(service, op, n, f)
}

// FailNext makes the next n calls of op on service answer with f.
func (r *Registry) FailNext(service, op string, n int, f Fault) {
	k := key(service, op)
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := 0; i < n; i++ {
		r.faults[k] = append(r.faults[k], f)
	}
}

// Count returns how many calls of op on service were answered (faulted ones included).
func (r *Registry) Count(service, op string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.counts[key(service, op)]
}

// Counts returns a copy of every counter, keyed "service.Operation".
func (r *Registry) Counts() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]int, len(r.counts))
	for k, v := range r.counts {
		out[k] = v
	}
	return out
}

// ServiceTotal returns the number of calls made to one service.
func (r *Registry) ServiceTotal(service string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for k, v := range r.counts {
		if len(k) > len(service) && k[:len(service)+1] == service+"." {
			n += v
		}
	}
	return n
}

// Reset zeroes every counter and drops pending faults.
func (r *Registry) Reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.counts = map[string]int{}
	r.faults = map[string][]Fault{}
}

// Keys returns the counter keys in sorted order, for stable printing.
func (r *Registry) Keys() []string {
	c := r.Counts()
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Handler serves the registry over HTTP, for programs outside the process:
//
//	GET    /_sandbox/calls   the counters as a JSON object {"route53.GetChange": 3, ...}
//	DELETE /_sandbox/calls   reset counters and faults
//	POST   /_sandbox/faults  {"service":"route53","operation":"GetChange","count":2,
//	                          "code":"Throttling","message":"Rate exceeded","status":400}
//	                         {"service":"secretsmanager","operation":"GetSecretValue","hang":-1}
//
// A fault's "hang" is in nanoseconds (-1: until the client gives up); a fault with no
// "status" gets the one the service uses for its code.
func (r *Registry) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /_sandbox/calls", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(r.Counts())
	})
	mux.HandleFunc("DELETE /_sandbox/calls", func(w http.ResponseWriter, _ *http.Request) {
		r.Reset()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /_sandbox/faults", func(w http.ResponseWriter, req *http.Request) {
		var in struct {
			Service   string `json:"service"`
			Operation string `json:"operation"`
			Count     int    `json:"count"`
			Fault
		}
		dec := json.NewDecoder(http.MaxBytesReader(w, req.Body, 1<<16))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&in); err != nil {
			http.Error(w, "faults: bad request body: "+err.Error(), http.StatusBadRequest)
			return
		}
		if in.Service == "" || in.Operation == "" || (in.Code == "" && in.Hang == 0) {
			http.Error(w, "faults: service, operation and code (or hang) are required", http.StatusBadRequest)
			return
		}
		if in.Count <= 0 {
			in.Count = 1
		}
		if in.Code != "" && in.Status != 0 && (in.Status < 400 || in.Status > 599) {
			http.Error(w, "faults: status must be 400-599, got "+strconv.Itoa(in.Status), http.StatusBadRequest)
			return
		}
		r.FailNext(in.Service, in.Operation, in.Count, in.Fault)
		w.WriteHeader(http.StatusNoContent)
	})
	return mux
}

// String is for debugging output.
func (r *Registry) String() string {
	c := r.Counts()
	s := ""
	for _, k := range r.Keys() {
		s += fmt.Sprintf("%s=%d ", k, c[k])
	}
	return s
}
