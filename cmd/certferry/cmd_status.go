package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/certferry/certferry/internal/app"
	"github.com/certferry/certferry/internal/logging"
	"github.com/certferry/certferry/renew"
)

// cmdStatus prints what is stored and when each certificate renews. It reads the
// secrets' tags only (one ListSecrets page per 100 certificates) and writes nothing.
func cmdStatus(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("status", "[--config F] [--json] [--log-level L] [--log-format F]", stderr)
	cfgPath := fs.String("config", defaultConfigPath(), "configuration file")
	jsonOut := fs.Bool("json", false, "print JSON instead of a table")
	logs := logging.AddFlags(fs, "warn")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		fmt.Fprintf(stderr, "certferry status: %v\n", err)
		return exitUsage
	}
	log, err := logs.Logger(stderr, &cfg.Log)
	if err != nil {
		fmt.Fprintf(stderr, "certferry status: %v\n", err)
		return exitUsage
	}
	a, err := app.New(ctx, cfg, log, app.Options{Version: version})
	if err != nil {
		fmt.Fprintf(stderr, "certferry status: %v\n", err)
		return exitUsage
	}
	sum, err := a.Runner.Pass(ctx, renew.Options{DryRun: true})
	if err != nil {
		fmt.Fprintf(stderr, "certferry status: %v\n", err)
		return exitUnknown
	}
	if *jsonOut {
		type row struct {
			Name        string    `json:"name"`
			Domains     []string  `json:"domains"`
			NotAfter    time.Time `json:"not_after,omitzero"`
			DaysLeft    *float64  `json:"days_left,omitempty"`
			NextRenewal time.Time `json:"next_renewal,omitzero"`
			Due         bool      `json:"due"`
			Reason      string    `json:"reason"`
			LastError   string    `json:"last_error,omitempty"`
		}
		var rows []row
		for _, r := range sum.Results {
			x := row{Name: r.Name, Domains: r.Domains, NotAfter: r.NotAfter, NextRenewal: r.DueAt, Due: r.Action == renew.ActionPlan, Reason: string(r.Reason), LastError: r.LastError}
			if !r.NotAfter.IsZero() {
				d := time.Until(r.NotAfter).Hours() / 24
				x.DaysLeft = &d
			}
			rows = append(rows, x)
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(rows)
		return exitOK
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tNAMES\tNOT AFTER\tDAYS LEFT\tNEXT RENEWAL\tLAST ERROR")
	for _, r := range sum.Results {
		na, left, next := "-", "-", "-"
		if !r.NotAfter.IsZero() {
			na = r.NotAfter.UTC().Format("2006-01-02 15:04")
			left = fmt.Sprintf("%.1f", time.Until(r.NotAfter).Hours()/24)
		}
		switch {
		case r.Action == renew.ActionPlan:
			next = "now (" + string(r.Reason) + ")"
		case !r.DueAt.IsZero():
			next = r.DueAt.UTC().Format("2006-01-02 15:04")
		}
		lastErr := r.LastError
		if lastErr == "" {
			lastErr = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Name, strings.Join(r.Domains, ","), na, left, next, lastErr)
	}
	_ = tw.Flush()
	return exitOK
}
