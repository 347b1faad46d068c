package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/certferry/certferry/config"
	"github.com/certferry/certferry/daemon"
	"github.com/certferry/certferry/internal/app"
	"github.com/certferry/certferry/internal/logging"
	"github.com/certferry/certferry/renew"
)

const renewSynopsis = "[--config F] [--only NAME]... [--force] [--plan | --dry-run [--dry-run-directory URL]] [--json] [--log-level L] [--log-format F]"

func cmdRenew(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("renew", renewSynopsis, stderr)
	fs.Usage = usageWith(fs, stderr, "renew", renewSynopsis,
		`One pass: renews what is due, stores it, runs the hooks, removes the DNS-01 records, then exits.

--plan prints what is due and why, and does nothing else: no order, no write, no hook.
--dry-run rehearses a renewal of every selected certificate without storing anything:
the same checks as a real pass (zones, secrets), then a real order from the dry-run CA
(Let's Encrypt's staging CA for Let's Encrypt; any other directory itself, or
--dry-run-directory), its DNS-01 records published and removed, the chain verified, and
the certificate thrown away: no value or file written, no hook, no backoff. Like a real
pass it journals its order in the certificate's state (the challenge journal, naming the
dry-run CA) before publishing and clears it after, so that a later pass can remove what
a killed dry run left; a certificate never stored gets its secret, without a value, to
hold the entry. The dry-run CA's account is registered once in the account store if it
has none.

Exit codes:
  0  every certificate is ready (or merely due and not attempted)
  1  a certificate is failing or expired: this pass failed it, or an earlier pass did and
     it waits in backoff, or an on_renew hook failed (--dry-run: a certificate failed
     the rehearsal)
  2  bad configuration or usage
  3  the pass could not run (no AWS credentials or region, inventory unreadable)`)
	cfgPath := configFlag(fs)
	var only stringList
	fs.Var(&only, "only", "renew only this certificate (repeatable)")
	force := fs.Bool("force", false, "renew even when not due; overrides backoff and the issuance guard")
	plan := fs.Bool("plan", false, "print what is due and why; place no order, write nothing, run no hook")
	dryRun := fs.Bool("dry-run", false, "rehearse: order every selected certificate from the dry-run CA, verify it, store nothing, run no hook")
	dryRunDir := fs.String("dry-run-directory", "", "the ACME directory --dry-run orders from (a URL, or letsencrypt-staging; default: Let's Encrypt's staging CA for Let's Encrypt, otherwise acme.directory)")
	logs := logging.AddFlags(fs, "")
	jsonOut := fs.Bool("json", false, "print the summary as JSON")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		// "certferry renew web": a certificate's name is given with --only.
		fmt.Fprintf(stderr, "certferry renew: unexpected argument %q: to renew one certificate, write --only %s\n", fs.Arg(0), fs.Arg(0))
		return exitUsage
	}
	if *plan && *dryRun {
		fmt.Fprintln(stderr, "certferry renew: --plan and --dry-run exclude each other: --plan orders nothing, --dry-run orders from the dry-run CA")
		return exitUsage
	}
	if *dryRunDir != "" && !*dryRun {
		fmt.Fprintln(stderr, "certferry renew: --dry-run-directory needs --dry-run")
		return exitUsage
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		fmt.Fprintf(stderr, "certferry renew: %v\n", err)
		return exitUsage
	}
	dir := ""
	if *dryRun {
		if dir, err = dryRunDirectory(*dryRunDir, cfg.ACME.Directory); err != nil {
			fmt.Fprintf(stderr, "certferry renew: %v\n", err)
			return exitUsage
		}
	}
	sum, code := renewOnce(ctx, cfg, renew.Options{Force: *force, Only: only, Plan: *plan, DryRun: *dryRun}, dir, logs, stderr, nil)
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

// dryRunDirectory is the directory --dry-run orders from: flag (a URL or a directory
// name such as letsencrypt-staging), or the staging counterpart of configured.
func dryRunDirectory(flag, configured string) (string, error) {
	if flag == "" {
		return app.DryRunDirectory(configured), nil
	}
	if u, ok := config.Directories[flag]; ok {
		return u, nil
	}
	if u, err := url.Parse(flag); err != nil || u.Scheme != "https" || u.Host == "" {
		return "", fmt.Errorf("--dry-run-directory %q: write letsencrypt-staging or an https:// URL", flag)
	}
	return flag, nil
}

// renewOnce runs one pass with cfg and returns its summary and exit code. dryRunDir is
// the directory a dry run orders from ("" for any other pass).
func renewOnce(ctx context.Context, cfg *config.Config, opts renew.Options, dryRunDir string, logs *logging.Flags, stderr io.Writer, awsOverride *aws.Config) (*renew.Summary, int) {
	log, err := logs.Logger(stderr, &cfg.Log)
	if err != nil {
		fmt.Fprintf(stderr, "certferry: %v\n", err)
		return nil, exitUsage
	}
	defer func() { _ = log.Sync() }()
	for _, w := range cfg.Warnings {
		log.Warn(w)
	}
	// The clean-up of a stopped pass is bounded as the daemon's is: a one-shot run is
	// started by systemd too, and a stop must end before its kill (docs/architecture.md,
	// "Stopping").
	a, err := app.New(ctx, cfg, log, app.Options{AWS: awsOverride, Version: version, HookEnv: hookEnv(), DryRunDirectory: dryRunDir,
		CleanupTimeout: daemon.CleanupTimeout})
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
	// A dry run's exit code says whether the rehearsal worked, whatever is stored.
	if opts.DryRun && sum.Failed() > 0 {
		return sum, exitFailed
	}
	// Failing includes certificates this pass skipped in backoff: a failure stays visible
	// on every run until it is fixed.
	if !opts.DryRun && (sum.Failed() > 0 || sum.Failing() > 0 || sum.HookFailures() > 0) {
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
		result := resultCell(r)
		switch {
		case r.NewFailure:
			newFail++
		case r.Err() == nil && r.Action.Stored():
			renewed++
		}
		dur := "-"
		if r.Duration > 0 {
			dur = r.Duration.Round(10 * time.Millisecond).String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Name, r.Action, r.Reason, r.Condition, result, fmtTime(r.NotAfter), dur)
	}
	_ = tw.Flush()
	for _, r := range s.Results {
		if cut(r.Error) || cut(r.HookError) || cut(r.LastError) {
			fmt.Fprintf(w, "(errors cut to %d characters: --json prints them whole)\n", maxCell)
			break
		}
	}
	if s.DryRun {
		tried := 0
		for _, r := range s.Results {
			if r.Action == renew.ActionDryRun {
				tried++
			}
		}
		fmt.Fprintf(w, "dry run (nothing stored, no hook run): %d certificate(s), %d issued and verified, %d failed, %s\n",
			len(s.Results), tried, s.Failed(), s.Duration.Round(10*time.Millisecond))
		for _, r := range s.Results {
			if r.Message != "" && r.Err() == nil {
				fmt.Fprintf(w, "  %s: %s\n", r.Name, printable(r.Message))
			}
		}
		return
	}
	if s.Plan {
		fmt.Fprintf(w, "plan (no order placed, nothing written): %d certificate(s), %d failing, %s\n", len(s.Results), s.Failing(), s.Duration.Round(10*time.Millisecond))
		for _, r := range s.Results {
			if r.Message != "" {
				fmt.Fprintf(w, "  %s: %s\n", r.Name, printable(r.Message))
			}
		}
		return
	}
	fmt.Fprintf(w, "pass: %d certificate(s), %d renewed, %d failing (%d new), %d interrupted, %d hook failure(s), %s\n",
		len(s.Results), renewed, s.Failing(), newFail, s.Interrupted(), s.HookFailures(), s.Duration.Round(10*time.Millisecond))
	if n := s.Interrupted(); n > 0 {
		fmt.Fprintf(w, "stopped before %d certificate(s) were done: they are due on the next run (no backoff recorded)\n", n)
	}
	if n := s.Waiting(); n > 0 {
		fmt.Fprintf(w, "%d certificate(s) waiting for the CA's limit (not failing); the first fits at %s\n", n, s.WaitUntil().UTC().Format(time.RFC3339))
	}
}

// resultCell is the RESULT column of a certificate's row.
func resultCell(r *renew.Result) string {
	switch {
	case r.Interrupted:
		return "INTERRUPTED (due on the next run): " + cell(r.Error)
	case r.Error != "":
		return "FAILED: " + cell(r.Error)
	case r.HookError != "":
		return "stored; HOOK FAILED (retried next pass): " + cell(r.HookError)
	case r.Action == renew.ActionLostRace:
		return "another runner stored an equivalent certificate first; kept"
	case r.Action == renew.ActionElsewhere || r.Action == renew.ActionRenewedElsewhere || r.Action == renew.ActionMove:
		return printable(r.Message) // "renewing elsewhere (holder, until)", "renewed elsewhere: ...", "moved from secret X"
	case r.Condition == renew.ConditionFailing:
		return fmt.Sprintf("still failing (%d attempt(s)), next attempt %s: %s", r.Attempts, fmtTime(r.NextAttempt), cell(r.LastError))
	case r.Condition == renew.ConditionExpired:
		return "EXPIRED"
	case r.Action == renew.ActionDryRun:
		return "issued and verified; not stored"
	case r.Action == renew.ActionWait:
		return "waiting for the CA's limit until " + fmtTime(r.WaitingUntil)
	case r.Action == renew.ActionSkip || r.Action == renew.ActionPlan:
		return "-"
	}
	return "ok"
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

// maxCell bounds an error's text in a table column (RESULT, LAST ERROR), so a long
// message does not push every row past the terminal; --json and --output json carry it
// whole.
const maxCell = 120

// cell is an error's text for a table: its first line, made printable, at most maxCell
// characters.
func cell(s string) string {
	s = printable(firstLine(s))
	if r := []rune(s); len(r) > maxCell {
		return string(r[:maxCell-3]) + "..."
	}
	return s
}

// cut reports whether cell shortened s (its first line only, or fewer characters), so
// the table can say that --json has the whole text.
func cut(s string) bool {
	return strings.Contains(s, "\n") || len([]rune(printable(s))) > maxCell
}
