package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/certferry/certferry/config"
	"github.com/certferry/certferry/internal/app"
	"github.com/certferry/certferry/internal/logging"
	"github.com/certferry/certferry/renew"
)

func cmdRenew(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("renew", "[--config F] [--only NAME]... [--force] [--dry-run] [--log-level L] [--log-format F]", stderr)
	cfgPath := fs.String("config", defaultConfigPath(), "configuration file")
	var only stringList
	fs.Var(&only, "only", "renew only this certificate (repeatable)")
	force := fs.Bool("force", false, "renew even when not due; overrides backoff and the issuance guard")
	dryRun := fs.Bool("dry-run", false, "print the plan with reasons; place no order, write nothing")
	logs := logging.AddFlags(fs, "")
	jsonOut := fs.Bool("json", false, "print the summary as JSON")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "certferry renew: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		fmt.Fprintf(stderr, "certferry renew: %v\n", err)
		return exitUsage
	}
	sum, code := renewOnce(ctx, cfg, renew.Options{Force: *force, Only: only, DryRun: *dryRun}, logs, stderr, nil)
	if sum != nil {
		if *jsonOut {
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			_ = enc.Encode(sum)
		} else {
			printSummary(stdout, sum)
		}
	}
	return code
}

// renewOnce runs one pass with cfg and returns its summary and exit code.
func renewOnce(ctx context.Context, cfg *config.Config, opts renew.Options, logs *logging.Flags, stderr io.Writer, awsOverride *aws.Config) (*renew.Summary, int) {
	log, err := logs.Logger(stderr, &cfg.Log)
	if err != nil {
		fmt.Fprintf(stderr, "certferry: %v\n", err)
		return nil, exitUsage
	}
	defer func() { _ = log.Sync() }()
	for _, w := range cfg.Warnings {
		log.Warn(w)
	}
	a, err := app.New(ctx, cfg, log, app.Options{AWS: awsOverride, Version: version, HookEnv: hookEnv()})
	if err != nil {
		fmt.Fprintf(stderr, "certferry: %v\n", err)
		return nil, exitUsage
	}
	sum, err := a.Runner.Pass(ctx, opts)
	if err != nil {
		fmt.Fprintf(stderr, "certferry: %v\n", err)
		if strings.Contains(err.Error(), "--only") {
			return nil, exitUsage
		}
		return nil, exitUnknown
	}
	if sum.Failed() > 0 || sum.HookFailures() > 0 {
		return sum, exitFailed
	}
	if errors.Is(context.Cause(ctx), context.Canceled) {
		return sum, exitFailed
	}
	return sum, exitOK
}

// printSummary prints the pass as a table: name, action, reason, result, not after,
// duration.
func printSummary(w io.Writer, s *renew.Summary) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tACTION\tREASON\tRESULT\tNOT AFTER\tDURATION")
	for _, r := range s.Results {
		result := "ok"
		if r.Error != "" {
			result = "FAILED: " + firstLine(r.Error)
		} else if r.HookError != "" {
			result = "stored; HOOK FAILED (retried next pass): " + firstLine(r.HookError)
		} else if r.Action == renew.ActionSkip || r.Action == renew.ActionPlan {
			result = "-"
		}
		na := "-"
		if !r.NotAfter.IsZero() {
			na = r.NotAfter.UTC().Format("2006-01-02 15:04 MST")
		}
		dur := "-"
		if r.Duration > 0 {
			dur = r.Duration.Round(10 * time.Millisecond).String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Name, r.Action, r.Reason, result, na, dur)
	}
	_ = tw.Flush()
	verb := "pass"
	if s.DryRun {
		verb = "dry run (no order placed, nothing written)"
	}
	fmt.Fprintf(w, "%s: %d certificate(s), %d failed, %s\n", verb, len(s.Results), s.Failed(), s.Duration.Round(10*time.Millisecond))
	if s.DryRun {
		for _, r := range s.Results {
			if r.Message != "" {
				fmt.Fprintf(w, "  %s: %s\n", r.Name, r.Message)
			}
		}
	}
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " ..."
	}
	return s
}
