package sandbox_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/certferry/certferry/internal/sandbox"
	"github.com/certferry/certferry/internal/sandbox/calls"
)

// TestACMEFaults drives the fault-injecting layer in front of Pebble directly: a
// rateLimited answer with each Retry-After form, a 5xx, and a hang.
func TestACMEFaults(t *testing.T) {
	sb := start(t, sandbox.Options{})
	client := sb.CA().HTTPClient()
	dir := sb.Info().ACMEDirectory
	date := time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)

	for _, c := range []struct {
		fault      calls.Fault
		status     int
		retryAfter string
		problem    string
	}{
		{calls.Fault{Code: "rateLimited", Status: 429, RetryAfter: "120"}, 429, "120", "urn:ietf:params:acme:error:rateLimited"},
		{calls.Fault{Code: "rateLimited", Status: 429, RetryAfter: date}, 429, date, "urn:ietf:params:acme:error:rateLimited"},
		{calls.Fault{Code: "caa", Status: 403}, 403, "", "urn:ietf:params:acme:error:caa"},
		{calls.Fault{Code: "rejectedIdentifier", Status: 400}, 400, "", "urn:ietf:params:acme:error:rejectedIdentifier"},
		{calls.Fault{Code: "serverInternal", Status: 503}, 503, "", "urn:ietf:params:acme:error:serverInternal"},
	} {
		sb.Calls().FailNext("acme", "Directory", 1, c.fault)
		resp, err := client.Get(dir)
		if err != nil {
			t.Fatal(err)
		}
		var p struct{ Type string }
		_ = json.NewDecoder(resp.Body).Decode(&p)
		resp.Body.Close()
		if resp.StatusCode != c.status || resp.Header.Get("Retry-After") != c.retryAfter || p.Type != c.problem {
			t.Errorf("fault %+v: got %d Retry-After %q type %q", c.fault, resp.StatusCode, resp.Header.Get("Retry-After"), p.Type)
		}
	}

	// The next request is Pebble's own answer again.
	resp, err := client.Get(dir)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("after the faults: %v %v", resp, err)
	}
	resp.Body.Close()

	// A hang holds the request: a client with a short timeout gives up.
	sb.Calls().FailNext("acme", "Directory", 1, calls.Fault{Hang: time.Minute})
	short := *client
	short.Timeout = 200 * time.Millisecond
	_, err = short.Get(dir)
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		var ne interface{ Timeout() bool }
		if !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("hung request: err = %v, want a timeout", err)
		}
	}
	if got := sb.Calls().Count("acme", "Directory"); got != 7 {
		t.Fatalf("acme.Directory count = %d, want 7", got)
	}
}
