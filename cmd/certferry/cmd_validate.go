package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/certferry/certferry/config"
	"github.com/certferry/certferry/internal/app"
	"github.com/certferry/certferry/internal/logging"
)

// onlineTimeout bounds validate --online as a whole.
const onlineTimeout = 2 * time.Minute

const validateSynopsis = "[--config F] [--lambda] [--online] [--log-level L] [--log-format F]"

// validateHelp is validate's help text.
const validateHelp = `Checks the configuration without changing anything, and says what is wrong with each
problem's field.

Without --online nothing outside this machine is asked: the file parses and is valid; the
files it names exist and parse (acme.ca_bundle, acme.issuer_roots, the file account
store's directory); every exec hook's program exists and is executable; every
certificate's names fit its profile's limit (Let's Encrypt: 100, 25 for shortlived and
tlsserver); an AWS region is known (aws.region, AWS_REGION, AWS_DEFAULT_REGION or the
shared AWS configuration). --lambda adds what only the Lambda refuses (a file account
store, a file sink).

--online also reads, writing nothing and ordering nothing: the CA's directory (and its
profiles), every name's hosted zone, and every secret (readable, and one certferry may
write for this certificate: not another program's, not scheduled for deletion, not the
ACME account's, not shared with another certificate by name and ARN); the lease table
(coordination.dynamodb_table, one read); and it notes the
certificates configured with dns-persist-01 that will fall back to dns-01 (a CA that
names no issuer, Let's Encrypt production).

Exit codes:
  0  no problem found
  2  a problem in the configuration (each printed with its field)
  3  --online only: the checks could not finish (the CA or AWS did not answer within
     2 minutes, no credentials); nothing wrong was found in what could be checked`

// cmdValidate checks a configuration. Without --online it touches nothing: no AWS call,
// no ACME request, no file written; --online reads (never writes) the CA's directory,
// the hosted zones and the secrets.
func cmdValidate(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("validate", validateSynopsis, stderr)
	fs.Usage = usageWith(fs, stderr, "validate", validateSynopsis, validateHelp)
	cfgPath := configFlag(fs)
	lambda := fs.Bool("lambda", false, "also check what the Lambda refuses (file account store, file sinks)")
	online := fs.Bool("online", false, "also check the CA's directory, every hosted zone and every secret (reads only)")
	// validate logs nothing; the flags are accepted (and checked) as on every command, so
	// a script can pass the same flags to each.
	logging.AddFlags(fs, "")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "certferry validate: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		fmt.Fprintf(stderr, "%v\n", err)
		return exitUsage
	}
	_, trustWarnings := app.TrustProblems(cfg, os.Geteuid())
	for _, w := range slices.Concat(cfg.Warnings, app.ScheduleWarnings(cfg), trustWarnings) {
		fmt.Fprintf(stderr, "warning: %s\n", w)
	}
	problems := app.Offline(ctx, cfg)
	if *lambda {
		problems = append(problems, app.LambdaProblems(cfg)...)
	}
	if len(problems) > 0 {
		printProblems(stderr, *cfgPath, problems)
		return exitUsage
	}
	names := 0
	for _, c := range cfg.Certificates {
		names += len(c.Domains)
	}
	if !*online {
		fmt.Fprintf(stdout, "%s: ok (%d certificate(s), %d name(s))\n", *cfgPath, len(cfg.Certificates), names)
		return exitOK
	}
	return validateOnline(ctx, cfg, *cfgPath, names, stdout, stderr)
}

// validateOnline is validate --online, once the configuration passed the offline checks.
func validateOnline(ctx context.Context, cfg *config.Config, cfgPath string, names int, stdout, stderr io.Writer) int {
	a, err := app.New(ctx, cfg, zap.NewNop(), app.Options{Version: version})
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", cfgPath, err)
		if errors.Is(err, app.ErrAWS) {
			return exitUnknown
		}
		return exitUsage
	}
	// A CA or an AWS endpoint that accepts connections and never answers must not hold
	// validate forever: whatever is not checked by then is reported as such (exit 3).
	octx, cancel := context.WithTimeout(ctx, onlineTimeout)
	defer cancel()
	problems, unreachable := a.Online(octx)
	printProblems(stderr, cfgPath, problems)
	for _, err := range unreachable {
		fmt.Fprintf(stderr, "%s: not checked: %v\n", cfgPath, err)
	}
	switch {
	case len(problems) > 0:
		return exitUsage
	case len(unreachable) > 0:
		return exitUnknown
	}
	if !printFallbacks(octx, a, cfgPath, stdout, stderr) {
		return exitUnknown
	}
	fmt.Fprintf(stdout, "%s: ok online (%d certificate(s), %d name(s); the CA's directory, every hosted zone and every secret checked)\n",
		cfgPath, len(cfg.Certificates), names)
	return exitOK
}

// printProblems prints one problem a line, after the file's path.
func printProblems(w io.Writer, path string, problems []error) {
	for _, p := range problems {
		fmt.Fprintf(w, "%s: %v\n", path, p)
	}
}

// printFallbacks prints the dns-persist-01 certificates that will fall back to dns-01;
// false when the CA's directory could not be read.
func printFallbacks(ctx context.Context, a *app.App, cfgPath string, stdout, stderr io.Writer) bool {
	fallbacks, err := a.PersistFallbacks(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "%s: not checked: %v\n", cfgPath, err)
		return false
	}
	for _, f := range fallbacks {
		fmt.Fprintf(stdout, "%s: note: %s\n", cfgPath, f)
	}
	return true
}
