package main

import (
	"errors"
	"io/fs"
	"strings"
	"testing"
)

// TestExplainLoad: a configuration that cannot be read says where its path came from
// and, for the packages' file refused to a user outside the group certferry (a
// one-shot command on a bastion without the wrapper), how to run the command instead.
func TestExplainLoad(t *testing.T) {
	t.Parallel()
	notExist := &fs.PathError{Op: "stat", Path: "x", Err: fs.ErrNotExist}
	denied := &fs.PathError{Op: "open", Path: systemConfig, Err: fs.ErrPermission}
	for _, tc := range []struct {
		name      string
		err       error
		path, env string
		want      string
	}{
		{"default missing", notExist, "certferry.yaml", "", "give --config FILE or set CERTFERRY_CONFIG"},
		{"from the environment", notExist, "/etc/certferry/other.yaml", "/etc/certferry/other.yaml", "the path is $CERTFERRY_CONFIG's"},
		{"--config over the environment", notExist, "given.yaml", "/etc/certferry/other.yaml", "give --config FILE"},
		{"packages' file refused", denied, systemConfig, "", "sudo certferry-as-daemon COMMAND"},
		{"own file refused", &fs.PathError{Op: "open", Path: "mine.yaml", Err: fs.ErrPermission}, "mine.yaml", "", ""},
		{"other error", errors.New("line 3: acme.email: required"), systemConfig, "", ""},
	} {
		got := explainLoad(tc.err, tc.path, tc.env)
		if !errors.Is(got, tc.err) {
			t.Errorf("%s: %v does not wrap %v", tc.name, got, tc.err)
		}
		if tc.want == "" && got.Error() != tc.err.Error() || tc.want != "" && !strings.Contains(got.Error(), tc.want) {
			t.Errorf("%s: %q, want it to say %q", tc.name, got, tc.want)
		}
	}
}

// TestStatusJSONAndOutputDisagree: --json with --output table or wide is a usage error
// (it printed JSON silently); with --output json, or alone, it is JSON.
func TestStatusJSONAndOutputDisagree(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"--json", "--output", "table"}, {"--output", "wide", "--json"}} {
		code, out, errOut := cli(t, append([]string{"status", "--config", "/nonexistent/certferry.yaml"}, args...)...)
		if code != exitUsage || !strings.Contains(errOut, "disagree") || out != "" {
			t.Errorf("status %q: exit %d, stdout %q, stderr %q; want exit 2 saying they disagree", args, code, out, errOut)
		}
	}
	code, _, errOut := cli(t, "status", "--config", "/nonexistent/certferry.yaml", "--json", "--output", "json")
	if code != exitUsage || strings.Contains(errOut, "disagree") || !strings.Contains(errOut, "/nonexistent/certferry.yaml") {
		t.Errorf("status --json --output json: exit %d, %q; want it to get as far as the configuration", code, errOut)
	}
}
