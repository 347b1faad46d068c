package acmesim

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"

	pebbleacme "github.com/letsencrypt/pebble/v2/acme"
	pebblecore "github.com/letsencrypt/pebble/v2/core"
	pebbledb "github.com/letsencrypt/pebble/v2/db"
)

// Pebble's paths of authorizations and challenges (unexported in its wfe package).
const (
	authzPath     = "/authZ/"
	challengePath = "/chalZ/"
)

// maxJWSBody bounds the request body lockOrder reads to tell an update from a
// POST-as-GET; Pebble itself reads the same body again.
const maxJWSBody = 1 << 20

// lockOrder keeps Pebble v2.10.3 out of the deadlocks its locking allows, for every user
// of acmesim. Pebble's store (db.MemoryStore) has one RWMutex; its orders,
// authorizations and challenges each have their own; Go's RWMutex makes a new reader
// wait behind a waiting writer. Pebble takes them in both orders:
//
//   - the authorization handler (wfe.Authz) holds the authorization's write lock while
//     it looks up the requesting account (getAcctByKey: the store's read lock), and
//     while it reads the order (the order's read lock);
//   - the store's GetOrderByID and GetOrdersByAccountID hold the store's read lock while
//     Order.GetStatus holds the order's read lock and takes each authorization's,
//     and FindValidAuthorization (every new order) holds it while it takes every
//     authorization's read lock.
//
// So an authorization request, an order read or new order, and any writer of the store
// (a new account, order, authorization or challenge, or the certificate a finalization
// adds from its own goroutine) queued between them, wait on each other for good, and
// the whole CA stops answering. The same holds with an order's write lock (taken by
// GetOrderByID itself) in place of the store's. lockOrder therefore serves
// authorization requests alone: they take mu exclusively, every other ACME request
// shares it. Order reads, new orders and the rest still run in parallel with each other,
// and Pebble's own goroutines (validation, issuance) never call the readers above, so
// no cycle is left through those locks.
//
// Pebble has a second hang: when it shows an authorization that is no longer pending
// (prepAuthorizationForDisplay), it never releases the read lock of each challenge
// that is neither valid nor failed. A later write lock on such a challenge waits for
// ever, and with it everything above: the challenge handler's (updateChallenge, a
// client accepting a pending challenge of a valid, invalid or deactivated
// authorization) and the validation authority's (a challenge still being validated
// when its authorization was deactivated, or when another challenge of it finished
// first; the validator then holds the authorization's write lock). lockOrder answers
// those requests itself, before Pebble sees them: accepting a challenge whose
// authorization is not pending, or while another of its challenges is being validated,
// and deactivating an authorization while one of its challenges is being validated, get
// a malformed problem. Challenge requests are served alone too, so that check and
// Pebble's handling see the same authorization.
//
// One path remains and is not reachable by the sandbox's clients in practice: a failed
// validation of an order that replaces another (va.setOrderError holds the order's
// write lock while it looks up the replaced order in the store), met by a read of the
// same order and a store writer at that moment.
type lockOrder struct {
	db   *pebbledb.MemoryStore
	next http.Handler
	mu   sync.RWMutex
}

func withLockOrder(db *pebbledb.MemoryStore, next http.Handler) http.Handler {
	return &lockOrder{db: db, next: next}
}

func (l *lockOrder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	authz := strings.HasPrefix(r.URL.Path, authzPath)
	chal := strings.HasPrefix(r.URL.Path, challengePath)
	if !authz && !chal {
		l.mu.RLock()
		defer l.mu.RUnlock()
		l.next.ServeHTTP(w, r)
		return
	}
	update, ok := isUpdate(r)
	if !ok {
		http.Error(w, "read request", http.StatusBadRequest)
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if update {
		var detail string
		if chal {
			detail = l.refuseChallenge(strings.TrimPrefix(r.URL.Path, challengePath))
		} else {
			detail = l.refuseDeactivation(strings.TrimPrefix(r.URL.Path, authzPath))
		}
		if detail != "" {
			writeMalformed(w, detail)
			return
		}
	}
	l.next.ServeHTTP(w, r)
}

// isUpdate reads the JWS body and reports whether its payload is not empty (a POST,
// not a POST-as-GET), putting the body back for Pebble. A body that is not a JWS is
// Pebble's to refuse: it is no update here.
func isUpdate(r *http.Request) (update, ok bool) {
	if r.Method != http.MethodPost || r.Body == nil {
		return false, true
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxJWSBody))
	if err != nil {
		return false, false
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	var jws struct{ Payload string }
	if json.Unmarshal(body, &jws) != nil {
		return false, true
	}
	return jws.Payload != "", true
}

// refuseChallenge says why accepting challenge id would leave a challenge lock that
// Pebble never gets, or "" when Pebble may handle it.
func (l *lockOrder) refuseChallenge(id string) string {
	c := l.db.GetChallengeByID(id)
	if c == nil {
		return "" // Pebble answers 404
	}
	c.RLock()
	authz := c.Authz
	c.RUnlock()
	if authz == nil {
		return ""
	}
	status, busy := authzState(authz, c)
	switch {
	case status != pebbleacme.StatusPending:
		return "Cannot update challenge: its authorization is " + status + ", not " + pebbleacme.StatusPending
	case busy:
		return "Cannot update challenge: another challenge of its authorization is being validated"
	}
	return ""
}

// refuseDeactivation says why deactivating authorization id now would leave a
// challenge lock that Pebble never gets, or "" when Pebble may handle it.
func (l *lockOrder) refuseDeactivation(id string) string {
	authz := l.db.GetAuthorizationByID(id)
	if authz == nil {
		return "" // Pebble answers 404
	}
	if _, busy := authzState(authz, nil); busy {
		return "Cannot deactivate authorization: one of its challenges is being validated; try again"
	}
	return ""
}

// authzState returns the authorization's status and whether a challenge of it other
// than except is being validated. It takes the authorization's lock, then its
// challenges', as Pebble's validation authority does.
func authzState(authz *pebblecore.Authorization, except *pebblecore.Challenge) (status string, busy bool) {
	authz.RLock()
	defer authz.RUnlock()
	for _, c := range authz.Challenges {
		if c == except {
			continue
		}
		c.RLock()
		busy = busy || c.Status == pebbleacme.StatusProcessing
		c.RUnlock()
	}
	return authz.Status, busy
}

func writeMalformed(w http.ResponseWriter, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(http.StatusBadRequest)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"type":   "urn:ietf:params:acme:error:malformed",
		"detail": detail,
		"status": http.StatusBadRequest,
	})
}
