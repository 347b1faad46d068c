// Package prometheus holds certferry's Prometheus alerting rules (alerts.yaml) and their
// promtool unit tests (alerts_test.yaml); this test runs promtool on them and checks
// that every alert is documented, labelled and tested both ways.
package prometheus

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	yaml "go.yaml.in/yaml/v3"
)

// promtoolTimeout bounds one promtool run; both take a few seconds on a loaded machine.
const promtoolTimeout = 2 * time.Minute

func promtool(t *testing.T, args ...string) {
	t.Helper()
	bin, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not found: install the Debian/Ubuntu package `prometheus` (apt-get install -y --no-install-recommends prometheus); .ci/run does")
	}
	ctx, cancel := context.WithTimeout(t.Context(), promtoolTimeout)
	defer cancel()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("promtool %v: %v\n%s", args, err, out.String())
	}
}

func TestPromtoolCheckRules(t *testing.T) {
	t.Parallel()
	promtool(t, "check", "rules", "alerts.yaml")
}

func TestPromtoolTestRules(t *testing.T) {
	t.Parallel()
	promtool(t, "test", "rules", "alerts_test.yaml")
}

type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Expr        string            `yaml:"expr"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

type testFile struct {
	RuleFiles []string `yaml:"rule_files"`
	Tests     []struct {
		Name          string `yaml:"name"`
		AlertRuleTest []struct {
			Alertname string `yaml:"alertname"`
			ExpAlerts []struct {
				ExpAnnotations map[string]string `yaml:"exp_annotations"`
			} `yaml:"exp_alerts"`
		} `yaml:"alert_rule_test"`
	} `yaml:"tests"`
}

func decode(t *testing.T, name string, v any) {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

// TestAlertsDocumentedAndTested runs without promtool: every alert has a severity, a
// summary, a description and a runbook; alerts_test.yaml loads alerts.yaml, and for every
// alert it has a case where it fires (annotations checked) and one where it must not.
func TestAlertsDocumentedAndTested(t *testing.T) {
	t.Parallel()
	var rules ruleFile
	decode(t, "alerts.yaml", &rules)
	var tests testFile
	decode(t, "alerts_test.yaml", &tests)
	if !slices.Equal(tests.RuleFiles, []string{"alerts.yaml"}) {
		t.Errorf("alerts_test.yaml rule_files %v, want [alerts.yaml]", tests.RuleFiles)
	}
	fires, silent := map[string]bool{}, map[string]bool{}
	for _, tc := range tests.Tests {
		for _, a := range tc.AlertRuleTest {
			if len(a.ExpAlerts) == 0 {
				silent[a.Alertname] = true
			}
			for _, e := range a.ExpAlerts {
				if len(e.ExpAnnotations) > 0 {
					fires[a.Alertname] = true
				}
			}
		}
	}
	var names []string
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				t.Errorf("group %s: a rule without alert: (recording rules belong elsewhere): %s", g.Name, r.Expr)
				continue
			}
			names = append(names, r.Alert)
			if s := r.Labels["severity"]; s != "critical" && s != "warning" {
				t.Errorf("%s: severity %q, want critical or warning", r.Alert, s)
			}
			for _, k := range []string{"summary", "description", "runbook"} {
				if r.Annotations[k] == "" {
					t.Errorf("%s: no %s annotation", r.Alert, k)
				}
			}
			if !fires[r.Alert] {
				t.Errorf("%s: alerts_test.yaml has no case where it fires (with its annotations)", r.Alert)
			}
			if !silent[r.Alert] {
				t.Errorf("%s: alerts_test.yaml has no case where it must not fire", r.Alert)
			}
		}
	}
	for a := range fires {
		if !slices.Contains(names, a) {
			t.Errorf("alerts_test.yaml tests %s, which alerts.yaml does not define", a)
		}
	}
	want := []string{"CertferryCertificateExpiringSoon", "CertferryCertificateFailing", "CertferryRenewalOverdue",
		"CertferryNoSuccessfulPass", "CertferryHookFailing"}
	for _, w := range want {
		if !slices.Contains(names, w) {
			t.Errorf("alert %s is missing (the README's Monitoring section lists it)", w)
		}
	}
}

// TestAlertsReadExportedMetrics: every certferry_ series an alert reads is one the
// metrics package registers (an alert on a renamed metric never fires), and the README
// lists every alert.
func TestAlertsReadExportedMetrics(t *testing.T) {
	t.Parallel()
	var rules ruleFile
	decode(t, "alerts.yaml", &rules)
	files, err := filepath.Glob("../../metrics/*.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("metrics package sources: %v", err)
	}
	var code strings.Builder
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		code.Write(b)
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	series := regexp.MustCompile(`certferry_[a-z_]+`)
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			seen := map[string]bool{}
			for _, name := range series.FindAllString(r.Expr, -1) {
				if !seen[name] && !strings.Contains(code.String(), `Name: "`+name+`"`) {
					t.Errorf("%s reads %s, which the metrics package does not register", r.Alert, name)
				}
				seen[name] = true
			}
			if !bytes.Contains(readme, []byte("`"+r.Alert+"`")) {
				t.Errorf("README.md does not list the alert %s", r.Alert)
			}
		}
	}
}
