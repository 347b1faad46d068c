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

	"github.com/certferry/certferry/sandbox/calls"
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

// WriteJSON11Fault answers an injected fault in the JSON 1.1 error shape. A fault with no
// status gets 400, or 500 when its code is the service's server error (serverCode); one
// with no message says it was injected.
func WriteJSON11Fault(w http.ResponseWriter, f calls.Fault, serverCode, messageKey string) {
	status := f.Status
	if status == 0 {
		status = http.StatusBadRequest
		if f.Code == serverCode {
			status = http.StatusInternalServerError
		}
	}
	msg := f.Message
	if msg == "" {
		msg = "injected fault: " + f.Code
	}
	WriteJSON11Error(w, status, f.Code, messageKey, msg)
}
