package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/certferry/certferry/internal/e2etest"
	"github.com/certferry/certferry/internal/sandbox/calls"
)

// TestCLIStateWriteDenied: a role without secretsmanager:TagResource cannot record a
// certificate's state. A due renewal (`renew --force`) exits 1, run after run, naming
// the permission and the secret and needing a human, and orders nothing (the preflight
// checks the permission before the order). `status`, another process that reads the
// tags and writes nothing, cannot know: it exits 0 (docs/architecture.md, "Where state
// lives").
func TestCLIStateWriteDenied(t *testing.T) {
	t.Parallel()
	e := newCLIEnv(t, sandboxBase+e2etest.CertsYAML(e2etest.CertYAML("web", "www.example.com")))
	if code, out, errOut := e.renew(t); code != exitOK {
		t.Fatalf("first renew: exit %d\n%s\n%s", code, out, errOut)
	}
	e.SB.Calls().FailNext("secretsmanager", "TagResource", 1<<20, calls.Fault{Code: "AccessDeniedException", Status: 400,
		Message: "User: arn:aws:sts::123456789012:assumed-role/certferry is not authorized to perform: secretsmanager:TagResource"})
	defer e.SB.Calls().DropFaults()
	orders := e.SB.Calls().Count("acme", "NewOrder")
	const want = `it needs a human: the role is not allowed secretsmanager:TagResource on the secret "certferry/web"`
	for run := range 2 {
		code, out, errOut := e.renew(t, "--force", "--json")
		var sum struct {
			Results []struct {
				Error      string `json:"error"`
				Condition  string `json:"condition"`
				NeedsHuman bool   `json:"needs_human"`
			} `json:"results"`
		}
		if err := json.Unmarshal([]byte(out), &sum); err != nil || len(sum.Results) != 1 {
			t.Fatalf("run %d: renew --json: %v\n%s\n%s", run+1, err, out, errOut)
		}
		r := sum.Results[0]
		if code != exitFailed || r.Condition != "failing" || !r.NeedsHuman || !strings.Contains(r.Error, want) {
			t.Errorf("run %d: exit %d, condition %s, needs a human %v, error %q; want exit %d, failing, needing a human, %q",
				run+1, code, r.Condition, r.NeedsHuman, r.Error, exitFailed, want)
		}
	}
	if n := e.SB.Calls().Count("acme", "NewOrder") - orders; n != 0 {
		t.Errorf("%d orders in two runs that could not record their state, want 0", n)
	}
	if code, out, errOut := cli(t, "status", "--config", e.cfg); code != exitOK {
		t.Errorf("status: exit %d, want %d (it cannot know)\n%s\n%s", code, exitOK, out, errOut)
	}
}

// TestCLIStoreDeniedNeedsHumanInStatus: a role without secretsmanager:PutSecretValue gets
// the forced renewal issued and not stored, a day's wait, "it needs a human": renew
// --json and status --output json (a later run, reading the recorded state) both say
// needs_human, as the daemon's /healthz does by paging at once; status exits 1.
func TestCLIStoreDeniedNeedsHumanInStatus(t *testing.T) {
	t.Parallel()
	e := newCLIEnv(t, sandboxBase+e2etest.CertsYAML(e2etest.CertYAML("web", "www.example.com")))
	if code, out, errOut := e.renew(t); code != exitOK {
		t.Fatalf("first renew: exit %d\n%s\n%s", code, out, errOut)
	}
	e.SB.Calls().FailNext("secretsmanager", "PutSecretValue", 1<<20, calls.Fault{Code: "AccessDeniedException", Status: 400,
		Message: "User: arn:aws:sts::123456789012:assumed-role/certferry is not authorized to perform: secretsmanager:PutSecretValue"})
	defer e.SB.Calls().DropFaults()
	code, out, errOut := e.renew(t, "--force", "--json")
	var sum struct {
		Results []struct {
			NeedsHuman bool `json:"needs_human"`
		} `json:"results"`
	}
	if err := json.Unmarshal([]byte(out), &sum); err != nil || len(sum.Results) != 1 || code != exitFailed || !sum.Results[0].NeedsHuman {
		t.Fatalf("renew --force --json: exit %d, %v, %+v; want exit %d, needs_human\n%s\n%s", code, err, sum, exitFailed, out, errOut)
	}
	code, out, errOut = cli(t, "status", "--config", e.cfg, "--output", "json")
	var st struct {
		Certificates []struct {
			Condition  string `json:"condition"`
			NeedsHuman bool   `json:"needs_human"`
		} `json:"certificates"`
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil || len(st.Certificates) != 1 {
		t.Fatalf("status --output json: %v\n%s\n%s", err, out, errOut)
	}
	if c := st.Certificates[0]; code != exitFailed || c.Condition != "failing" || !c.NeedsHuman {
		t.Errorf("status: exit %d, condition %s, needs_human %v; want exit %d, failing, needs_human", code, c.Condition, c.NeedsHuman, exitFailed)
	}
	validateStatusSchema(t, []byte(out))
}
