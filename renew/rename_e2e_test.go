package renew_test

import (
	"maps"
	"strings"
	"testing"

	"github.com/certferry/certferry/internal/e2etest"
	"github.com/certferry/certferry/internal/sandbox"
	"github.com/certferry/certferry/renew"
	"github.com/certferry/certferry/scheduler"
)

// renamedYAML is one certificate "web" whose secret is certferry/<secret>, with an exec
// hook on_renew.
func renamedYAML(secret, keyType, hook string) string {
	return certsYAML(strings.Replace(certYAML("web", "www.example.com"), "certferry/web", "certferry/"+secret, 1) +
		"    key_type: " + keyType + "\n" +
		"    hooks:\n      on_renew:\n        - exec: [" + hook + "]\n")
}

// TestE2ESecretRenamed: renaming a certificate's secret in the configuration is not a
// new certificate. --plan shows the move and does nothing; the next pass places no order
// and publishes no record, stores the same certificate (serial) into the new secret and
// runs the on_renew hook once for it; the old secret is left as it was; the pass after
// is idle.
func TestE2ESecretRenamed(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{Zones: []string{"example.com"}})
	script, log, _ := e2etest.HookScript(t, e.Dir)
	wantOK(t, e.Pass(t, e.App(t, e.Config(t, renamedYAML("web", "ec256", script))), renew.Options{}), "web", renew.ActionIssue, scheduler.ReasonMissing)
	old := e.Stored(t, "certferry/web", "AWSCURRENT")
	oldTags := e.Tags(t, "certferry/web")
	if runs := e2etest.HookRuns(t, log); len(runs) != 1 {
		t.Fatalf("hook runs after the issuance: %q", runs)
	}

	a := e.App(t, e.Config(t, renamedYAML("web-new", "ec256", script)))
	e.SB.Calls().Reset()
	p := result(t, e.Pass(t, a, renew.Options{Plan: true}), "web")
	if p.Action != renew.ActionPlan || p.Reason != scheduler.ReasonMoved || !strings.Contains(p.Message, "moved from secret certferry/web") {
		t.Errorf("--plan: %s %s %q, want plan moved \"moved from secret certferry/web\"", p.Action, p.Reason, p.Message)
	}
	for _, op := range []string{"PutSecretValue", "CreateSecret", "TagResource"} {
		if n := e.SB.Calls().Count("secretsmanager", op); n != 0 {
			t.Errorf("--plan: %d %s", n, op)
		}
	}

	e.SB.Calls().Reset()
	r := wantOK(t, e.Pass(t, a, renew.Options{}), "web", renew.ActionMove, scheduler.ReasonMoved)
	if !strings.Contains(r.Message, "moved from secret certferry/web") || r.Condition != renew.ConditionReady {
		t.Errorf("move: message %q, condition %s", r.Message, r.Condition)
	}
	if n := e.SB.Calls().Count("acme", "NewOrder"); n != 0 {
		t.Errorf("%d orders for a certificate whose secret was renamed", n)
	}
	if n := e.SB.Calls().Count("route53", "ChangeResourceRecordSets"); n != 0 {
		t.Errorf("%d Route 53 changes for a move", n)
	}
	moved := e.Stored(t, "certferry/web-new", "AWSCURRENT")
	if moved.Serial != old.Serial || moved.Key != old.Key {
		t.Errorf("the new secret holds serial %s, the old one %s (or another key)", moved.Serial, old.Serial)
	}
	runs := e2etest.HookRuns(t, log)
	if len(runs) != 2 || !strings.Contains(runs[1], moved.VersionID) {
		t.Errorf("hook runs %q: want a second one for version %s of the new secret", runs, moved.VersionID)
	}
	if got := e.Stored(t, "certferry/web", "AWSCURRENT"); got.VersionID != old.VersionID || e.VersionCount(t, "certferry/web") != 1 {
		t.Errorf("the old secret was written: version %s (was %s)", got.VersionID, old.VersionID)
	}
	if got := e.Tags(t, "certferry/web"); !maps.Equal(got, oldTags) {
		t.Errorf("the old secret's tags changed:\n%v\nwere\n%v", got, oldTags)
	}
	if tags := e.Tags(t, "certferry/web-new"); tags["certferry:serial"] != old.Serial || tags["certferry:issued"] == "" {
		t.Errorf("the new secret's tags: %v", tags)
	}

	e.SB.Calls().Reset()
	wantOK(t, e.Pass(t, a, renew.Options{}), "web", renew.ActionSkip, scheduler.ReasonNotDue)
	idleCalls(t, e.SB.Calls())
	if runs := e2etest.HookRuns(t, log); len(runs) != 2 {
		t.Errorf("hook runs after an idle pass: %q", runs)
	}
}

// TestE2ESecretRenamedDue: a certificate in the old secret that is due (here: the key
// type changed along with the secret) is not moved but ordered, and the issuance guard
// counts the old secret's issuance ("allowed once"); the new secret keeps that record,
// so a third rename with another change of key type, inside the guard, orders nothing.
func TestE2ESecretRenamedDue(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{Zones: []string{"example.com"}})
	script, log, _ := e2etest.HookScript(t, e.Dir)
	wantOK(t, e.Pass(t, e.App(t, e.Config(t, renamedYAML("a", "ec256", script))), renew.Options{}), "web", renew.ActionIssue, scheduler.ReasonMissing)
	first := e.Stored(t, "certferry/a", "AWSCURRENT")

	e.SB.Calls().Reset()
	r := wantOK(t, e.Pass(t, e.App(t, e.Config(t, renamedYAML("b", "ec384", script))), renew.Options{}), "web", renew.ActionRenew, scheduler.ReasonKeyTypeChanged)
	if !strings.Contains(r.Message, "allowed once inside the issuance guard") || !strings.Contains(r.Message, "secret certferry/a") {
		t.Errorf("message %q: want the old secret's issuance counted by the guard", r.Message)
	}
	if n := e.SB.Calls().Count("acme", "NewOrder"); n != 1 {
		t.Errorf("%d orders, want 1", n)
	}
	if got := e.Stored(t, "certferry/b", "AWSCURRENT"); got.Serial == first.Serial {
		t.Errorf("the due certificate was copied (serial %s)", got.Serial)
	}

	e.SB.Calls().Reset()
	r = result(t, e.Pass(t, e.App(t, e.Config(t, renamedYAML("c", "rsa2048", script))), renew.Options{}), "web")
	if r.Reason != scheduler.ReasonIssuanceGuard || r.Action != renew.ActionSkip {
		t.Errorf("third rename: %s %s %q, want skip issuance-guard", r.Action, r.Reason, r.Message)
	}
	if n := e.SB.Calls().Count("acme", "NewOrder"); n != 0 {
		t.Errorf("%d orders inside the guard", n)
	}
	if runs := e2etest.HookRuns(t, log); len(runs) != 2 {
		t.Errorf("hook runs %q: want the issuance's and the renewal's", runs)
	}
	// Held by the guard, the next pass writes nothing: the issuances were carried over once.
	e.SB.Calls().Reset()
	r = result(t, e.Pass(t, e.App(t, e.Config(t, renamedYAML("c", "rsa2048", script))), renew.Options{}), "web")
	if r.Reason != scheduler.ReasonIssuanceGuard {
		t.Errorf("fourth pass: %s %s %q", r.Action, r.Reason, r.Message)
	}
	for _, op := range []string{"TagResource", "PutSecretValue", "CreateSecret"} {
		if n := e.SB.Calls().Count("secretsmanager", op); n != 0 {
			t.Errorf("fourth pass: %d %s (all: %s)", n, op, e.SB.Calls())
		}
	}
}
