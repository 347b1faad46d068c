package main

import (
	"strings"
	"testing"
	"time"

	"github.com/certferry/certferry/internal/e2etest"
	"github.com/certferry/certferry/internal/sandbox/calls"
	"github.com/certferry/certferry/internal/testwait"
)

// TestCLICommandTimeouts: revoke, retire, account and persist each end at --timeout when
// a call hangs (the SDK allows three attempts of two minutes each; a CA request is cut
// off at 90 s), with exit 3 and a message naming the call and the --timeout; the
// command's own default is overridden by the flag.
func TestCLICommandTimeouts(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		yaml    string
		renew   bool // a certificate and an account stored first
		service string
		op      string
		args    []string
		named   string // what the message names
	}{
		{name: "revoke", yaml: webConfig, renew: true, service: "secretsmanager", op: "GetSecretValue",
			args: []string{"revoke", "web"}, named: "GetSecretValue"},
		{name: "retire", yaml: webConfig, service: "secretsmanager", op: "ListSecrets",
			args: []string{"retire", "web"}, named: "ListSecrets"},
		{name: "account show", yaml: webConfig, renew: true, service: "acme", op: "Directory",
			args: []string{"account", "show"}, named: "directory"},
		{name: "persist plan", yaml: persistConfig, service: "route53", op: "ListResourceRecordSets",
			args: []string{"persist", "plan"}, named: "ListResourceRecordSets"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newCLIEnv(t, c.yaml)
			if c.renew {
				e.mustRenew(t)
			}
			e.SB.Calls().FailNext(c.service, c.op, 100, calls.Fault{Hang: calls.HangForever})
			// Long enough for the few local calls before the hung one on a loaded machine.
			timeout := 10 * testwait.Step
			start := time.Now()
			code, out, errOut := cli(t, append(c.args, "--config", e.cfg, "--timeout", timeout.String())...)
			took := time.Since(start)
			if code != exitUnknown {
				t.Fatalf("%s with %s %s hung: exit %d, want %d\n%s\n%s", c.name, c.service, c.op, code, exitUnknown, out, errOut)
			}
			if took > testwait.For(timeout) {
				t.Errorf("%s took %s with --timeout %s", c.name, took, timeout)
			}
			if n := e.SB.Calls().Count(c.service, c.op); n == 0 {
				t.Fatalf("%s never called %s %s: the case is not what it claims\n%s", c.name, c.service, c.op, errOut)
			}
			for _, want := range []string{c.named, "--timeout " + timeout.String()} {
				if !strings.Contains(errOut, want) {
					t.Errorf("%s: stderr does not name %q:\n%s", c.name, want, errOut)
				}
			}
		})
	}
}

// webConfig has one certificate, "web", and nothing else.
var webConfig = sandboxBase + e2etest.CertsYAML(e2etest.CertYAML("web", "www.example.com"))

// TestCLICommandTimeoutFlag: a --timeout of 0 or less is refused before any request.
func TestCLICommandTimeoutFlag(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"revoke", "web"}, {"retire", "web"}, {"account", "show"}, {"persist", "plan"},
	} {
		for _, v := range []string{"0", "-1m"} {
			code, _, errOut := cli(t, append(args, "--config", "/nonexistent/certferry.yaml", "--timeout", v)...)
			if code != exitUsage || !strings.Contains(errOut, "--timeout "+strings.TrimSuffix(v, "m")) {
				t.Errorf("%v --timeout %s: exit %d, stderr %q", args, v, code, errOut)
			}
		}
	}
}
