package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// wrapperExec is certferry-as-daemon's last line, which the test replaces with env(1) to
// see the environment the command would run with.
const wrapperExec = `exec setpriv --reuid=certferry --regid=certferry --init-groups -- /usr/bin/certferry "$@"`

// runWrapper runs certferry-as-daemon, reading envFile, with env(1) in place of certferry.
// It needs root, as the script does.
func runWrapper(t *testing.T, envFile string) (map[string]string, string, error) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("certferry-as-daemon runs only as root")
	}
	src, err := os.ReadFile("certferry-as-daemon")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(src), wrapperExec) {
		t.Fatalf("certferry-as-daemon no longer ends with %s", wrapperExec)
	}
	script := filepath.Join(t.TempDir(), "certferry-as-daemon")
	if err := os.WriteFile(script, []byte(strings.Replace(string(src), wrapperExec, "exec env", 1)), 0o700); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(t.Context(), "sh", script)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "CERTFERRY_ENV_FILE=" + envFile}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	env := map[string]string{}
	for _, l := range strings.Split(string(out), "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			env[k] = v
		}
	}
	return env, stderr.String(), err
}

// TestWrapperReadsTheEnvironmentFileAsSystemd: one-shot commands see the values the
// daemon sees. systemd strips whitespace around the name and the value of an
// EnvironmentFile line (outside quotes) and ends a line at CR: a trailing space an
// editor left, or a file saved with CRLF, gave the wrapper's commands another region or
// another webhook key than the daemon's. A line without "=" is refused (it exported
// the variable's own name as its value).
func TestWrapperReadsTheEnvironmentFileAsSystemd(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	envFile := filepath.Join(dir, "certferry")
	content := strings.Join([]string{
		"# comment",
		"; comment",
		"",
		"AWS_REGION=us-east-2   ",
		"  HOOK_SECRET = s3cret",
		"QUOTED=\"  kept inside  \"  ",
		"SINGLE='a b'",
		"CRLF=value\r",
		"EMPTY=",
		"EQUALS=a=b",
	}, "\n")
	if err := os.WriteFile(envFile, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	env, stderr, err := runWrapper(t, envFile)
	if err != nil {
		t.Fatalf("certferry-as-daemon: %v\n%s", err, stderr)
	}
	for k, want := range map[string]string{
		"AWS_REGION": "us-east-2", "HOOK_SECRET": "s3cret", "QUOTED": "  kept inside  ", "SINGLE": "a b",
		"CRLF": "value", "EMPTY": "", "EQUALS": "a=b",
		"CERTFERRY_CONFIG": "/etc/certferry/config.yaml", "HOME": "/var/lib/certferry",
	} {
		if got, ok := env[k]; !ok || got != want {
			t.Errorf("%s = %q (set: %v), want %q", k, got, ok, want)
		}
	}

	// CERTFERRY_CONFIG from the file: the daemon's unit names its file with --config, so
	// the wrapper reads that one too, and says so.
	if err := os.WriteFile(envFile, []byte("CERTFERRY_CONFIG=/etc/certferry/other.yaml\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env, stderr, err = runWrapper(t, envFile)
	if err != nil || env["CERTFERRY_CONFIG"] != "/etc/certferry/config.yaml" || !strings.Contains(stderr, "CERTFERRY_CONFIG=/etc/certferry/other.yaml ignored") {
		t.Errorf("CERTFERRY_CONFIG in the environment file: %v, CERTFERRY_CONFIG=%q, stderr %q; want the daemon's file and a warning", err, env["CERTFERRY_CONFIG"], stderr)
	}
	unit, err := os.ReadFile("../systemd/certferry.service")
	if err != nil || !strings.Contains(string(unit), "ExecStart=/usr/bin/certferry run --config /etc/certferry/config.yaml\n") {
		t.Errorf("certferry.service no longer names /etc/certferry/config.yaml with --config (%v): the wrapper must read what the daemon reads", err)
	}

	for _, bad := range []string{"HOOK_SECRET", "export AWS_REGION=us-east-2", "1X=y", "=value"} {
		if err := os.WriteFile(envFile, []byte(bad+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if env, stderr, err := runWrapper(t, envFile); err == nil || !strings.Contains(stderr, "not VAR=value") {
			t.Errorf("line %q: %v, %q; env %v", bad, err, stderr, env)
		}
	}
}
