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
	fs := newFlagSet("renew", "[--config F] [--only NAME]... [--force] [--plan] [--log-level L] [--log-format F]", stderr)
	fs.Usage = usageWith(fs, stderr, "renew", "[--config F] [--only NAME]... [--force] [--plan] [--log-level L] [--log-format F]",
		`One pass: renews what is due, stores it, runs the hooks, removes the DNS-01 records, then exits.

Exit codes:
  0  every certificate is ready (or merely due and not attempted)
  1  a certificate is failing or expired: this pass failed it, or an earlier pass did and
     it waits in backoff, or an on_renew hook failed
  2  bad configuration or usage
  3  the pass could not run (no AWS credentials or region, inventory unreadable)`)
	cfgPath := fs.String("config", defaultConfigPath(), "configuration file")
	var only stringList
	fs.Var(&only, "only", "renew only this certificate (repeatable)")
	force := fs.Bool("force", false, "renew even when not due; overrides backoff and the issuance guard")
	plan := fs.Bool("plan", false, "print what is due and why; place no order, write nothing, run no hook")
	dryRun := fs.Bool("dry-run", false, "the same as --plan (a real issuance against the staging CA is planned)")
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
	sum, code := renewOnce(ctx, cfg, renew.Options{Force: *force, Only: only, Plan: *plan || *dryRun}, logs, stderr, nil)
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
		if errors.Is(err, app.ErrAWS) {
			return nil, exitUnknown
		}
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
	// Failing includes certificates this pass skipped in backoff: a failure stays visible
	// on every run until it is fixed.
	if sum.Failed() > 0 || sum.Failing() > 0 || sum.HookFailures() > 0 {
		return sum, exitFailed
	}
	if errors.Is(context.Cause(ctx), context.Canceled) {
		return sum, exitFailed
	}
	return sum, exitOK
}

// printSummary prints the pass as a table: name, action, reason, condition, result, not
// after, duration; then one line that counts what happened.
func printSummary(w io.Writer, s *renew.Summary) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tACTION\tREASON\tCONDITION\tRESULT\tNOT AFTER\tDURATION")
	renewed, newFail := 0, 0
	for _, r := range s.Results {
		result := "ok"
		switch {
		case r.Error != "":
			result = "FAILED: " + firstLine(r.Error)
		case r.HookError != "":
			result = "stored; HOOK FAILED (retried next pass): " + firstLine(r.HookError)
		case r.Action == renew.ActionLostRace:
			result = "another runner stored an equivalent certificate first; kept"
		case r.Condition == renew.ConditionFailing:
			result = fmt.Sprintf("still failing (%d attempt(s)), next attempt %s: %s", r.Attempts, fmtTime(r.NextAttempt), firstLine(r.LastError))
		case r.Condition == renew.ConditionExpired:
			result = "EXPIRED"
		case r.Action == renew.ActionSkip || r.Action == renew.ActionPlan:
			result = "-"
		}
		switch {
		case r.NewFailure:
			newFail++
		case r.Err() == nil && (r.Action == renew.ActionRenew || r.Action == renew.ActionIssue || r.Action == renew.ActionStore):
			renewed++
		}
		dur := "-"
		if r.Duration > 0 {
			dur = r.Duration.Round(10 * time.Millisecond).String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Name, r.Action, r.Reason, r.Condition, result, fmtTime(r.NotAfter), dur)
	}
	_ = tw.Flush()
	if s.Plan {
		fmt.Fprintf(w, "plan (no order placed, nothing written): %d certificate(s), %d failing, %s\n", len(s.Results), s.Failing(), s.Duration.Round(10*time.Millisecond))
		for _, r := range s.Results {
			if r.Message != "" {
				fmt.Fprintf(w, "  %s: %s\n", r.Name, r.Message)
			}
		}
		return
	}
	fmt.Fprintf(w, "pass: %d certificate(s), %d renewed, %d failing (%d new), %d hook failure(s), %s\n",
		len(s.Results), renewed, s.Failing(), newFail, s.HookFailures(), s.Duration.Round(10*time.Millisecond))
}

// fmtTime prints a time in UTC with its date, or "-".
func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04 MST")
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " ..."
	}
	return s
}
