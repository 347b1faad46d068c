package wire

import (
	"encoding/json"
	"net/http/httptest"
	"regexp"
	"strconv"
	"testing"

	"github.com/certferry/certferry/sandbox/calls"
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

func TestWriteJSON11Fault(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		f      calls.Fault
		status int
		msg    string
	}{
		{calls.Fault{Code: "InternalServiceError"}, 500, "injected fault: InternalServiceError"},
		{calls.Fault{Code: "LimitExceededException"}, 400, "injected fault: LimitExceededException"},
		{calls.Fault{Code: "InternalServiceError", Status: 503, Message: "down"}, 503, "down"},
	} {
		rec := httptest.NewRecorder()
		WriteJSON11Fault(rec, c.f, "InternalServiceError", "Message")
		var body map[string]string
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatal(err)
		}
		if rec.Code != c.status || body["__type"] != c.f.Code || body["Message"] != c.msg {
			t.Errorf("fault %+v: %d %v", c.f, rec.Code, body)
		}
	}
}
