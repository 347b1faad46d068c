package main

import (
	"strings"
	"testing"
)

// TestSandboxMoved: the sandbox and the demo are certferry-sandbox's; the old commands
// say where they went and exit 2, as for a usage error.
func TestSandboxMoved(t *testing.T) {
	t.Parallel()
	for cmd, want := range map[string]string{"sandbox": `"certferry-sandbox serve"`, "demo": `"certferry-sandbox demo"`} {
		code, _, errOut := cli(t, cmd, "--zone", "example.com")
		if code != exitUsage || !strings.Contains(errOut, want) || !strings.Contains(errOut, "make demo") {
			t.Errorf("certferry %s: exit %d, stderr %q; want %d naming %s", cmd, code, errOut, exitUsage, want)
		}
	}
}
