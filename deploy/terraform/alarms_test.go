package terraform

import (
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// src is an attribute's expression as written ("" when absent).
func src(body *hclsyntax.Body, file []byte, name string) string {
	a, ok := body.Attributes[name]
	if !ok {
		return ""
	}
	return strings.TrimSpace(string(a.Expr.Range().SliceBytes(file)))
}

// emfNames reads the namespace and metric names the function prints, from its source:
// the alarms must watch exactly what it publishes.
func emfNames(t *testing.T) map[string]string {
	t.Helper()
	code := string(mustRead(t, "../../cmd/certferry-lambda/emf.go"))
	names := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^\s*(EMFNamespace|Metric[A-Za-z]+)\s*=\s*"([^"]+)"`).FindAllStringSubmatch(code, -1) {
		names[m[1]] = m[2]
	}
	for _, k := range []string{"EMFNamespace", "MetricDaysLeft", "MetricFailing", "MetricCertificates"} {
		if names[k] == "" {
			t.Fatalf("cmd/certferry-lambda/emf.go defines no %s", k)
		}
	}
	return names
}

// TestAlarms: the alarms on the function's EMF metrics watch the namespace and metrics
// it prints, with the statistic and comparison that make them fire, keep their state
// between daily runs, and notify the optional SNS topic.
func TestAlarms(t *testing.T) {
	t.Parallel()
	names := emfNames(t)
	body, file := parse(t, "alarms.tf")
	locals := block(t, body, "locals").Body
	if got := str(locals, "metrics_namespace"); got != names["EMFNamespace"] {
		t.Errorf("local.metrics_namespace %q, the function prints namespace %q", got, names["EMFNamespace"])
	}
	if got := src(locals, file, "alarm_actions"); !strings.Contains(got, "var.alarm_sns_topic_arn == null ? [] : [var.alarm_sns_topic_arn]") {
		t.Errorf("local.alarm_actions = %s, want the optional topic", got)
	}
	for _, tc := range []struct {
		name, metric, statistic, comparison, threshold, missing string
	}{
		{"expiring", names["MetricDaysLeft"], "Minimum", "LessThanThreshold", "var.expiry_alarm_days", "ignore"},
		{"failing", names["MetricFailing"], "Maximum", "GreaterThanThreshold", "0", "ignore"},
		{"no_pass", names["MetricCertificates"], "SampleCount", "LessThanThreshold", "1", "breaching"},
	} {
		a := block(t, body, "resource", "aws_cloudwatch_metric_alarm", tc.name).Body
		for attr, want := range map[string]string{
			"namespace": "local.metrics_namespace", "metric_name": `"` + tc.metric + `"`, "statistic": `"` + tc.statistic + `"`,
			"comparison_operator": `"` + tc.comparison + `"`, "threshold": tc.threshold, "treat_missing_data": `"` + tc.missing + `"`,
			"alarm_actions": "local.alarm_actions", "ok_actions": "local.alarm_actions", "tags": "var.tags",
		} {
			if got := src(a, file, attr); got != want {
				t.Errorf("alarm %s: %s = %s, want %s", tc.name, attr, got, want)
			}
		}
		if _, ok := a.Attributes["dimensions"]; ok {
			t.Errorf("alarm %s has dimensions: the function publishes %s with none as well, so one alarm covers every certificate", tc.name, tc.metric)
		}
		if !strings.Contains(src(a, file, "alarm_name"), "${var.function_name}-") {
			t.Errorf("alarm %s: name not derived from var.function_name", tc.name)
		}
		if len(src(a, file, "alarm_description")) < 80 {
			t.Errorf("alarm %s: the description must say what to look at", tc.name)
		}
		block(t, body, "output", map[string]string{"expiring": "expiry_alarm_arn", "failing": "failing_alarm_arn", "no_pass": "no_pass_alarm_arn"}[tc.name])
	}
	np := block(t, body, "resource", "aws_cloudwatch_metric_alarm", "no_pass").Body
	if src(np, file, "evaluation_periods") != "var.no_pass_alarm_hours" || src(np, file, "datapoints_to_alarm") != "var.no_pass_alarm_hours" || src(np, file, "period") != "3600" {
		t.Error("alarm no_pass must need every hour of no_pass_alarm_hours without a pass")
	}
	for name, def := range map[string]string{"expiry_alarm_days": "7", "no_pass_alarm_hours": "36"} {
		v := block(t, body, "variable", name).Body
		if got := src(v, file, "default"); got != def {
			t.Errorf("variable %s default %s, want %s", name, got, def)
		}
		block(t, v, "validation")
	}

	// The function's own Errors alarm keeps its state between runs too: every run fails
	// while a certificate is failing, and a day without runs must not clear it.
	mainBody, mainFile := parse(t, "main.tf")
	errs := block(t, mainBody, "resource", "aws_cloudwatch_metric_alarm", "errors").Body
	if got := src(errs, mainFile, "treat_missing_data"); got != `"ignore"` {
		t.Errorf("Errors alarm treat_missing_data %s, want \"ignore\"", got)
	}

	// The example wires the topic and the alarm settings.
	ex, exFile := parse(t, "examples/basic/main.tf")
	mod := block(t, ex, "module", "certferry").Body
	for _, attr := range []string{"alarm_sns_topic_arn", "expiry_alarm_days", "no_pass_alarm_hours"} {
		if src(mod, exFile, attr) == "" {
			t.Errorf("examples/basic does not set %s", attr)
		}
	}
}
