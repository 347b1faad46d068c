package calls

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestRecordCountsAndConsumesFaultsInOrder(t *testing.T) {
	t.Parallel()
	r := New()
	r.FailNext("route53", "GetChange", 2, Fault{Code: "Throttling", Status: 400})
	r.FailNext("route53", "GetChange", 1, Fault{Code: "ServiceUnavailable", Status: 503})
	want := []string{"Throttling", "Throttling", "ServiceUnavailable", "", ""}
	for i, w := range want {
		f, ok := r.Record("route53", "GetChange")
		if ok != (w != "") || f.Code != w {
			t.Fatalf("call %d: fault %+v %v, want %q", i, f, ok, w)
		}
	}
	if _, ok := r.Record("route53", "ListHostedZones"); ok {
		t.Fatal("a fault leaked to another operation")
	}
	if got := r.Count("route53", "GetChange"); got != 5 {
		t.Fatalf("Count = %d, want 5 (faulted calls count too)", got)
	}
	if got := r.ServiceTotal("route53"); got != 6 {
		t.Fatalf("ServiceTotal = %d, want 6", got)
	}
	if got := r.ServiceTotal("route5"); got != 0 {
		t.Fatalf("ServiceTotal of a prefix = %d, want 0", got)
	}
	r.Reset()
	if len(r.Counts()) != 0 || r.Count("route53", "GetChange") != 0 {
		t.Fatal("Reset left counters")
	}
}

func TestConcurrentRecord(t *testing.T) {
	t.Parallel()
	r := New()
	r.FailNext("secretsmanager", "PutSecretValue", 10, Fault{Code: "InternalServiceError", Status: 500})
	var wg sync.WaitGroup
	var mu sync.Mutex
	faults := 0
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, ok := r.Record("secretsmanager", "PutSecretValue"); ok {
				mu.Lock()
				faults++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if faults != 10 || r.Count("secretsmanager", "PutSecretValue") != 50 {
		t.Fatalf("faults %d calls %d, want 10 and 50", faults, r.Count("secretsmanager", "PutSecretValue"))
	}
}

func TestHandler(t *testing.T) {
	t.Parallel()
	r := New()
	srv := httptest.NewServer(r.Handler())
	defer srv.Close()
	post := func(body string) int {
		resp, err := http.Post(srv.URL+"/_sandbox/faults", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, c := range []struct {
		body string
		want int
	}{
		{`{"service":"acme","operation":"NewOrder","count":2,"code":"rateLimited","status":429,"retry_after":"Fri, 27 Nov 2026 10:00:00 GMT"}`, 204},
		{`{"service":"acme","operation":"Finalize","hang":1000000000}`, 204},
		{`{"service":"acme","operation":"NewOrder"}`, 400},                         // neither code nor hang
		{`{"service":"acme","operation":"NewOrder","code":"x","status":200}`, 400}, // not an error status
		{`{"service":"acme","operation":"NewOrder","code":"x","bogus":1}`, 400},    // unknown field
		{`not json`, 400},
	} {
		if got := post(c.body); got != c.want {
			t.Errorf("POST %s = %d, want %d", c.body, got, c.want)
		}
	}
	f, ok := r.Record("acme", "NewOrder")
	if !ok || f.Status != 429 || f.RetryAfter != "Fri, 27 Nov 2026 10:00:00 GMT" {
		t.Fatalf("injected fault = %+v %v", f, ok)
	}
	if f, ok := r.Record("acme", "Finalize"); !ok || f.Hang != time.Second || f.Code != "" || f.Status != 0 {
		t.Fatalf("hang fault = %+v %v", f, ok)
	}

	resp, err := http.Get(srv.URL + "/_sandbox/calls")
	if err != nil {
		t.Fatal(err)
	}
	var counts map[string]int
	if err := json.NewDecoder(resp.Body).Decode(&counts); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if counts["acme.NewOrder"] != 1 || counts["acme.Finalize"] != 1 {
		t.Fatalf("counts over HTTP = %v", counts)
	}
	req, _ := http.NewRequest(http.MethodDelete, srv.URL+"/_sandbox/calls", nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 204 {
		t.Fatalf("DELETE: %v %v", resp, err)
	}
	if len(r.Counts()) != 0 {
		t.Fatal("DELETE did not reset")
	}
}

// TestHold: a hang over passes the request body on unread; a client that gave up ends
// the hang at once, however long it was meant to be.
func TestHold(t *testing.T) {
	t.Parallel()
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader("payload"))
	if !(Fault{Hang: time.Millisecond}).Hold(req) {
		t.Fatal("a finished hang reported a gone client")
	}
	if b, _ := io.ReadAll(req.Body); string(b) != "payload" {
		t.Errorf("body after Hold = %q", b)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	for _, h := range []time.Duration{HangForever, time.Hour} {
		if (Fault{Hang: h}).Hold(req.WithContext(ctx)) {
			t.Errorf("hang %v outlived its client", h)
		}
	}
	if !(Fault{}).Hold(req.WithContext(ctx)) {
		t.Error("no hang held the request")
	}
}
