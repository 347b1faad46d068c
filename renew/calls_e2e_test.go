package renew_test

import (
	"maps"
	"strings"
	"testing"

	"github.com/certferry/certferry/internal/e2etest"
	"github.com/certferry/certferry/internal/sandbox"
	"github.com/certferry/certferry/internal/sandbox/calls"
	"github.com/certferry/certferry/renew"
	"github.com/certferry/certferry/scheduler"
)

// TestE2ESecretsManagerCalls pins the exact Secrets Manager calls of the passes that
// matter, from the sandbox's call counters (what /_sandbox/calls serves), and the Route
// 53 changes: a first issuance with the ACME account already stored, a forced renewal
// with one exec hook, a renewal that fell due (which also reads the stored value, the
// guard against replacing a longer-lived certificate), and an idle pass. A change that
// adds a call fails here; see docs/architecture.md, "What a pass costs".
func TestE2ESecretsManagerCalls(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{Zones: []string{"example.com"}})
	script, _, _ := e2etest.HookScript(t, e.Dir)
	cfg := e.Config(t, "issuance_guard: 0s\n"+certsYAML(
		certYAML("web", "www.example.com")+"    hooks:\n      on_renew:\n        - exec: [\""+script+"\"]\n",
		certYAML("api", "api.example.com"),
		certYAML("due", "due.example.com")+"    renew_before: 3000h\n"))
	pass := func(opts renew.Options, name string, action renew.Action, reason scheduler.Reason) {
		t.Helper()
		sum := e.Pass(t, e.App(t, cfg), opts) // a new app, as every run of certferry renew: it reads the account

		for _, n := range opts.Only {
			if n == name {
				wantOK(t, sum, n, action, reason)
			} else {
				wantOK(t, sum, n, renew.ActionSkip, scheduler.ReasonNotDue)
			}
		}
	}
	pin := func(what string, want map[string]int) {
		t.Helper()
		got := smCalls(e.SB.Calls())
		r53 := want["route53"]
		want = maps.Clone(want)
		delete(want, "route53")
		if !maps.Equal(got, want) {
			t.Errorf("%s: Secrets Manager calls %v (%d), want %v", what, got, total(got), want)
		}
		if n := e.SB.Calls().Count("route53", "ChangeResourceRecordSets"); n != r53 {
			t.Errorf("%s: %d Route 53 changes, want %d", what, n, r53)
		}
		t.Logf("%s: %d Secrets Manager calls %v", what, total(got), got)
		e.SB.Calls().Reset()
	}

	pass(renew.Options{Only: []string{"web"}}, "web", renew.ActionIssue, scheduler.ReasonMissing) // registers the account
	pass(renew.Options{Only: []string{"due"}}, "due", renew.ActionIssue, scheduler.ReasonMissing)
	e.SB.Calls().Reset()

	pass(renew.Options{Only: []string{"api"}}, "api", renew.ActionIssue, scheduler.ReasonMissing)
	// The account read; the secret described (the inventory does not list it), created
	// with the challenge journal before the records are published; the value put (the
	// first version is AWSCURRENT at once); one tag write after the hooks.
	pin("first issuance", map[string]int{"ListSecrets": 1, "GetSecretValue": 1, "DescribeSecret": 1, "CreateSecret": 1,
		"PutSecretValue": 1, "TagResource": 1, "route53": 2})

	// Pebble v2.10.3 reuses a valid authorization about once in a hundred orders even when
	// told never to (it reuses unless rand.Intn(100) > percent, false for 0 when the draw
	// is 0): such a renewal publishes nothing and skips the journal. That pass is run
	// again (the certificate is due again at once: forced, or renew_before beyond its
	// lifetime); twice in a row is one in ten thousand.
	renewal := func(opts renew.Options, name string, reason scheduler.Reason) {
		t.Helper()
		pass(opts, name, renew.ActionRenew, reason)
		if e.SB.Calls().Count("route53", "ChangeResourceRecordSets") == 0 {
			t.Logf("%s: the CA reused a valid authorization (no DNS-01 record published); once more", name)
			e.SB.Calls().Reset()
			pass(opts, name, renew.ActionRenew, reason)
		}
	}

	renewal(renew.Options{Only: []string{"web"}, Force: true}, "web", scheduler.ReasonForced)
	// The account read; the preflight's check that the state can be written (a tag
	// written with the value it has: a role that may not tag would otherwise order on
	// every run, each order abandoned at the journal); the journal; the value put and
	// promoted (one stage move); one tag write after the hook. The preflight knows the
	// secret from the inventory.
	pin("forced renewal with an exec hook", map[string]int{"ListSecrets": 1, "GetSecretValue": 1, "TagResource": 3,
		"PutSecretValue": 1, "UpdateSecretVersionStage": 1, "route53": 2})

	renewal(renew.Options{Only: []string{"due"}}, "due", scheduler.ReasonRenewBefore)
	// As forced, and the stored value read: the guard against a longer-lived one.
	pin("renewal due", map[string]int{"ListSecrets": 1, "GetSecretValue": 2, "TagResource": 3,
		"PutSecretValue": 1, "UpdateSecretVersionStage": 1, "route53": 2})

	pass(renew.Options{Only: []string{"web", "api"}}, "", "", "")
	pin("idle pass", map[string]int{"ListSecrets": 1})
}

// smCalls are the Secrets Manager counters, by operation.
func smCalls(c *calls.Registry) map[string]int {
	out := map[string]int{}
	for k, n := range c.Counts() {
		if op, ok := strings.CutPrefix(k, "secretsmanager."); ok && n > 0 {
			out[op] = n
		}
	}
	return out
}

func total(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// TestE2EUnfinishedWriteRunsHooks: a renewal whose one tag write (after the hooks) is
// refused leaves a version certferry stored and never tagged, as a crash between the
// write and the tags would. A new process cannot know whether the hook ran, so it runs
// it for that version and writes the tags; then nothing runs again.
func TestE2EUnfinishedWriteRunsHooks(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{Zones: []string{"example.com"}})
	script, log, _ := e2etest.HookScript(t, e.Dir)
	cfg := e.Config(t, certsYAML(certYAML("web", "www.example.com")+"    hooks:\n      on_renew:\n        - exec: [\""+script+"\"]\n"))
	wantOK(t, e.Pass(t, e.App(t, cfg), renew.Options{}), "web", renew.ActionIssue, scheduler.ReasonMissing)

	// The preflight's check and the journal go through; the write after the hooks fails.
	e.SB.Calls().FailAfter("secretsmanager", "TagResource", 2, 1000, calls.Fault{Code: "InternalServiceError", Status: 500})
	r := wantOK(t, e.Pass(t, e.App(t, cfg), renew.Options{Force: true}), "web", renew.ActionRenew, scheduler.ReasonForced)
	e.SB.Calls().DropFaults()
	if runs := e2etest.HookRuns(t, log); len(runs) != 2 {
		t.Fatalf("hook runs after the renewal: %q", runs)
	}
	wantOK(t, e.Pass(t, e.App(t, cfg), renew.Options{}), "web", renew.ActionHooks, scheduler.ReasonNotDue)
	runs := e2etest.HookRuns(t, log)
	if len(runs) != 3 || !strings.Contains(runs[2], r.VersionID) {
		t.Fatalf("a new process did not run the hook for version %s: %q", r.VersionID, runs)
	}
	wantOK(t, e.Pass(t, e.App(t, cfg), renew.Options{}), "web", renew.ActionSkip, scheduler.ReasonNotDue)
	if runs := e2etest.HookRuns(t, log); len(runs) != 3 {
		t.Fatalf("the hook ran again once the tags were written: %q", runs)
	}
}
