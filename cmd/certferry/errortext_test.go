package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/certferry/certferry/internal/e2etest"
	"github.com/certferry/certferry/internal/sandbox/calls"
)

// TestCLIErrorReadsBackAsWritten: a failure whose text holds parentheses, quotes, a
// colon, a comma and a percent sign is stored in the secret's tags and read back byte
// for byte by status --output json and renew --plan --json; the next attempt is a time.
func TestCLIErrorReadsBackAsWritten(t *testing.T) {
	t.Parallel()
	e := newCLIEnv(t, sandboxBase+e2etest.CertsYAML(e2etest.CertYAML("web", "www.example.com")))
	detail := `the name "www.example.com" (a test: colon, quotes) is refused; 100% sure`
	e.SB.Calls().FailNext("acme", "NewOrder", 1, calls.Fault{Code: "rejectedIdentifier", Status: 400, Message: detail})
	code, out, errOut := e.renew(t, "--json")
	if code != exitFailed {
		t.Fatalf("renew: exit %d\n%s\n%s", code, out, errOut)
	}
	var sum struct {
		Results []struct {
			Error string `json:"error"`
		} `json:"results"`
	}
	if err := json.Unmarshal([]byte(out), &sum); err != nil || len(sum.Results) != 1 || sum.Results[0].Error == "" {
		t.Fatalf("renew --json: %v\n%s", err, out)
	}
	written := sum.Results[0].Error
	if !strings.Contains(written, detail) {
		t.Fatalf("renew's error %q does not carry the CA's detail %q", written, detail)
	}

	code, out, _ = cli(t, "status", "--config", e.cfg, "--output", "json")
	var rep StatusReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != exitFailed || len(rep.Certificates) != 1 {
		t.Fatalf("status: exit %d, %v\n%s", code, err, out)
	}
	st := rep.Certificates[0]
	if st.LastError != written {
		t.Errorf("status last_error\n %q\nwant (as renew wrote it)\n %q", st.LastError, written)
	}
	if st.NextAttempt == nil || st.NextAttempt.Before(time.Now().Add(-time.Hour)) {
		t.Errorf("status next_attempt %v: want a time", st.NextAttempt)
	}

	_, out, _ = e.renew(t, "--plan", "--json")
	var plan struct {
		Results []struct {
			LastError   string    `json:"last_error"`
			NextAttempt time.Time `json:"next_attempt"`
		} `json:"results"`
	}
	if err := json.Unmarshal([]byte(out), &plan); err != nil || len(plan.Results) != 1 {
		t.Fatalf("renew --plan --json: %v\n%s", err, out)
	}
	if plan.Results[0].LastError != written || plan.Results[0].NextAttempt.IsZero() {
		t.Errorf("--plan last_error %q, next_attempt %v; want %q and a time", plan.Results[0].LastError, plan.Results[0].NextAttempt, written)
	}
}

// TestCLIControlCharactersNeverReachTheTerminal: a failure whose text holds terminal
// control sequences (a CA's problem detail here; a hook's coloured stderr or a
// hand-written tag alike) is stored and read back byte for byte in JSON, but the tables
// of renew, renew --plan and status print it escaped: nothing that retitles or
// recolours the terminal, returns the cursor or breaks the columns.
func TestCLIControlCharactersNeverReachTheTerminal(t *testing.T) {
	t.Parallel()
	e := newCLIEnv(t, sandboxBase+e2etest.CertsYAML(e2etest.CertYAML("web", "www.example.com")))
	detail := "refused \x1b]0;PWNED\x07 (\x1b[31mred\x1b[0m)\tcolumn\rhidden \u202eesrever"
	e.SB.Calls().FailNext("acme", "NewOrder", 1, calls.Fault{Code: "rejectedIdentifier", Status: 400, Message: detail})
	clean := func(what, out string) {
		t.Helper()
		for _, r := range out {
			if r != '\n' && (r < 0x20 || r == 0x7f || r == '\u202e') {
				t.Errorf("%s prints %q:\n%q", what, r, out)
				return
			}
		}
		if !strings.Contains(out, `\x1b]0;PWNED\a`) {
			t.Errorf("%s does not show the escaped text:\n%s", what, out)
		}
	}
	code, out, errOut := e.renew(t)
	if code != exitFailed {
		t.Fatalf("renew: exit %d\n%s\n%s", code, out, errOut)
	}
	clean("renew", out)
	_, out, _ = e.renew(t, "--plan")
	clean("renew --plan", out)
	_, out, _ = cli(t, "status", "--config", e.cfg)
	clean("status", out)

	_, out, _ = cli(t, "status", "--config", e.cfg, "--output", "json")
	var rep StatusReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil || len(rep.Certificates) != 1 {
		t.Fatalf("status --output json: %v\n%s", err, out)
	}
	if !strings.Contains(rep.Certificates[0].LastError, detail) {
		t.Errorf("status last_error %q does not hold the CA's detail %q byte for byte", rep.Certificates[0].LastError, detail)
	}
}
