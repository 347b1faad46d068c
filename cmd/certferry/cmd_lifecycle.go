package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/mail"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/certferry/certferry/acme"
	"github.com/certferry/certferry/config"
	"github.com/certferry/certferry/daemon"
	"github.com/certferry/certferry/internal/app"
	"github.com/certferry/certferry/internal/logging"
	"github.com/certferry/certferry/lifecycle"
	"github.com/certferry/certferry/renew"
	smsink "github.com/certferry/certferry/sinks/secretsmanager"
)

// The lifecycle commands: revoke, retire and account. Each reads the configuration
// (for the CA, the account store and AWS), checks its arguments before any request, and
// exits 0 when done, 1 when the CA or AWS refused or failed, 2 for bad usage or
// configuration.

// parseWithArgs parses flags placed before and after positional arguments (the flag
// package stops at the first positional) and returns the positionals.
func parseWithArgs(fs *flag.FlagSet, args []string) (pos []string, code int, ok bool) {
	for {
		if code, ok := parseFlags(fs, args); !ok {
			return nil, code, false
		}
		if fs.NArg() == 0 {
			return pos, 0, true
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// lifecycleApp loads the configuration and builds the app a lifecycle command works
// with; code is non-zero when it could not.
func lifecycleApp(ctx context.Context, name, cfgPath string, logs *logging.Flags, stderr io.Writer) (*app.App, func(), int) {
	cfg, err := loadConfig(cfgPath)
	if err != nil {
		fmt.Fprintf(stderr, "certferry %s: %v\n", name, err)
		return nil, nil, exitUsage
	}
	log, err := logs.Logger(stderr, &cfg.Log)
	if err != nil {
		fmt.Fprintf(stderr, "certferry %s: %v\n", name, err)
		return nil, nil, exitUsage
	}
	for _, w := range cfg.Warnings {
		log.Warn(w)
	}
	// revoke --renew runs a pass: its clean-up is bounded as renew's (cmdRenew).
	a, err := app.New(ctx, cfg, log, app.Options{Version: version, HookEnv: hookEnv(), CleanupTimeout: daemon.CleanupTimeout})
	if err != nil {
		fmt.Fprintf(stderr, "certferry %s: %v\n", name, err)
		return nil, nil, exitUsage
	}
	return a, func() { _ = log.Sync() }, 0
}

// configuredCert returns the configured certificate called name, if any.
func configuredCert(cfg *config.Config, name string) (config.Certificate, bool) {
	for _, c := range cfg.Certificates {
		if c.Name == name {
			return c, true
		}
	}
	return config.Certificate{}, false
}

// configuredSecrets lists the secrets the configuration names.
func configuredSecrets(cfg *config.Config) []string {
	var out []string
	for _, c := range cfg.Certificates {
		if c.Sinks.SecretsManager != nil {
			out = append(out, c.Sinks.SecretsManager.Secret)
		}
	}
	return out
}

// notCertificate says why a secret of the inventory is not a certificate ("" when it is
// one): it is tagged certferry:kind (an ACME account store: this configuration's or
// another's), or it is the configured acme.account_secret. A hand-added certferry:name
// tag puts such a secret in the inventory; revoke, retire (--delete-secret above all)
// and the orphan list must still never take it for a certificate.
func notCertificate(cfg *config.Config, inv map[string]smsink.Stored, st smsink.Stored) string {
	if k := st.Tags[smsink.TagKind]; k != "" {
		return fmt.Sprintf("it is tagged %s=%s, not a certificate", smsink.TagKind, k)
	}
	if cfg.ACME.AccountStore.Kind == config.AccountStoreSecretsManager {
		if acct, ok := smsink.Lookup(inv, cfg.ACME.AccountSecret); ok && acct.Secret == st.Secret {
			return "it is acme.account_secret, the ACME account's store"
		}
	}
	return ""
}

// findStored resolves NAME for revoke and retire: a configured certificate's secret,
// else a stored certificate by secret (name or ARN) or by certferry:name. For a secret
// no certificate is configured on, servedBy lists the configured secrets that hold the
// same certificate (its serial): a certificate moved when its secret was renamed
// (docs/secret-format.md, "A renamed secret") is in both, and revoking it from the old
// secret would revoke what servers read from the new one.
func findStored(ctx context.Context, a *app.App, name string) (st smsink.Stored, configured bool, servedBy []string, err error) {
	inv, err := a.Inventory(ctx)
	if err != nil {
		return smsink.Stored{}, false, nil, err
	}
	defer func() {
		if err == nil {
			if why := notCertificate(a.Config, inv, st); why != "" {
				st, err = smsink.Stored{}, fmt.Errorf("%q: secret %s is left alone: %s", name, st.Secret, why)
			}
		}
	}()
	if c, ok := configuredCert(a.Config, name); ok {
		if c.Sinks.SecretsManager == nil {
			return smsink.Stored{}, true, nil, fmt.Errorf("certificate %q has no secretsmanager sink: revoke and retire work on the certificate stored there", name)
		}
		st, ok := smsink.Lookup(inv, c.Sinks.SecretsManager.Secret)
		if !ok {
			return smsink.Stored{}, true, nil, fmt.Errorf("certificate %q: nothing stored in secret %s yet", name, c.Sinks.SecretsManager.Secret)
		}
		return st, true, nil, nil
	}
	st, err = lifecycle.Find(inv, name)
	if err != nil {
		return smsink.Stored{}, false, nil, err
	}
	for _, ref := range configuredSecrets(a.Config) {
		s, ok := smsink.Lookup(inv, ref)
		switch {
		case !ok:
		case s.Secret == st.Secret:
			configured = true
		case st.Serial != "" && s.Serial == st.Serial:
			servedBy = append(servedBy, s.Secret)
		}
	}
	if configured {
		servedBy = nil
	}
	return st, configured, servedBy, nil
}

// refuseServed reports (on stderr) that the certificate of st, which the configuration
// no longer names, is also in configured secrets: revoking it would revoke theirs.
func refuseServed(stderr io.Writer, cmd string, st smsink.Stored, servedBy []string) bool {
	if len(servedBy) == 0 {
		return false
	}
	fmt.Fprintf(stderr, "certferry %s: serial %s in secret %s is also the certificate of configured secret %s (moved there when the secret was renamed): "+
		"revoking it would revoke what servers read there; retire %s without --revoke, or revoke the configured certificate (--renew replaces it)\n",
		cmd, st.Serial, st.Secret, strings.Join(servedBy, ", "), st.Secret)
	return true
}

const revokeSynopsis = `NAME [--reason R] [--renew] [--timeout D] [--config F] [--log-level L] [--log-format F]

Revokes the certificate currently stored for NAME (a configured certificate, or the
secret or certferry:name of a stored one) and records the revocation on its secret
(tag certferry:revoked = "<serial> <reason> <time>"). The next pass replaces a revoked
certificate whatever its remaining lifetime, and a revoked certificate is never
promoted again. --renew replaces it at once (a pass for NAME alone, as with --force).

Reasons: unspecified, keyCompromise, superseded, cessationOfOperation,
affiliationChanged. keyCompromise is signed with the certificate's own key (RFC 8555
section 7.6), the others with the ACME account's key. A secret the configuration no longer
names whose certificate a configured secret holds too (moved there when the secret was
renamed) is refused: revoke the configured certificate instead.

--timeout bounds the whole command (default 5m; 35m with --renew, whose order waits for
Route 53 and the CA): a call that has not answered by then (a hung Secrets Manager or
CA) ends it with exit 3, naming the call.

Exit codes: 0 revoked (and replaced with --renew), 1 the CA or AWS refused or the
replacement failed, 2 bad usage or configuration, 3 not done within --timeout.`

func cmdRevoke(ctx context.Context, args []string, stdout, stderr io.Writer) (code int) {
	fs := newFlagSet("revoke", revokeSynopsis, stderr)
	cfgPath := configFlag(fs)
	reasonName := fs.String("reason", "unspecified", "revocation reason: unspecified, keyCompromise, superseded, cessationOfOperation, affiliationChanged")
	renewNow := fs.Bool("renew", false, "replace the certificate at once (a forced pass for NAME alone)")
	timeout := timeoutFlag(fs, "5m; 35m with --renew")
	logs := logging.AddFlags(fs, "")
	pos, code, ok := parseWithArgs(fs, args)
	if !ok {
		return code
	}
	if len(pos) != 1 {
		fmt.Fprintf(stderr, "certferry revoke: want exactly one certificate NAME, got %d arguments\n", len(pos))
		return exitUsage
	}
	reason, err := acme.ParseRevocationReason(*reasonName)
	if err != nil {
		fmt.Fprintf(stderr, "certferry revoke: --reason: %v\n", err)
		return exitUsage
	}
	ctx, finish, ok := bound(ctx, fs, "revoke", *timeout, map[bool]time.Duration{false: defaultWriteTimeout, true: defaultOrderTimeout}[*renewNow], stderr)
	if !ok {
		return exitUsage
	}
	defer finish(&code)
	a, done, code := lifecycleApp(ctx, "revoke", *cfgPath, logs, stderr)
	if code != 0 {
		return code
	}
	defer done()
	name := pos[0]
	if _, configured := configuredCert(a.Config, name); *renewNow && !configured {
		fmt.Fprintf(stderr, "certferry revoke: --renew: %q is not a configured certificate (configured: %s)\n", name, strings.Join(certNames(a.Config), ", "))
		return exitUsage
	}
	st, configured, servedBy, err := findStored(ctx, a, name)
	if err != nil {
		fmt.Fprintf(stderr, "certferry revoke: %v\n", err)
		return exitFailed
	}
	if refuseServed(stderr, "revoke", st, servedBy) {
		return exitUsage
	}
	var ca *acme.Client // of the CA that issued it
	if reason == acme.ReasonKeyCompromise {
		ca, err = a.KeyRevoker(st.Directory) // signed with the certificate's key: no account
	} else {
		ca, err = a.ACMEFor(ctx, st.Directory)
	}
	if err != nil {
		fmt.Fprintf(stderr, "certferry revoke: %v\n", err)
		return exitFailed
	}
	if st.Directory != "" && st.Directory != a.Config.ACME.Directory {
		fmt.Fprintf(stderr, "certferry revoke: %s was issued by %s, not the configured directory: revoking it there\n", st.Secret, st.Directory)
	}
	res, err := lifecycle.Revoke(ctx, ca, a.Secrets(), st.Secret, reason, time.Now())
	if err != nil {
		fmt.Fprintf(stderr, "certferry revoke: %v\n", err)
		return exitFailed
	}
	how := "revoked"
	if res.Already {
		how = "was already revoked; recorded"
	}
	fmt.Fprintf(stdout, "%s: serial %s (%s, not after %s) %s, reason %s; recorded on secret %s\n",
		name, res.Serial, strings.Join(res.Domains, ","), res.NotAfter.UTC().Format(time.RFC3339), how, res.Reason, st.Secret)
	switch {
	case !configured:
		fmt.Fprintf(stdout, "%s is in no configured certificate: nothing replaces it (`certferry retire %s` winds it down)\n", st.Secret, st.Secret)
		return exitOK
	case !*renewNow:
		fmt.Fprintf(stdout, "the next pass replaces it (run `certferry renew --only %s` to replace it now)\n", name)
		return exitOK
	}
	return revokeRenew(ctx, a, name, stdout, stderr)
}

// revokeRenew is revoke --renew's replacement: a forced pass for name alone.
func revokeRenew(ctx context.Context, a *app.App, name string, stdout, stderr io.Writer) int {
	sum, err := a.Runner.Pass(ctx, renew.Options{Force: true, Only: []string{name}})
	if err != nil {
		fmt.Fprintf(stderr, "certferry revoke: --renew: %v\n", err)
		return exitFailed
	}
	printSummary(stdout, sum)
	if sum.Failed() > 0 || sum.HookFailures() > 0 {
		return exitFailed
	}
	return exitOK
}

func certNames(cfg *config.Config) []string {
	out := make([]string, len(cfg.Certificates))
	for i, c := range cfg.Certificates {
		out[i] = c.Name
	}
	return out
}

const retireSynopsis = `NAME [--revoke [--reason R]] [--delete-secret [--recovery-window 30d]] [--timeout D] [--config F]

Winds down a certificate certferry stored: NAME is the secret (name or ARN) or the
certferry:name of a stored certificate, typically an orphan that the configuration no
longer names (` + "`certferry status`" + ` lists them). The secret is tagged certferry:retired.
--revoke revokes its current certificate first (reason cessationOfOperation unless
--reason says otherwise). --delete-secret schedules the secret's deletion after the
recovery window (7 to 30 days; default 30d), during which
` + "`aws secretsmanager restore-secret`" + ` brings it back. Nothing is deleted without
--delete-secret, and a secret the configuration still names is never deleted. --revoke
is refused for a secret whose certificate a configured secret holds too (moved there when
the configuration renamed the secret): servers read it there.

--timeout bounds the whole command (default 5m): a call that has not answered by then (a
hung Secrets Manager, Route 53 or CA) ends it with exit 3, naming the call.

Exit codes: 0 done, 1 the CA or AWS refused, 2 bad usage or configuration, 3 not done
within --timeout.`

// parseDays reads a recovery window: "30d", "30" or a Go duration of whole days.
func parseDays(s string) (int, error) {
	v := strings.TrimSuffix(s, "d")
	if n, err := strconv.Atoi(v); err == nil {
		return n, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d%(24*time.Hour) != 0 {
		return 0, fmt.Errorf("%q: want whole days, like 30d", s)
	}
	return int(d / (24 * time.Hour)), nil
}

func cmdRetire(ctx context.Context, args []string, stdout, stderr io.Writer) (code int) {
	fs := newFlagSet("retire", retireSynopsis, stderr)
	cfgPath := configFlag(fs)
	revoke := fs.Bool("revoke", false, "revoke the current certificate first")
	reasonName := fs.String("reason", "cessationOfOperation", "revocation reason with --revoke")
	del := fs.Bool("delete-secret", false, "schedule the secret's deletion (after the recovery window)")
	window := fs.String("recovery-window", "30d", "with --delete-secret: days before the deletion is final, 7d to 30d")
	timeout := timeoutFlag(fs, "5m")
	logs := logging.AddFlags(fs, "")
	pos, code, ok := parseWithArgs(fs, args)
	if !ok {
		return code
	}
	if len(pos) != 1 {
		fmt.Fprintf(stderr, "certferry retire: want exactly one NAME (a secret or a certificate name), got %d arguments\n", len(pos))
		return exitUsage
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	days, reason, err := retireOptions(set, *del, *revoke, *window, *reasonName)
	if err != nil {
		fmt.Fprintf(stderr, "certferry retire: %v\n", err)
		return exitUsage
	}
	ctx, finish, ok := bound(ctx, fs, "retire", *timeout, defaultWriteTimeout, stderr)
	if !ok {
		return exitUsage
	}
	defer finish(&code)
	a, done, code := lifecycleApp(ctx, "retire", *cfgPath, logs, stderr)
	if code != 0 {
		return code
	}
	defer done()
	name := pos[0]
	st, configured, servedBy, err := findStored(ctx, a, name)
	if err != nil {
		fmt.Fprintf(stderr, "certferry retire: %v\n", err)
		return exitFailed
	}
	if *revoke && refuseServed(stderr, "retire", st, servedBy) {
		return exitUsage
	}
	if configured && *del {
		fmt.Fprintf(stderr, "certferry retire: %s (secret %s) is still in the configuration: remove it from the configuration before deleting its secret\n", name, st.Secret)
		return exitUsage
	}
	if configured {
		fmt.Fprintf(stderr, "certferry retire: warning: %s (secret %s) is still in the configuration: the next pass renews it; remove it from the configuration\n", name, st.Secret)
	}
	var ca lifecycle.CA
	if *revoke {
		c, err := a.ACMEFor(ctx, st.Directory) // the CA that issued it
		if err != nil {
			fmt.Fprintf(stderr, "certferry retire: %v\n", err)
			return exitFailed
		}
		ca = c
	}
	res, err := lifecycle.Retire(ctx, ca, a.Secrets(), a.SecretsAPI(), st, lifecycle.RetireOptions{Revoke: *revoke, Reason: reason, DeleteSecret: *del, RecoveryDays: days}, time.Now())
	if res.Revoked != nil {
		fmt.Fprintf(stdout, "%s: revoked serial %s (reason %s)\n", st.Secret, res.Revoked.Serial, res.Revoked.Reason)
	} else if rv, ok := smsink.Revoked(st.Tags, st.Serial); ok && *revoke {
		fmt.Fprintf(stdout, "%s: serial %s was already revoked (%s, %s)\n", st.Secret, rv.Serial, rv.Reason, rv.At.Format(time.RFC3339))
	}
	if err != nil {
		fmt.Fprintf(stderr, "certferry retire: %v\n", err)
		return exitFailed
	}
	if res.DeletionDate.IsZero() {
		fmt.Fprintf(stdout, "%s: retired (tagged %s); the secret is kept\n", st.Secret, smsink.TagRetired)
	} else {
		fmt.Fprintf(stdout, "%s: retired; deletion scheduled for %s (undo before then: aws secretsmanager restore-secret --secret-id %s)\n",
			st.Secret, res.DeletionDate.UTC().Format(time.RFC3339), st.Secret)
	}
	return retirePersist(ctx, a, st, stdout, stderr)
}

// retireOptions checks retire's flags (set: those given) together: the recovery window
// in days and the revocation reason.
func retireOptions(set map[string]bool, del, revoke bool, window, reasonName string) (int, acme.RevocationReason, error) {
	if set["recovery-window"] && !del {
		return 0, 0, errors.New("--recovery-window needs --delete-secret")
	}
	if set["reason"] && !revoke {
		return 0, 0, errors.New("--reason needs --revoke")
	}
	days, err := parseDays(window)
	if err == nil && (days < 7 || days > 30) {
		err = fmt.Errorf("%s: Secrets Manager allows 7 to 30 days", window)
	}
	if err != nil {
		return 0, 0, fmt.Errorf("--recovery-window %w", err)
	}
	reason, err := acme.ParseRevocationReason(reasonName)
	if err != nil {
		return 0, 0, fmt.Errorf("--reason: %w", err)
	}
	return days, reason, nil
}

const accountSynopsis = `show | update --email E | rollover | deactivate [--yes]   [--timeout D] [--config F]

The ACME account of the configured CA (acme.directory and, with EAB, its key id).
  show        the stored account and what the CA says of it (status, contact, key)
  update      --email E: replace the contact address at the CA and in the store
              (--email "" removes it)
  rollover    replace the account key (RFC 8555 keyChange); the store never lacks a
              key the CA accepts, even if the command is killed half-way
  deactivate  deactivate the account at the CA, permanently; asks for confirmation
              unless --yes. The next renewal registers a new account.

--timeout bounds the whole command (default 2m for show, which only reads; 5m for the
others; deactivate's question counts: answer it within that, or pass --yes): a call that has not answered by then (a
hung CA directory, a hung account store) ends it with exit 3, naming the call.

Exit codes: 0 done, 1 the CA or AWS refused, 2 bad usage or configuration, 3 not done
within --timeout.`

func cmdAccount(ctx context.Context, args []string, stdout, stderr io.Writer) (code int) {
	fs := newFlagSet("account", accountSynopsis, stderr)
	cfgPath := configFlag(fs)
	email := fs.String("email", "", "update: the new contact address")
	yes := fs.Bool("yes", false, "deactivate: do not ask for confirmation")
	jsonOut := fs.Bool("json", false, "show: print JSON")
	timeout := timeoutFlag(fs, "2m for show, 5m for the others")
	logs := logging.AddFlags(fs, "")
	pos, code, ok := parseWithArgs(fs, args)
	if !ok {
		return code
	}
	if len(pos) != 1 {
		fmt.Fprintf(stderr, "certferry account: want one of show, update, rollover, deactivate\n")
		fs.Usage()
		return exitUsage
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	sub := pos[0]
	if err := accountArgs(sub, set["email"], *email); err != nil {
		fmt.Fprintf(stderr, "certferry account%s: %v\n", err.sub, err.msg)
		return exitUsage
	}
	ctx, finish, ok := bound(ctx, fs, "account", *timeout, map[bool]time.Duration{false: defaultWriteTimeout, true: defaultReadTimeout}[sub == "show"], stderr)
	if !ok {
		return exitUsage
	}
	defer finish(&code)
	a, done, code := lifecycleApp(ctx, "account", *cfgPath, logs, stderr)
	if code != 0 {
		return code
	}
	defer done()
	stored, code := storedAccount(ctx, a, sub, stderr)
	if code != exitOK {
		return code
	}
	dir := a.Config.ACME.Directory
	if sub == "deactivate" && !*yes && !confirm(stderr, fmt.Sprintf("Deactivate ACME account %s at %s? The CA will refuse it forever. Type yes: ", stored.URL, dir)) {
		fmt.Fprintln(stderr, "certferry account deactivate: not confirmed (pass --yes to skip the question); nothing changed")
		return exitUsage
	}
	c, err := a.ACME(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "certferry account %s: %v\n", sub, err)
		return exitFailed
	}
	return accountDo(ctx, a, c, sub, *email, *jsonOut, stdout, stderr)
}

// accountDo runs the subcommand sub with the configured CA's account client c.
func accountDo(ctx context.Context, a *app.App, c *acme.Client, sub, email string, jsonOut bool, stdout, stderr io.Writer) int {
	switch sub {
	case "show":
		return accountShow(ctx, a, c, jsonOut, stdout, stderr)
	case "update":
		if err := c.UpdateEmail(ctx, email); err != nil {
			fmt.Fprintf(stderr, "certferry account update: %v\n", err)
			return exitFailed
		}
		fmt.Fprintf(stdout, "account %s: contact is now %q\n", c.AccountURL(), email)
		if email != a.Config.ACME.Email {
			fmt.Fprintf(stderr, "certferry account update: note: acme.email in the configuration is still %q\n", a.Config.ACME.Email)
		}
	case "rollover":
		if err := c.Rollover(ctx); err != nil {
			fmt.Fprintf(stderr, "certferry account rollover: %v\n", err)
			return exitFailed
		}
		fmt.Fprintf(stdout, "account %s: key replaced; runners elsewhere load the new key from the store\n", c.AccountURL())
		if a.UsesPersist() {
			fmt.Fprintln(stderr, "certferry account rollover: note: the dns-persist-01 records name the account URL, which a key rollover keeps: they stay valid, for the new key only")
		}
	case "deactivate":
		if err := c.Deactivate(ctx); err != nil {
			fmt.Fprintf(stderr, "certferry account deactivate: %v\n", err)
			return exitFailed
		}
		fmt.Fprintf(stdout, "account %s: deactivated; the next renewal registers a new account\n", c.AccountURL())
		if a.UsesPersist() {
			fmt.Fprintf(stderr, "certferry account deactivate: warning: the dns-persist-01 records naming %s authorise nothing now. "+
				"The next pass registers a new account and writes records naming it (a runner without Route 53 write permission fails until "+
				"\"certferry persist apply\" has run); \"certferry persist plan\" lists them. Remove the old records by hand (docs/dns.md).\n", c.AccountURL())
		}
	}
	return exitOK
}

// usageError is a bad use of a subcommand: sub is " NAME" when the message belongs to
// one ("" for the command itself).
type usageError struct{ sub, msg string }

// accountArgs checks the subcommand and --email (emailSet: given at all).
func accountArgs(sub string, emailSet bool, email string) *usageError {
	switch sub {
	case "show", "rollover", "deactivate":
		if emailSet {
			return &usageError{" " + sub, "--email belongs to update"}
		}
	case "update":
		if !emailSet {
			return &usageError{" update", `--email is required (--email "" removes the contact)`}
		}
		if email != "" {
			if addr, err := mail.ParseAddress(email); err != nil || addr.Address != email {
				return &usageError{" update", fmt.Sprintf("--email %q: not a plain email address", email)}
			}
		}
	default:
		return &usageError{"", fmt.Sprintf("unknown subcommand %q: want show, update, rollover or deactivate", sub)}
	}
	return nil
}

// storedAccount is the configured CA's account in the store. Only the subcommands'
// own work may register an account: on a new setup, or for a deactivated account, it
// says so instead (exitFailed).
func storedAccount(ctx context.Context, a *app.App, sub string, stderr io.Writer) (*acme.Account, int) {
	dir := a.Config.ACME.Directory
	kid := ""
	if a.Config.ACME.EAB != nil {
		kid = a.Config.ACME.EAB.KID
	}
	stored, err := a.AccountStore().Load(ctx, dir, kid)
	switch {
	case errors.Is(err, acme.ErrNoAccount):
		fmt.Fprintf(stderr, "certferry account %s: no account stored for directory %s yet (the first renewal registers one)\n", sub, dir)
		return nil, exitFailed
	case err != nil:
		fmt.Fprintf(stderr, "certferry account %s: %v\n", sub, err)
		return nil, exitFailed
	case stored.Deactivated:
		fmt.Fprintf(stderr, "certferry account %s: the account %s of directory %s is deactivated (the next renewal registers a new one)\n", sub, stored.URL, dir)
		return nil, exitFailed
	}
	return stored, exitOK
}

// accountShow prints the account as the CA describes it, and the store's other
// accounts.
func accountShow(ctx context.Context, a *app.App, c *acme.Client, jsonOut bool, stdout, stderr io.Writer) int {
	info, err := c.Info(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "certferry account show: %v\n", err)
		return exitFailed
	}
	if jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(info)
		return exitOK
	}
	fmt.Fprintf(stdout, "directory:       %s\n", info.Directory)
	if info.KID != "" {
		fmt.Fprintf(stdout, "eab key id:      %s\n", info.KID)
	}
	fmt.Fprintf(stdout, "account:         %s\nstatus:          %s\ncontact:         %s\nkey:             %s, thumbprint %s\n",
		info.URL, info.Status, strings.Join(info.Contact, ", "), info.KeyType, info.KeyThumbprint)
	all, err := a.AccountStore().List(ctx)
	if err != nil || len(all) <= 1 {
		return exitOK
	}
	fmt.Fprintf(stdout, "other accounts in the store:\n")
	for _, o := range all {
		if o.Directory == info.Directory && o.KID == info.KID {
			continue
		}
		state := o.URL
		if o.Deactivated {
			state += " (deactivated)"
		}
		fmt.Fprintf(stdout, "  %s %s\n", o.Directory, state)
	}
	return exitOK
}

// confirm asks on stderr and reads one line from a terminal stdin; anything but "yes",
// or a stdin that is not a terminal, is a no.
func confirm(stderr io.Writer, question string) bool {
	fi, err := os.Stdin.Stat()
	if err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return false
	}
	fmt.Fprint(stderr, question)
	line, _ := bufio.NewReader(io.LimitReader(os.Stdin, 64)).ReadString('\n')
	return strings.TrimSpace(line) == "yes"
}

// statusOrphans lists the certificates certferry stored that the configuration no
// longer names (nil when no certificate uses Secrets Manager: there is no inventory to
// read, and status must not need AWS for a file-only configuration).
func statusOrphans(ctx context.Context, a *app.App) ([]StatusOrphan, error) {
	out := []StatusOrphan{}
	configured := configuredSecrets(a.Config)
	if len(configured) == 0 {
		return out, nil
	}
	inv, err := a.Inventory(ctx)
	if err != nil {
		return out, err
	}
	for _, st := range lifecycle.Orphans(inv, configured) {
		if notCertificate(a.Config, inv, st) != "" {
			continue
		}
		o := StatusOrphan{Name: st.Name, Secret: st.Secret, SecretARN: st.ARN, Domains: st.Domains, Serial: st.Serial}
		if o.Domains == nil {
			o.Domains = []string{}
		}
		if !st.NotAfter.IsZero() {
			t := st.NotAfter.UTC()
			o.NotAfter = &t
		}
		if rv, ok := smsink.Revoked(st.Tags, st.Serial); ok {
			o.Revoked = rv.Reason + " " + rv.At.UTC().Format(time.RFC3339)
		}
		if t, err := time.Parse(time.RFC3339, st.Tags[smsink.TagRetired]); err == nil {
			t = t.UTC()
			o.RetiredAt = &t
		}
		out = append(out, o)
	}
	return out, nil
}

// printOrphans prints the orphans after the status table.
func printOrphans(w io.Writer, orphans []StatusOrphan) {
	if len(orphans) == 0 {
		return
	}
	fmt.Fprintf(w, "\norphaned: %d certificate(s) stored by certferry that the configuration no longer names (`certferry retire SECRET` winds one down):\n", len(orphans))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SECRET\tNAME\tNOT AFTER\tSTATE")
	for _, o := range orphans {
		na := "-"
		if o.NotAfter != nil {
			na = o.NotAfter.Format("2006-01-02 15:04")
		}
		var state []string
		if o.Revoked != "" {
			state = append(state, "revoked "+o.Revoked)
		}
		if o.RetiredAt != nil {
			state = append(state, "retired "+o.RetiredAt.Format(time.RFC3339))
		}
		if len(state) == 0 {
			state = []string{"-"}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", o.Secret, o.Name, na, strings.Join(state, ", "))
	}
	_ = tw.Flush()
}
