// Package wire holds what the sandbox's AWS stand-ins share on the wire: request IDs and
// the JSON 1.1 response and error shapes (Secrets Manager, ECS). Each stand-in keeps its
// own operations and error codes.
package wire

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/certferry/certferry/internal/sandbox/calls"
)

// RequestID returns a random UUID (version 4), the form of AWS's x-amzn-RequestId.
func RequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// WriteJSON11 writes an AWS JSON 1.1 response: body with its status, content type,
// length and a request ID.
func WriteJSON11(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("x-amzn-RequestId", RequestID())
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// WriteJSON11Error writes an AWS JSON 1.1 error: {"__type": code, <messageKey>: msg}.
// Services differ in the message member's case ("message" for ECS, "Message" for Secrets
// Manager); the SDKs accept either.
func WriteJSON11Error(w http.ResponseWriter, status int, code, messageKey, msg string) {
	body, _ := json.Marshal(map[string]string{"__type": code, messageKey: msg})
	WriteJSON11(w, status, body)
}

// HoldJSON11Fault applies an injected fault to a JSON 1.1 request. It holds the request
// for the fault's hang, then answers the fault in the JSON 1.1 error shape with the
// status the service uses for its code (statuses; 400 otherwise) and returns true, or
// returns false when the fault has no code and the service should do the call. A client
// that gives up during the hang gets nothing, and HoldJSON11Fault returns true.
func HoldJSON11Fault(w http.ResponseWriter, r *http.Request, f calls.Fault, statuses map[string]int, messageKey string) bool {
	if !f.Hold(r) {
		return true
	}
	if f.Code == "" {
		return false
	}
	f.SetRetryAfter(w.Header())
	WriteJSON11Error(w, f.StatusFor(statuses), f.Code, messageKey, f.Text())
	return true
}
