package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/certferry/certferry/renew"
)

// The function publishes its metrics in CloudWatch's Embedded Metric Format (EMF): one
// JSON object a line on stdout, which Lambda sends to the function's log group, where
// CloudWatch Logs extracts the metrics named under "_aws". No PutMetricData call, so no
// IAM permission beyond writing logs. The README's "Monitoring" section describes them.
const (
	// EMFNamespace is the CloudWatch namespace of every metric the function publishes.
	EMFNamespace = "Certferry"
	// EMFDimension names the certificate in the per-certificate metrics.
	EMFDimension = "Certificate"

	// Per certificate (dimension Certificate, and rolled up with no dimension so one
	// alarm on the Minimum covers every certificate without naming them).
	MetricExpiry   = "ExpiryTimestamp" // not-after of the stored certificate, Unix seconds
	MetricDaysLeft = "DaysLeft"        // days until that not-after (negative: expired)
	MetricReady    = "Ready"           // 1 when a valid certificate is stored and nothing fails
	// Per pass (no dimension).
	MetricFailing      = "Failing"      // certificates failing or expired
	MetricCertificates = "Certificates" // certificates in the pass
)

type emfMetric struct {
	Name string `json:"Name"`
	Unit string `json:"Unit"`
}

type emfDirective struct {
	Namespace  string      `json:"Namespace"`
	Dimensions [][]string  `json:"Dimensions"`
	Metrics    []emfMetric `json:"Metrics"`
}

type emfMetadata struct {
	Timestamp         int64          `json:"Timestamp"` // milliseconds since the epoch
	CloudWatchMetrics []emfDirective `json:"CloudWatchMetrics"`
}

// writeEMF writes the pass's metric lines to w: one per certificate, then, when the pass
// covered every configured certificate (whole), one for the pass: a pass limited to
// some names must not report the others' failures as gone. at is the time the values
// are for (the end of the pass). Each line goes out in one Write so concurrent log lines
// cannot split it.
func writeEMF(w io.Writer, sum *renew.Summary, at time.Time, whole bool) error {
	ts := at.UnixMilli()
	for _, r := range sum.Results {
		line := map[string]any{EMFDimension: r.Name, "Condition": string(r.Condition)}
		ready := 0
		if r.Ready() == "True" {
			ready = 1
		}
		line[MetricReady] = ready
		metrics := []emfMetric{{MetricReady, "None"}}
		if !r.NotAfter.IsZero() {
			// Nothing stored yet: no expiry to report (an EMF line must carry every
			// metric it declares).
			line[MetricExpiry] = r.NotAfter.Unix()
			line[MetricDaysLeft] = math.Round(r.NotAfter.Sub(at).Hours()/24*100) / 100
			line["NotAfter"] = r.NotAfter.UTC().Format(time.RFC3339)
			metrics = []emfMetric{{MetricExpiry, "Seconds"}, {MetricDaysLeft, "None"}, {MetricReady, "None"}}
		}
		line["_aws"] = emfMetadata{Timestamp: ts, CloudWatchMetrics: []emfDirective{{
			Namespace: EMFNamespace, Dimensions: [][]string{{EMFDimension}, {}}, Metrics: metrics,
		}}}
		if err := writeLine(w, line); err != nil {
			return err
		}
	}
	if !whole {
		return nil
	}
	return writeLine(w, map[string]any{
		MetricFailing:      sum.Failing(),
		MetricCertificates: len(sum.Results),
		"_aws": emfMetadata{Timestamp: ts, CloudWatchMetrics: []emfDirective{{
			Namespace: EMFNamespace, Dimensions: [][]string{{}},
			Metrics: []emfMetric{{MetricFailing, "Count"}, {MetricCertificates, "Count"}},
		}}},
	})
}

func writeLine(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("certferry: encode metrics: %w", err)
	}
	if _, err := w.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("certferry: write metrics: %w", err)
	}
	return nil
}
