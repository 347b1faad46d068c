package main

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/certferry/certferry/renew"
)

// TestConfigPathOrder: --config, else $CERTFERRY_CONFIG, else ./certferry.yaml, else the
// packages' /etc/certferry/config.yaml; with none, ./certferry.yaml (whose absence the
// load error explains).
func TestConfigPathOrder(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		env   string
		files []string
		want  string
	}{
		{"/srv/c.yaml", []string{"certferry.yaml", systemConfig}, "/srv/c.yaml"},
		{"", []string{"certferry.yaml", systemConfig}, "certferry.yaml"},
		{"", []string{systemConfig}, systemConfig},
		{"", nil, "certferry.yaml"},
	} {
		got := configPathFrom(tc.env, func(p string) bool { return slices.Contains(tc.files, p) })
		if got != tc.want {
			t.Errorf("env %q, files %q: %q, want %q", tc.env, tc.files, got, tc.want)
		}
	}
	_, _, errOut := cli(t, "status", "--config", t.TempDir()+"/none.yaml")
	if !strings.Contains(errOut, "set CERTFERRY_CONFIG") || !strings.Contains(errOut, systemConfig) {
		t.Errorf("a missing configuration says where it was looked for: %s", errOut)
	}
}

// TestConfigPathDocumented: the order is told the same in the usage, in --config's
// help and in the README.
func TestConfigPathDocumented(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	flat := func(s string) string { return strings.Join(strings.Fields(s), " ") }
	for where, text := range map[string]string{
		"the usage":      flat(usage),
		"--config -h":    flat(configHelp),
		"README.md":      strings.ReplaceAll(flat(string(readme)), "`", ""),
		"the README too": flat(string(readme)),
	} {
		want := "$CERTFERRY_CONFIG, else ./certferry.yaml, else /etc/certferry/config.yaml"
		if where == "the README too" {
			want = "`--config`, else `$CERTFERRY_CONFIG`, else `./certferry.yaml`, else `/etc/certferry/config.yaml`"
		}
		if !strings.Contains(text, want) {
			t.Errorf("%s does not say %q", where, want)
		}
	}
}

// TestUsageMatchesCommands: each command's line in the top-level usage lists exactly the
// flags of the command's own synopsis ("Usage:" of -h), --config and the logging flags
// aside (told once below the list), and every command's -h has a description.
func TestUsageMatchesCommands(t *testing.T) {
	t.Parallel()
	flagsOf := func(s string) []string {
		var out []string
		for _, m := range flagRE.FindAllStringSubmatch(s, -1) {
			if f := m[1]; f != "config" && f != "log-level" && f != "log-format" && !slices.Contains(out, f) {
				out = append(out, f)
			}
		}
		slices.Sort(out)
		return out
	}
	top := map[string]string{}
	for _, l := range strings.Split(usage, "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "certferry" && strings.HasPrefix(l, "  ") {
			top[f[1]] = l
		}
	}
	for cmd, h := range helpOf(t) {
		if cmd == "version" {
			continue
		}
		syn, rest, _ := strings.Cut(h, "\n")
		if !strings.HasPrefix(syn, "Usage: certferry "+cmd) {
			t.Errorf("certferry %s -h starts %q", cmd, syn)
			continue
		}
		if got, want := flagsOf(top[cmd]), flagsOf(syn); !slices.Equal(got, want) {
			t.Errorf("usage: certferry %s lists %q; its -h synopsis %q", cmd, got, want)
		}
		desc, _, _ := strings.Cut(rest, "\nFlags:\n")
		if len(strings.Fields(desc)) < 8 {
			t.Errorf("certferry %s -h has no description: %q", cmd, desc)
		}
	}
}

// TestDefaultScheduleToldOnce: the default schedule is one sentence, the same in the
// README, config.example.yaml, the installed configuration and run -h; nothing says
// otherwise (a random minute, the host name alone).
func TestDefaultScheduleToldOnce(t *testing.T) {
	t.Parallel()
	const told = "twice a day, at a minute and hour derived from this machine's ID (/etc/machine-id, else the host name), so hosts spread over the day"
	_, _, runHelp := cli(t, "run", "-h")
	texts := map[string]string{"certferry run -h": runHelp}
	for _, f := range []string{"README.md", "config.example.yaml", "deploy/package/config.yaml"} {
		b, err := os.ReadFile("../../" + f)
		if err != nil {
			t.Fatal(err)
		}
		texts[f] = string(b)
	}
	for where, text := range texts {
		flat := strings.Join(strings.Fields(strings.NewReplacer("#", " ", "`", "").Replace(text)), " ")
		if !strings.Contains(flat, told) {
			t.Errorf("%s does not say the default schedule is %q", where, told)
		}
		if m := regexp.MustCompile(`(?i)random minute|minute chosen at random|derived from the host name`).FindString(flat); m != "" {
			t.Errorf("%s says the default schedule is %q", where, m)
		}
	}
}

// TestRenewArgumentSuggestsOnly: a certificate's name given as an argument is an error
// that says how to write it.
func TestRenewArgumentSuggestsOnly(t *testing.T) {
	t.Parallel()
	code, _, errOut := cli(t, "renew", "web")
	if code != exitUsage || !strings.Contains(errOut, `unexpected argument "web": to renew one certificate, write --only web`) {
		t.Errorf("renew web: exit %d, %s", code, errOut)
	}
}

// TestTablesBoundErrors: a long error does not widen the RESULT and LAST ERROR columns
// past maxCell; the JSON keeps it whole.
func TestTablesBoundErrors(t *testing.T) {
	t.Parallel()
	long := "route53: no hosted zone contains the name (" + strings.Repeat("x", 300) + ")"
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	sum := &renew.Summary{Results: []*renew.Result{{Name: "web", Action: renew.ActionRenew, Reason: "ari-window", Condition: renew.ConditionFailing,
		Error: long, LastError: long, Attempts: 1, FailingSince: now, NextAttempt: now.Add(time.Minute)}}}
	var b strings.Builder
	printSummary(&b, sum)
	rep := statusReport(sum, now)
	printStatus(&b, rep, false)
	for _, l := range strings.Split(b.String(), "\n") {
		if len(l) > 250 {
			t.Errorf("a line of %d characters: %s", len(l), l)
		}
	}
	if !strings.Contains(b.String(), "--output json prints them whole") || rep.Certificates[0].LastError != long {
		t.Errorf("the tables should say where the whole error is, the JSON hold it:\n%s", b.String())
	}
}

// TestSummaryShowsAMove: a certificate moved from the secret it was renamed from says so
// in the RESULT column and counts as renewed (stored), as metrics and the daemon count it.
func TestSummaryShowsAMove(t *testing.T) {
	t.Parallel()
	sum := &renew.Summary{Results: []*renew.Result{{Name: "web", Action: renew.ActionMove, Reason: "moved", Condition: renew.ConditionReady,
		Message: "moved from secret certferry/old"}}}
	var b strings.Builder
	printSummary(&b, sum)
	if out := b.String(); !strings.Contains(out, "moved from secret certferry/old") || !strings.Contains(out, "1 renewed") {
		t.Errorf("summary:\n%s", out)
	}
}
