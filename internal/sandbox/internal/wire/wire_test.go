package wire

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/certferry/certferry/internal/sandbox/calls"
)

func TestRequestID(t *testing.T) {
	t.Parallel()
	v4 := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	seen := map[string]bool{}
	for i := 0; i < 100; i++ {
		id := RequestID()
		if !v4.MatchString(id) || seen[id] {
			t.Fatalf("RequestID() = %q (seen before: %v)", id, seen[id])
		}
		seen[id] = true
	}
}

func TestWriteJSON11Error(t *testing.T) {
	t.Parallel()
	rec := httptest.NewRecorder()
	WriteJSON11Error(rec, 400, "ResourceNotFoundException", "Message", "Secrets Manager can't find the specified secret.")
	var body map[string]string
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	if rec.Code != 400 || body["__type"] != "ResourceNotFoundException" || body["Message"] == "" ||
		rec.Header().Get("Content-Type") != "application/x-amz-json-1.1" || rec.Header().Get("x-amzn-RequestId") == "" ||
		rec.Header().Get("Content-Length") != strconv.Itoa(rec.Body.Len()) {
		t.Fatalf("got %d %v %v", rec.Code, rec.Header(), body)
	}
}

func TestHoldJSON11Fault(t *testing.T) {
	t.Parallel()
	statuses := map[string]int{"InternalServiceError": 500}
	for _, c := range []struct {
		f      calls.Fault
		status int
		msg    string
	}{
		{calls.Fault{Code: "InternalServiceError"}, 500, "injected fault: InternalServiceError"},
		{calls.Fault{Code: "LimitExceededException"}, 400, "injected fault: LimitExceededException"},
		{calls.Fault{Code: "InternalServiceError", Status: 503, Message: "down", RetryAfter: "3"}, 503, "down"},
	} {
		rec := httptest.NewRecorder()
		if !HoldJSON11Fault(rec, httptest.NewRequest("POST", "/", nil), c.f, statuses, "Message") {
			t.Fatalf("fault %+v not answered", c.f)
		}
		var body map[string]string
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatal(err)
		}
		if rec.Code != c.status || body["__type"] != c.f.Code || body["Message"] != c.msg || rec.Header().Get("Retry-After") != c.f.RetryAfter {
			t.Errorf("fault %+v: %d %v %v", c.f, rec.Code, rec.Header(), body)
		}
	}

	// A hang alone passes the call on; a hang the client gives up on writes nothing.
	rec := httptest.NewRecorder()
	if HoldJSON11Fault(rec, httptest.NewRequest("POST", "/", nil), calls.Fault{Hang: time.Nanosecond}, statuses, "Message") || rec.Body.Len() != 0 {
		t.Errorf("a code-less hang was answered: %d %q", rec.Code, rec.Body)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	rec = httptest.NewRecorder()
	req := httptest.NewRequestWithContext(ctx, "POST", "/", nil)
	if !HoldJSON11Fault(rec, req, calls.Fault{Code: "InternalServiceError", Hang: calls.HangForever}, statuses, "Message") || rec.Body.Len() != 0 || len(rec.Header()) != 0 {
		t.Errorf("a hang the client left wrote %d %v %q", rec.Code, rec.Header(), rec.Body)
	}
}
