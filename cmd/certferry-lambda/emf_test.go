package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/certferry/certferry/renew"
)

// emfLine is one decoded EMF line: its timestamp, the dimension sets and units of its
// directive, and the root members.
type emfLine struct {
	Timestamp  time.Time
	Dimensions [][]string
	Units      map[string]string // metric name -> unit
	Root       map[string]any
}

func (l emfLine) num(t *testing.T, name string) float64 {
	t.Helper()
	v, ok := l.Root[name].(float64)
	if !ok {
		t.Fatalf("EMF line has no number %s: %v", name, l.Root)
	}
	return v
}

// emfUnits are the units CloudWatch accepts.
var emfUnits = map[string]bool{"Seconds": true, "Microseconds": true, "Milliseconds": true, "Bytes": true, "Kilobytes": true,
	"Megabytes": true, "Gigabytes": true, "Terabytes": true, "Bits": true, "Kilobits": true, "Megabits": true, "Gigabits": true,
	"Terabits": true, "Percent": true, "Count": true, "Bytes/Second": true, "Kilobytes/Second": true, "Megabytes/Second": true,
	"Gigabytes/Second": true, "Terabytes/Second": true, "Bits/Second": true, "Kilobits/Second": true, "Megabits/Second": true,
	"Gigabits/Second": true, "Terabits/Second": true, "Count/Second": true, "None": true}

// parseEMF finds the EMF lines (JSON objects with an "_aws" member) in out and checks
// each against the format's rules: CloudWatch Logs drops a line that breaks one, with no
// error anywhere the function can see.
func parseEMF(t *testing.T, out string) []emfLine {
	t.Helper()
	var lines []emfLine
	for _, s := range strings.Split(out, "\n") {
		s = strings.TrimSpace(s)
		if !strings.HasPrefix(s, "{") || !strings.Contains(s, `"_aws"`) {
			continue
		}
		if err := func() error {
			var root map[string]any
			if err := json.Unmarshal([]byte(s), &root); err != nil {
				return err
			}
			var meta struct {
				AWS *struct {
					Timestamp         *int64 `json:"Timestamp"`
					CloudWatchMetrics []struct {
						Namespace  string      `json:"Namespace"`
						Dimensions [][]string  `json:"Dimensions"`
						Metrics    []emfMetric `json:"Metrics"`
					} `json:"CloudWatchMetrics"`
				} `json:"_aws"`
			}
			if err := json.Unmarshal([]byte(s), &meta); err != nil {
				return err
			}
			a := meta.AWS
			if a == nil || a.Timestamp == nil || len(a.CloudWatchMetrics) != 1 {
				return errors.New("want _aws with a Timestamp and one CloudWatchMetrics directive")
			}
			d := a.CloudWatchMetrics[0]
			l := emfLine{Timestamp: time.UnixMilli(*a.Timestamp), Dimensions: d.Dimensions, Units: map[string]string{}, Root: root}
			if d.Namespace != EMFNamespace {
				return fmt.Errorf("namespace %q", d.Namespace)
			}
			if len(d.Dimensions) == 0 {
				return errors.New("no dimension set")
			}
			for _, set := range d.Dimensions {
				for _, k := range set {
					if v, ok := root[k].(string); !ok || v == "" {
						return fmt.Errorf("dimension %s has no string value in the root", k)
					}
				}
			}
			if len(d.Metrics) == 0 || len(d.Metrics) > 100 {
				return fmt.Errorf("%d metrics", len(d.Metrics))
			}
			for _, m := range d.Metrics {
				if _, ok := root[m.Name].(float64); !ok {
					return fmt.Errorf("metric %s has no number in the root", m.Name)
				}
				if !emfUnits[m.Unit] {
					return fmt.Errorf("metric %s: unit %q", m.Name, m.Unit)
				}
				l.Units[m.Name] = m.Unit
			}
			lines = append(lines, l)
			return nil
		}(); err != nil {
			t.Errorf("bad EMF line: %v: %s", err, s)
		}
	}
	return lines
}

// emfByCertificate splits lines into per-certificate lines (by name) and pass lines.
func emfByCertificate(t *testing.T, lines []emfLine) (map[string]emfLine, []emfLine) {
	t.Helper()
	certs := map[string]emfLine{}
	var passes []emfLine
	for _, l := range lines {
		name, ok := l.Root[EMFDimension].(string)
		if !ok {
			passes = append(passes, l)
			continue
		}
		if !slices.EqualFunc(l.Dimensions, [][]string{{EMFDimension}, {}}, slices.Equal) {
			t.Errorf("%s: dimensions %v, want [[Certificate] []]", name, l.Dimensions)
		}
		certs[name] = l
	}
	return certs, passes
}

func result(name string, cond renew.Condition, notAfter time.Time) *renew.Result {
	r := &renew.Result{Name: name, NotAfter: notAfter}
	r.Condition = cond
	return r
}

func TestWriteEMF(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	web := result("web", renew.ConditionReady, at.Add(60*24*time.Hour))
	due := result("due", renew.ConditionDue, at.Add(20*24*time.Hour+12*time.Hour))
	lost := result("lost", renew.ConditionFailing, time.Time{})
	lost.Attempts, lost.LastError = 2, "route53: no hosted zone for www.example.net"
	old := result("old", renew.ConditionExpired, at.Add(-36*time.Hour))
	sum := &renew.Summary{Started: at.Add(-time.Minute), Duration: time.Minute, Results: []*renew.Result{web, due, lost, old}}

	var buf bytes.Buffer
	if err := writeEMF(&buf, sum, at, true); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(buf.String(), "\n"); n != 5 {
		t.Fatalf("want 5 lines (4 certificates, 1 pass), got %d:\n%s", n, buf.String())
	}
	certs, passes := emfByCertificate(t, parseEMF(t, buf.String()))
	for name, want := range map[string]struct {
		ready    float64
		daysLeft float64
	}{
		"web":  {1, 60},
		"due":  {1, 20.5},
		"lost": {0, 0}, // nothing stored: no expiry metrics
		"old":  {0, -1.5},
	} {
		l, ok := certs[name]
		if !ok {
			t.Errorf("no EMF line for %s", name)
			continue
		}
		if !l.Timestamp.Equal(at) {
			t.Errorf("%s: timestamp %s, want %s", name, l.Timestamp, at)
		}
		if got := l.num(t, MetricReady); got != want.ready {
			t.Errorf("%s: Ready %v, want %v", name, got, want.ready)
		}
		if name == "lost" {
			// Nothing stored: no expiry is declared, so none is published as 0.
			if _, ok := l.Units[MetricDaysLeft]; ok {
				t.Errorf("lost: DaysLeft declared for a certificate never stored: %v", l.Root)
			}
			continue
		}
		if got := l.num(t, MetricDaysLeft); got != want.daysLeft {
			t.Errorf("%s: DaysLeft %v, want %v", name, got, want.daysLeft)
		}
		if l.Units[MetricExpiry] != "Seconds" || l.num(t, MetricExpiry) != float64(certsNotAfter(sum, name).Unix()) {
			t.Errorf("%s: ExpiryTimestamp %v (%s)", name, l.Root[MetricExpiry], l.Units[MetricExpiry])
		}
	}
	if len(passes) != 1 {
		t.Fatalf("want one pass line, got %d", len(passes))
	}
	p := passes[0]
	if !slices.EqualFunc(p.Dimensions, [][]string{{}}, slices.Equal) {
		t.Errorf("pass line dimensions %v, want [[]] (none)", p.Dimensions)
	}
	if p.num(t, MetricFailing) != 2 || p.num(t, MetricCertificates) != 4 || p.Units[MetricFailing] != "Count" {
		t.Errorf("pass line %v, want Failing 2 of 4 Certificates", p.Root)
	}
}

func certsNotAfter(sum *renew.Summary, name string) time.Time {
	for _, r := range sum.Results {
		if r.Name == name {
			return r.NotAfter
		}
	}
	return time.Time{}
}

// TestWriteEMFEmptyPass: a pass over no certificate (every name filtered out) still says
// that nothing is failing.
func TestWriteEMFEmptyPass(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	if err := writeEMF(&buf, &renew.Summary{}, time.Unix(1700000000, 0), true); err != nil {
		t.Fatal(err)
	}
	certs, passes := emfByCertificate(t, parseEMF(t, buf.String()))
	if len(certs) != 0 || len(passes) != 1 || passes[0].num(t, MetricFailing) != 0 {
		t.Errorf("got %s", buf.String())
	}
}

// TestWriteEMFPartialPass: a pass limited to some certificates ("only") reports those,
// and no pass-wide Failing count that would clear the alarm of a failing one left out.
func TestWriteEMFPartialPass(t *testing.T) {
	t.Parallel()
	at := time.Unix(1700000000, 0)
	var buf bytes.Buffer
	sum := &renew.Summary{Results: []*renew.Result{result("web", renew.ConditionReady, at.Add(24*time.Hour))}}
	if err := writeEMF(&buf, sum, at, false); err != nil {
		t.Fatal(err)
	}
	certs, passes := emfByCertificate(t, parseEMF(t, buf.String()))
	if len(certs) != 1 || len(passes) != 0 {
		t.Errorf("want web's line and no pass line, got %s", buf.String())
	}
}

func TestPassFailed(t *testing.T) {
	t.Parallel()
	next := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	web := result("web", renew.ConditionReady, next.Add(60*24*time.Hour))
	lost := result("lost", renew.ConditionFailing, time.Time{})
	lost.Attempts, lost.NextAttempt, lost.LastError = 3, next, "route53: no hosted zone for www.example.net"
	old := result("old", renew.ConditionExpired, time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC))
	hook := result("hook", renew.ConditionReady, next.Add(80*24*time.Hour)) // a hook failure counts whatever the condition says
	hook.HookError = "exec /usr/local/bin/reload: exit status 1"

	if pf := passFailed(&renew.Summary{Results: []*renew.Result{web}}); pf != nil {
		t.Errorf("nothing failing, got %v", pf)
	}
	pf := passFailed(&renew.Summary{Results: []*renew.Result{web, lost, old, hook}})
	if pf == nil {
		t.Fatal("want a PassFailedError while certificates are failing or expired")
	}
	want := "certferry: 3 of 4 certificate(s) failing: lost, old, hook (" +
		"lost: route53: no hosted zone for www.example.net [3 failed attempt(s), next at 2026-12-01T10:00:00Z]; " +
		"old: expired 2026-11-30T00:00:00Z; " +
		"hook: hook failed: exec /usr/local/bin/reload: exit status 1)"
	if pf.Error() != want {
		t.Errorf("got  %s\nwant %s", pf.Error(), want)
	}
}
