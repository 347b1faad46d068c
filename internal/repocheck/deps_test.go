package repocheck

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// goTimeout bounds one go command: it may build the module's package graph on a loaded
// machine, and never waits on the network (the module cache is filled by the build).
const goTimeout = 5 * time.Minute

// TestProductionBinariesLinkNoSandbox: certferry and certferry-lambda carry neither
// Pebble, nor the sandbox's stand-ins, nor test helpers; those live in
// certferry-sandbox (docs/sandbox.md).
func TestProductionBinariesLinkNoSandbox(t *testing.T) {
	t.Parallel()
	for _, cmd := range []string{"github.com/certferry/certferry/cmd/certferry", "github.com/certferry/certferry/cmd/certferry-lambda"} {
		ctx, cancel := context.WithTimeout(t.Context(), goTimeout)
		out, err := exec.CommandContext(ctx, "go", "list", "-deps", cmd).Output()
		cancel()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", cmd, err)
		}
		n := 0
		for _, pkg := range strings.Fields(string(out)) {
			n++
			if strings.Contains(pkg, "pebble") || strings.Contains(pkg, "/sandbox") || strings.Contains(pkg, "e2etest") ||
				strings.Contains(pkg, "goleak") || pkg == "testing" || strings.HasSuffix(pkg, "/certstest") {
				t.Errorf("%s depends on %s", cmd, pkg)
			}
		}
		if n < 50 {
			t.Errorf("go list -deps %s listed %d packages; the check is looking at the wrong thing", cmd, n)
		}
	}
}

// TestSandboxBinaryLinksPebble keeps the check above honest: the same test on the
// sandbox's own binary finds Pebble.
func TestSandboxBinaryLinksPebble(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), goTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, "go", "list", "-deps", "github.com/certferry/certferry/cmd/certferry-sandbox").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	if !strings.Contains(string(out), "github.com/letsencrypt/pebble/v2/wfe") {
		t.Error("certferry-sandbox does not link Pebble's wfe: TestProductionBinariesLinkNoSandbox checks nothing")
	}
}

// TestGoModTidy: go.mod and go.sum are what go mod tidy makes them. It needs the
// module cache to hold every module of the graph (tests' dependencies included), so it
// runs offline and skips when something is missing rather than reach the network.
func TestGoModTidy(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), goTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "mod", "tidy", "-diff")
	cmd.Env = append(cmd.Environ(), "GOPROXY=off", "GOFLAGS=-mod=mod")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if strings.Contains(stderr.String(), "GOPROXY=off") || strings.Contains(stderr.String(), "module lookup disabled") {
		t.Skipf("the module cache lacks a module go mod tidy needs (offline check): %s", firstLine(stderr.String()))
	}
	if err != nil || len(out) > 0 {
		t.Errorf("go mod tidy -diff: %v\n%s%s\nrun go mod tidy and commit go.mod and go.sum", err, out, stderr.String())
	}
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}
