// Package systemd holds certferry's systemd unit; its test keeps the unit's sandboxing
// from regressing.
package systemd

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// maxExposure is the highest "Overall exposure level" systemd-analyze may report.
const maxExposure = 2.0

// TestUnitSecurity runs `systemd-analyze security --offline` on certferry.service.
func TestUnitSecurity(t *testing.T) {
	t.Parallel()
	bin, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Fatal("systemd-analyze not found: install the Debian/Ubuntu package `systemd` (apt-get install -y systemd); .ci/run does")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
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

// TestUnitDirectives checks what the daemon relies on: sd_notify, the watchdog, reload
// by SIGHUP and a stop timeout longer than the daemon's own 2-minute bound.
func TestUnitDirectives(t *testing.T) {
	t.Parallel()
	data, err := readUnit()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"Type=notify", "WatchdogSec=", "ExecReload=/bin/kill -HUP $MAINPID", "Restart=on-failure",
		"TimeoutStopSec=150", "DynamicUser=yes", "ProtectSystem=strict", "CapabilityBoundingSet=\n",
		"RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX", "SystemCallFilter=@system-service",
		"ExecStart=/usr/local/bin/certferry run --config /etc/certferry/certferry.yaml",
	} {
		if !strings.Contains(data, want) {
			t.Errorf("certferry.service lacks %q", want)
		}
	}
}

func readUnit() (string, error) {
	b, err := os.ReadFile("certferry.service")
	return string(b), err
}
