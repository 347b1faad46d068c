package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestInstalledConfigValidates builds the real certferry and the .deb around it, takes
// the binary and /etc/certferry/config.yaml back out of the package, and runs
// `certferry validate` on that file as installed: no edit, no AWS_REGION, no AWS
// configuration of this machine's. It must pass, talk to Let's Encrypt's staging CA,
// and leave the schedule to the per-machine default and every hook commented out. The
// copyright file names a license for every module the binary links.
func TestInstalledConfigValidates(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds certferry")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "certferry")
	build := exec.CommandContext(t.Context(), "go", "build", "-trimpath", "-o", bin, "./cmd/certferry")
	build.Dir = "../.."
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/certferry: %v\n%s", err, out)
	}
	paths, err := Build(Options{Root: "../..", Bin: bin, Version: "v1.0.0", Arch: "amd64", Out: filepath.Join(dir, "dist"), Formats: []string{"deb"}})
	if err != nil {
		t.Fatal(err)
	}
	deb, err := readDeb(paths[0])
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(dir, "root")
	for path, mode := range map[string]os.FileMode{"/usr/bin/certferry": 0o755, "/etc/certferry/config.yaml": 0o600} {
		e, ok := deb.files[path]
		if !ok {
			t.Fatalf("%s: not in the .deb", path)
		}
		if err := os.MkdirAll(filepath.Dir(root+path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(root+path, e.data, mode); err != nil {
			t.Fatal(err)
		}
	}

	cfg := string(deb.files["/etc/certferry/config.yaml"].data)
	live := liveYAML(cfg)
	for _, tc := range []struct {
		re   string
		want bool
		why  string
	}{
		{`(?m)^\s+directory: letsencrypt-staging$`, true, "starts on Let's Encrypt's staging CA"},
		{`(?m)^schedule:`, false, "leaves the schedule to the per-machine default"},
		{`(?m)^\s+hooks:`, false, "has every hook commented out"},
		{`/path/to`, false, "names no placeholder path"},
		{`(?m)^\s+(ca_bundle|issuer_roots):`, false, "names no CA file"},
	} {
		if regexp.MustCompile(tc.re).MatchString(live) != tc.want {
			t.Errorf("the installed config.yaml must be a config that %s (%s)", tc.why, tc.re)
		}
	}
	if !strings.Contains(cfg, "# schedule:") || !strings.Contains(cfg, "#     - exec:") {
		t.Error("the installed config.yaml should show a schedule and a hook, commented out")
	}

	home := filepath.Join(dir, "home")
	validate := exec.CommandContext(t.Context(), root+"/usr/bin/certferry", "validate", "--config", root+"/etc/certferry/config.yaml")
	validate.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + home,
		"AWS_CONFIG_FILE=" + filepath.Join(home, "none"), "AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, "none")}
	var stdout, stderr bytes.Buffer
	validate.Stdout, validate.Stderr = &stdout, &stderr
	if err := validate.Run(); err != nil || !strings.Contains(stdout.String(), ": ok (1 certificate(s)") {
		t.Errorf("certferry validate on the installed config: %v\nstdout: %s\nstderr: %s", err, stdout.String(), stderr.String())
	}

	checkCopyright(t, bin, string(deb.files["/usr/share/doc/certferry/copyright"].data))
}

// liveYAML is text without its comments (whole-line and trailing).
func liveYAML(text string) string {
	var b strings.Builder
	for _, l := range strings.Split(text, "\n") {
		if i := strings.Index(l, "#"); i >= 0 && (i == 0 || l[i-1] == ' ') {
			l = l[:i]
		}
		if strings.TrimSpace(l) != "" {
			b.WriteString(strings.TrimRight(l, " ") + "\n")
		}
	}
	return b.String()
}

// checkCopyright: every module `go version -m` lists for bin is under a Files: pattern of
// the copyright file ("path/*" covers path and everything under it).
func checkCopyright(t *testing.T, bin, copyright string) {
	t.Helper()
	out, err := exec.CommandContext(t.Context(), "go", "version", "-m", bin).Output()
	if err != nil {
		t.Fatalf("go version -m: %v", err)
	}
	var patterns []string
	inFiles := false
	for _, l := range strings.Split(copyright, "\n") {
		switch {
		case strings.HasPrefix(l, "Files:"):
			inFiles = true
			patterns = append(patterns, strings.Fields(strings.TrimPrefix(l, "Files:"))...)
		case inFiles && strings.HasPrefix(l, " "):
			patterns = append(patterns, strings.Fields(l)...)
		default:
			inFiles = false
		}
	}
	for _, l := range strings.Split(string(out), "\n") {
		f := strings.Fields(l)
		if len(f) < 2 || f[0] != "dep" {
			continue
		}
		covered := false
		for _, p := range patterns {
			base := strings.TrimSuffix(p, "/*")
			covered = covered || f[1] == base || strings.HasPrefix(f[1], base+"/")
		}
		if !covered {
			t.Errorf("deploy/package/copyright: %s (linked into certferry) is under no Files: pattern", f[1])
		}
	}
}
