package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestPrint(t *testing.T) {
	t.Parallel()
	r53 := map[string]int{"ChangeResourceRecordSets": 4, "GetChange": 9}
	rows := []row{
		{Scenario: "N=1", Tool: "certferry", Tuning: "defaults", Certs: 1, Zones: 1, WallS: 5.5, Route53: map[string]int{"ChangeResourceRecordSets": 2}, ACME: map[string]int{"NewNonce": 1}},
		{Scenario: "N=100", Tool: "certferry", Tuning: "defaults", Certs: 100, Zones: 2, WallS: 8.5, Route53: r53, PeakRSSMB: 30},
		{Scenario: "N=100", Tool: "certferry", Tuning: "previous", Certs: 100, Zones: 2, WallS: 18, Route53: r53},
		{Scenario: "N=1", Tool: "certbot", Certs: 1, WallS: 9.5},
		{Scenario: "N=100", Tool: "certbot", Certs: 100, WallS: 950, Estimated: true},
		{Scenario: "N=100", Tool: "lego", Certs: 100, WallS: 1400, Estimated: true},
		{Scenario: "daemon-idle", Tool: "certferry", Tuning: "defaults", Certs: 100, WallS: 0.1, IdleRSSMB: 26},
		{Scenario: "lambda-cold", Tool: "certferry", Tuning: "defaults", WallS: 0.15, WarmS: 0.01},
	}
	var b bytes.Buffer
	ok := print(&b, rows)
	out := b.String()
	for _, want := range []string{
		"met     one certificate no slower than certbot: 5.50s vs certbot 9.50s",
		"MISSED  100 certificates <= 1.5x the wall time of 1: 8.50s vs 5.50s = 1.55x",
		"met     <= 2 ChangeResourceRecordSets per zone per pass (N=100): 4 over 2 zones",
		"MISSED  idle daemon RSS <= 25 MB: 26.0 MB",
		"~950.0s (est.)", "~111.8x", // certbot N=100 extrapolated, and its ratio
		"daemon idle RSS (100 certs stored)", "first invoke 0.15s (warm invoke 0.01s)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if ok {
		t.Error("print reported every target met")
	}
}
