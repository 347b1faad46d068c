package r53sim

import (
	"encoding/xml"
	"fmt"
	"net/http"
	"strings"
)

// apiError is an error answered to the client. Route 53 uses two shapes:
//
//   - the generic <ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/></ErrorResponse>,
//     used for every code, including InvalidChangeBatch when the batch conflicts with the
//     zone's current state ("Tried to create ... but it already exists");
//   - <InvalidChangeBatch><Messages><Message/>...</Messages><RequestId/></InvalidChangeBatch>,
//     used when the batch itself is malformed (record syntax, limits). The SDK has a
//     dedicated customization (route53/internal/customizations) for this root element.
//
// Both decode to *types.InvalidChangeBatch in aws-sdk-go-v2.
type apiError struct {
	Status   int
	Code     string
	Message  string
	Messages []string // non-nil: answer in the <InvalidChangeBatch><Messages> shape
}

func (e *apiError) Error() string {
	if e.Messages != nil {
		return e.Code + ": " + strings.Join(e.Messages, "; ")
	}
	return e.Code + ": " + e.Message
}

func errNoSuchHostedZone(id string) *apiError {
	return &apiError{Status: http.StatusNotFound, Code: "NoSuchHostedZone", Message: "No hosted zone found with ID: " + id}
}

func errNoSuchChange(id string) *apiError {
	return &apiError{Status: http.StatusNotFound, Code: "NoSuchChange", Message: "Could not find resource with ID: " + id}
}

func errInvalidInput(format string, args ...any) *apiError {
	return &apiError{Status: http.StatusBadRequest, Code: "InvalidInput", Message: fmt.Sprintf(format, args...)}
}

// errBatchState is InvalidChangeBatch for a batch that is well-formed but conflicts
// with the zone. Route 53 lists the problems in brackets in one message.
func errBatchState(msgs []string) *apiError {
	return &apiError{Status: http.StatusBadRequest, Code: "InvalidChangeBatch", Message: "[" + strings.Join(msgs, ", ") + "]"}
}

// errBatchSyntax is InvalidChangeBatch for a malformed batch, in the Messages shape.
func errBatchSyntax(msgs []string) *apiError {
	return &apiError{Status: http.StatusBadRequest, Code: "InvalidChangeBatch", Messages: msgs}
}

// faultStatuses are the HTTP statuses Route 53 answers these codes with (injected faults
// with no status of their own); any other code is a 400.
var faultStatuses = map[string]int{
	"NoSuchHostedZone":   http.StatusNotFound,
	"NoSuchChange":       http.StatusNotFound,
	"NoSuchHealthCheck":  http.StatusNotFound,
	"AccessDenied":       http.StatusForbidden,
	"InternalFailure":    http.StatusInternalServerError,
	"InternalError":      http.StatusInternalServerError,
	"ServiceUnavailable": http.StatusServiceUnavailable,
}

func errThrottling() *apiError {
	return &apiError{Status: http.StatusBadRequest, Code: "Throttling", Message: "Rate exceeded"}
}

// writeError answers e in the shape Route 53 uses for it, with a request ID in both
// the body and the x-amzn-RequestId header (the SDK reads either).
func writeError(w http.ResponseWriter, reqID string, e *apiError) {
	var body any
	if e.Messages != nil {
		body = invalidChangeBatchResponse{Xmlns: xmlns, Messages: e.Messages, RequestID: reqID}
	} else {
		r := errorResponse{Xmlns: xmlns, RequestID: reqID}
		r.Error.Type = "Sender"
		if e.Status >= 500 {
			r.Error.Type = "Receiver"
		}
		r.Error.Code = e.Code
		r.Error.Message = e.Message
		body = r
	}
	writeXML(w, reqID, e.Status, body)
}

func writeXML(w http.ResponseWriter, reqID string, status int, body any) {
	out, err := xml.Marshal(body)
	if err != nil {
		// Only our own static types are marshalled; failing here is a bug in this package.
		http.Error(w, "r53sim: marshal response: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("x-amzn-RequestId", reqID)
	w.WriteHeader(status)
	_, _ = w.Write([]byte(xml.Header))
	_, _ = w.Write(out)
}
