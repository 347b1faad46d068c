package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/certferry/certferry/config"
	"github.com/certferry/certferry/internal/app"
	"github.com/certferry/certferry/internal/logging"
	"github.com/certferry/certferry/renew"
	"github.com/certferry/certferry/scheduler"
)

// StatusReport is `status --output json`: its schema is docs/status.schema.json, and
// StatusVersion changes whenever a field changes meaning or goes away.
type StatusReport struct {
	Version      int           `json:"version"`
	GeneratedAt  time.Time     `json:"generated_at"`
	Certificates []StatusEntry `json:"certificates"`
	// Failing counts certificates whose condition is failing or expired (exit 1).
	Failing int `json:"failing"`
	// Orphans are certificates certferry stored that the configuration no longer names;
	// they never change the exit code (`certferry retire` winds one down).
	Orphans []StatusOrphan `json:"orphans"`
}

// StatusOrphan is one orphaned certificate in StatusReport.
type StatusOrphan struct {
	Name      string     `json:"name"` // its certferry:name tag
	Secret    string     `json:"secret"`
	SecretARN string     `json:"secret_arn,omitempty"`
	Domains   []string   `json:"domains"`
	NotAfter  *time.Time `json:"not_after,omitempty"`
	Serial    string     `json:"serial,omitempty"`
	Revoked   string     `json:"revoked,omitempty"`    // "<reason> <time>" when certferry revoked it
	RetiredAt *time.Time `json:"retired_at,omitempty"` // when `certferry retire` wound it down
}

// StatusVersion is the version of StatusReport's schema.
const StatusVersion = 1

// StatusEntry is one certificate in StatusReport.
type StatusEntry struct {
	Name         string          `json:"name"`
	Domains      []string        `json:"domains"`
	Condition    renew.Condition `json:"condition"`
	Ready        string          `json:"ready"`
	Reason       string          `json:"reason"`
	Message      string          `json:"message,omitempty"`
	NotBefore    *time.Time      `json:"not_before,omitempty"`
	NotAfter     *time.Time      `json:"not_after,omitempty"`
	DaysLeft     *float64        `json:"days_left,omitempty"`
	RenewalDueAt *time.Time      `json:"renewal_due_at,omitempty"`
	Due          bool            `json:"due"`
	WaitingUntil *time.Time      `json:"waiting_until,omitempty"`
	FailingSince *time.Time      `json:"failing_since,omitempty"`
	Attempts     int             `json:"attempts"`
	NextAttempt  *time.Time      `json:"next_attempt,omitempty"`
	LastError    string          `json:"last_error,omitempty"`
	NeedsHuman   bool            `json:"needs_human,omitempty"` // failing for a reason no wait fixes (renew --json's)
	HooksPending int             `json:"hooks_pending"`
	Serial       string          `json:"serial,omitempty"`
	KeyType      string          `json:"key_type,omitempty"`
	Profile      string          `json:"profile,omitempty"`
	Sinks        []string        `json:"sinks"`
	SecretARN    string          `json:"secret_arn,omitempty"`
	// Challenge is how the CA validates the names: dns-01 or dns-persist-01; with
	// dns-persist-01, PersistRecords says whether its records are in place ("present",
	// "missing", or "unknown: <why>").
	Challenge      string `json:"challenge"`
	PersistRecords string `json:"persist_records,omitempty"`
}

// defaultStatusTimeout bounds all of status (--timeout).
const defaultStatusTimeout = 2 * time.Minute

// cmdStatus prints what is stored, each certificate's condition and when it renews. It
// reads the secrets' tags only (one ListSecrets page per 100 certificates) and writes
// nothing. It exits 1 when a certificate is failing or expired, so a cron job or a
// Nagios-style check can use it.
func cmdStatus(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("status", "[--config F] [--output table|wide|json] [--timeout 2m] [--log-level L] [--log-format F]", stderr)
	fs.Usage = usageWith(fs, stderr, "status", "[--config F] [--output table|wide|json] [--timeout 2m] [--log-level L] [--log-format F]",
		`Prints each certificate's condition (ready, due, failing, expired), expiry and next
renewal, from the stored secrets' tags and files; writes nothing, orders nothing.

Exit codes:
  0  every certificate is ready or due
  1  a certificate is failing or expired
  2  bad configuration or usage
  3  the status could not be read (no AWS credentials or region, inventory unreadable,
     nothing read within --timeout)`)
	cfgPath := configFlag(fs)
	output := fs.String("output", "table", "table, wide (adds names, serial, key type, profile, sinks) or json (schema: docs/status.schema.json)")
	jsonOut := fs.Bool("json", false, "the same as --output json")
	logs := logging.AddFlags(fs, "warn")
	timeout := fs.Duration("timeout", defaultStatusTimeout, "give up (exit 3) when the status could not be read within this long (a hung AWS call)")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if *timeout <= 0 {
		fmt.Fprintf(stderr, "certferry status: --timeout %s: must be more than 0\n", *timeout)
		return exitUsage
	}
	if *jsonOut {
		if flagSet(fs, "output") && *output != "json" {
			fmt.Fprintf(stderr, "certferry status: --json and --output %s disagree: give one\n", *output)
			return exitUsage
		}
		*output = "json"
	}
	switch *output {
	case "table", "wide", "json":
	default:
		fmt.Fprintf(stderr, "certferry status: --output %q: want table, wide or json\n", *output)
		return exitUsage
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
	// A check run from cron or a monitoring system must answer: a hung ListSecrets (the
	// SDK's three attempts of two minutes) ends here, as "could not be read".
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	sum, err := a.Runner.Pass(ctx, renew.Options{Plan: true})
	if err != nil {
		fmt.Fprintf(stderr, "certferry status: %v\n", err)
		return exitUnknown
	}
	rep := statusReport(sum, time.Now())
	addChallenges(ctx, a, &rep)
	if rep.Orphans, err = statusOrphans(ctx, a); err != nil {
		// The certificates' status stands without them.
		fmt.Fprintf(stderr, "certferry status: orphans not listed: %v\n", err)
	}
	if *output == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(rep)
	} else {
		printStatus(stdout, rep, *output == "wide")
	}
	if rep.Failing > 0 {
		return exitFailed
	}
	return exitOK
}

// statusReport turns a plan-only pass into the status report.
func statusReport(sum *renew.Summary, now time.Time) StatusReport {
	rep := StatusReport{Version: StatusVersion, GeneratedAt: now.UTC(), Certificates: []StatusEntry{}, Failing: sum.Failing()}
	opt := func(t time.Time) *time.Time {
		if t.IsZero() {
			return nil
		}
		u := t.UTC()
		return &u
	}
	for _, r := range sum.Results {
		e := StatusEntry{Name: r.Name, Domains: r.Domains, Condition: r.Condition, Ready: r.Ready(), Reason: string(r.Reason), Message: r.Message,
			NotBefore: opt(r.NotBefore), NotAfter: opt(r.NotAfter), RenewalDueAt: opt(r.DueAt), Due: r.Action == renew.ActionPlan || r.Action == renew.ActionElsewhere,
			WaitingUntil: opt(r.WaitingUntil),
			FailingSince: opt(r.FailingSince), Attempts: r.Attempts, NextAttempt: opt(r.NextAttempt), LastError: r.LastError,
			NeedsHuman: r.NeedsHuman, HooksPending: r.HooksPending, Serial: r.Serial, KeyType: r.KeyType, Profile: r.Profile, Sinks: r.Sinks, SecretARN: r.SecretARN}
		if e.Sinks == nil {
			e.Sinks = []string{}
		}
		if e.Domains == nil {
			e.Domains = []string{}
		}
		if !r.NotAfter.IsZero() {
			d := r.NotAfter.Sub(now).Hours() / 24
			e.DaysLeft = &d
		}
		rep.Certificates = append(rep.Certificates, e)
	}
	return rep
}

// printStatus prints the report as a table.
func printStatus(w io.Writer, rep StatusReport, wide bool) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	persist := slices.ContainsFunc(rep.Certificates, func(e StatusEntry) bool { return e.Challenge == config.ChallengeDNSPersist01 })
	head := "NAME\tCONDITION\tNOT AFTER\tDAYS LEFT\tNEXT RENEWAL\tATTEMPTS\tFAILING SINCE\tHOOKS PENDING\tLAST ERROR"
	if wide {
		head += "\tNAMES\tSERIAL\tKEY\tPROFILE\tSTORED IN"
	}
	if persist {
		head += "\tCHALLENGE"
	}
	fmt.Fprintln(tw, head)
	ts := func(t *time.Time) string {
		if t == nil {
			return "-"
		}
		return t.Format("2006-01-02 15:04")
	}
	dash := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	for _, e := range rep.Certificates {
		left, next, attempts := "-", ts(e.RenewalDueAt), "-"
		if e.DaysLeft != nil {
			left = fmt.Sprintf("%.1f", *e.DaysLeft)
		}
		switch {
		case e.Condition == renew.ConditionFailing:
			next = "retry " + ts(e.NextAttempt)
			attempts = fmt.Sprint(e.Attempts)
		case e.Due && strings.HasPrefix(e.Message, "renewing elsewhere"):
			next = printable(e.Message) // another runner holds its lease now
		case e.Reason == string(scheduler.ReasonIssuanceGuard) && e.NextAttempt != nil:
			// Due by the rules, held by the guard: when it will be ordered, as --plan says.
			next = "after " + ts(e.NextAttempt) + " (issuance-guard)"
		case e.Due:
			next = "now (" + e.Reason + ")"
		case e.WaitingUntil != nil:
			next = "waiting for the CA's limit until " + ts(e.WaitingUntil)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s", e.Name, e.Condition, ts(e.NotAfter), left, next, attempts,
			ts(e.FailingSince), e.HooksPending, dash(cell(e.LastError)))
		if wide {
			fmt.Fprintf(tw, "\t%s\t%s\t%s\t%s\t%s", strings.Join(e.Domains, ","), dash(e.Serial), dash(e.KeyType), dash(e.Profile), strings.Join(e.Sinks, ","))
		}
		if persist {
			c := e.Challenge
			if e.PersistRecords != "" {
				c += " (records " + e.PersistRecords + ")"
			}
			fmt.Fprintf(tw, "\t%s", c)
		}
		fmt.Fprintln(tw)
	}
	_ = tw.Flush()
	for _, e := range rep.Certificates {
		if cut(e.LastError) {
			fmt.Fprintf(w, "(errors cut to %d characters: --output json prints them whole)\n", maxCell)
			break
		}
	}
	if rep.Failing > 0 {
		fmt.Fprintf(w, "%d certificate(s) failing or expired\n", rep.Failing)
	}
	printOrphans(w, rep.Orphans)
}

// addChallenges fills in each certificate's challenge and, for dns-persist-01, whether
// its records are in place (reads only; see app.PersistPresence).
func addChallenges(ctx context.Context, a *app.App, rep *StatusReport) {
	presence := a.PersistPresence(ctx)
	for i := range rep.Certificates {
		e := &rep.Certificates[i]
		e.Challenge = config.ChallengeDNS01
		if c := a.Config.Certificate(e.Name); c != nil && c.Challenge == config.ChallengeDNSPersist01 {
			e.Challenge, e.PersistRecords = config.ChallengeDNSPersist01, presence[e.Name]
		}
	}
}
