// Package systemd holds certferry's systemd units: the daemon (certferry.service) and the
// privileged reload it triggers (certferry-reload@.path starting certferry-reload@.service,
// which runs only `systemctl reload %i`). Its tests keep the units valid
// (systemd-analyze verify), the daemon's sandboxing from regressing (systemd-analyze
// security) and the directives the daemon and the packages rely on in place.
package systemd

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/certferry/certferry/acme"
	"github.com/certferry/certferry/daemon"
)

// maxExposure is the highest "Overall exposure level" systemd-analyze may report.
const maxExposure = 2.0

// TestUnitSecurity runs `systemd-analyze security --offline` on certferry.service.
func TestUnitSecurity(t *testing.T) {
	t.Parallel()
	bin := systemdAnalyze(t)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, "security", "--offline=true", "--no-pager", "--threshold=20", "certferry.service")
	cmd.Stdout, cmd.Stderr = &out, &out
	runErr := cmd.Run()
	m := regexp.MustCompile(`Overall exposure level for certferry\.service: ([0-9.]+)`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("systemd-analyze security: %v; no exposure level in:\n%s", runErr, out.String())
	}
	level, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		t.Fatal(err)
	}
	if runErr != nil || level > maxExposure {
		var bad []string
		for _, l := range strings.Split(out.String(), "\n") {
			if strings.HasPrefix(l, "✗") {
				bad = append(bad, l)
			}
		}
		t.Fatalf("exposure %.1f (max %.1f), systemd-analyze: %v; failing checks:\n%s", level, maxExposure, runErr, strings.Join(bad, "\n"))
	}
	t.Logf("exposure level %.1f", level)
}

// TestUnitDirectives checks what the daemon and the packages rely on: sd_notify, the
// watchdog, reload by SIGHUP, a stop timeout longer than the daemon's own 2-minute bound,
// the packages' paths, user and environment file, and no restart loop on a bad
// configuration (exit status 2).
func TestUnitDirectives(t *testing.T) {
	t.Parallel()
	for unit, wants := range map[string][]string{
		"certferry.service": {
			"Type=notify", "WatchdogSec=", "ExecReload=/bin/kill -HUP $MAINPID", "Restart=on-failure",
			"TimeoutStopSec=150", "User=certferry", "Group=certferry", "StateDirectory=certferry",
			"ProtectSystem=strict", "CapabilityBoundingSet=\n", "NoNewPrivileges=yes",
			"RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX", "SystemCallFilter=@system-service",
			"EnvironmentFile=-/etc/default/certferry",
			"ExecStart=/usr/bin/certferry run --config /etc/certferry/config.yaml",
			"RestartPreventExitStatus=2\n",
		},
		"certferry-reload@.path": {
			"PathChanged=/var/lib/certferry/reload-%i\n", "Unit=certferry-reload@%i.service\n",
		},
		"certferry-reload@.service": {
			"Type=oneshot\n", "ExecStart=/usr/bin/systemctl reload %i\n", "NoNewPrivileges=yes",
		},
	} {
		data := readUnit(t, unit)
		for _, want := range wants {
			if !strings.Contains(data, want) {
				t.Errorf("%s lacks %q", unit, want)
			}
		}
		// The reload service runs one command: nothing may add another.
		if unit == "certferry-reload@.service" {
			if n := len(regexp.MustCompile(`(?m)^Exec`).FindAllString(data, -1)); n != 1 {
				t.Errorf("%s has %d Exec lines, want only its ExecStart", unit, n)
			}
		}
	}
	// The trigger file must be one the sandboxed daemon can write: under its StateDirectory.
	state := regexp.MustCompile(`(?m)^StateDirectory=(\S+)$`).FindStringSubmatch(readUnit(t, "certferry.service"))
	watched := regexp.MustCompile(`(?m)^PathChanged=(\S+)$`).FindStringSubmatch(readUnit(t, "certferry-reload@.path"))
	if state == nil || watched == nil || filepath.Dir(watched[1]) != "/var/lib/"+state[1] {
		t.Errorf("certferry-reload@.path watches %v, which is not in the daemon's StateDirectory %v", watched, state)
	}
	// The exit code the unit refuses to restart on is the CLI's "bad configuration or
	// usage" (cmd/certferry exitUsage); a config error must end with it, not a restart.
	daemon := readUnit(t, "certferry.service")
	if strings.Contains(daemon, "DynamicUser=yes") {
		t.Error("certferry.service: DynamicUser=yes would put /var/lib/certferry under /var/lib/private and ignore the packages' certferry group")
	}
	if strings.Contains(daemon, "ExecStartPre=") {
		t.Error("certferry.service: an ExecStartPre failure is not covered by RestartPreventExitStatus= (only the main process is): let `run` validate")
	}
}

// TestUnitsVerify runs `systemd-analyze verify` on every shipped unit (offline: it checks
// the syntax, the directives' values and that the programs exist). The daemon's binary is
// not installed on the test machine, so a copy of its unit points at a stand-in; the
// templates are checked both as templates and as an instance (nginx).
func TestUnitsVerify(t *testing.T) {
	t.Parallel()
	bin := systemdAnalyze(t)
	dir := t.TempDir()
	stub := filepath.Join(dir, "certferry")
	if err := os.WriteFile(stub, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	units := map[string]string{
		"certferry.service":              strings.ReplaceAll(readUnit(t, "certferry.service"), "/usr/bin/certferry ", stub+" "),
		"certferry-reload@.path":         readUnit(t, "certferry-reload@.path"),
		"certferry-reload@.service":      readUnit(t, "certferry-reload@.service"),
		"certferry-reload@nginx.path":    readUnit(t, "certferry-reload@.path"),
		"certferry-reload@nginx.service": readUnit(t, "certferry-reload@.service"),
	}
	args := []string{"verify", "--man=no"}
	for name, data := range units {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		args = append(args, p)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}

func systemdAnalyze(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Fatal("systemd-analyze not found: install the Debian/Ubuntu package `systemd` (apt-get install -y systemd); .ci/run does")
	}
	return bin
}

func readUnit(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestStopFitsTimeoutStopSec: systemd kills certferry TimeoutStopSec after SIGTERM. A
// stopped pass's clean-up (the ACME client's, then the TXT records' under
// daemon.CleanupTimeout, which one-shot commands use too) must end before that, so a hung
// Route 53 at stop time ends in a clean exit, never in a kill in the middle of the
// clean-up. The daemon adds its wait for the pass (DefaultStopTimeout) and the HTTP
// server's shutdown. Every unit under deploy/ that runs certferry is checked: the daemon's
// against the daemon's bound, any other (a one-shot run, a timer's service) against the
// clean-up's; such a unit must set TimeoutStopSec (systemd's default, 90 s, does not fit).
func TestStopFitsTimeoutStopSec(t *testing.T) {
	t.Parallel()
	cleanup := acmeCleanupTimeout + daemon.CleanupTimeout
	if cleanup >= daemon.DefaultStopTimeout {
		t.Errorf("a stopped pass's clean-up may take %s (ACME %s + records %s), not less than the daemon's stop bound %s",
			cleanup, acmeCleanupTimeout, daemon.CleanupTimeout, daemon.DefaultStopTimeout)
	}
	units := certferryUnits(t)
	if _, ok := units["systemd/certferry.service"]; !ok {
		t.Fatalf("the daemon's unit is not among the units that run certferry: %v", units)
	}
	for name, cmd := range units {
		m := regexp.MustCompile(`(?m)^TimeoutStopSec=(\d+)$`).FindStringSubmatch(readUnit(t, filepath.Join("..", name)))
		if m == nil {
			t.Errorf("%s runs certferry %s and sets no TimeoutStopSec in seconds", name, cmd)
			continue
		}
		secs, _ := strconv.Atoi(m[1])
		stopTimeout := time.Duration(secs) * time.Second
		if cmd == "run" {
			if total := daemon.DefaultStopTimeout + daemon.HTTPShutdownTimeout; total >= stopTimeout {
				t.Errorf("%s: the daemon may take %s to stop (%s + HTTP %s), not less than TimeoutStopSec=%d", name, total, daemon.DefaultStopTimeout, daemon.HTTPShutdownTimeout, secs)
			}
			continue
		}
		if cleanup >= stopTimeout {
			t.Errorf("%s: certferry %s may take %s to clean up after SIGTERM (ACME %s + records %s), not less than TimeoutStopSec=%d",
				name, cmd, cleanup, acmeCleanupTimeout, daemon.CleanupTimeout, secs)
		}
	}
}

// certferryUnits maps each systemd unit under deploy/ (path relative to it) whose
// ExecStart runs certferry to the certferry command it runs.
func certferryUnits(t *testing.T) map[string]string {
	t.Helper()
	execStart := regexp.MustCompile(`(?m)^ExecStart=\S*/certferry(?:-as-daemon)?\s+(\S+)`)
	units := map[string]string{}
	err := filepath.WalkDir("..", func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".service") {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range execStart.FindAllStringSubmatch(string(b), -1) {
			rel, _ := filepath.Rel("..", path)
			units[filepath.ToSlash(rel)] = m[1]
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return units
}

// acmeCleanupTimeout is the ACME client's own clean-up bound, spent before the records'
// clean-up of a stopped pass.
const acmeCleanupTimeout = acme.AbandonTimeout
