// Command certferry obtains and renews certificates from an ACME CA through Route 53
// DNS-01, stores them in AWS Secrets Manager (and optionally as PEM files), and runs
// redeploy hooks once they are safely stored.
//
// This package is wiring only: it reads flags, files and the environment, builds the
// packages' documented config structs, and maps results to exit codes.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// Exit codes (docs/architecture.md).
const (
	exitOK      = 0 // all fine, or nothing due
	exitFailed  = 1 // a certificate failed
	exitUsage   = 2 // bad configuration or usage
	exitUnknown = 3 // an unexpected error (inventory unreadable, ...)
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

const usage = `certferry: Let's Encrypt certificates through Route 53 DNS-01, stored in AWS Secrets Manager.

Usage:
  certferry renew    [--config F] [--only NAME]... [--force] [--plan | --dry-run [--dry-run-directory URL]] [--json]
                     one pass, then exit (--plan: what is due and why; --dry-run: a rehearsal)
  certferry run      [--config F] [--unhealthy-after DUR]
                     the daemon: scheduled passes, /metrics, /healthz
  certferry status   [--config F] [--output table|wide|json] [--timeout 2m]
                     each certificate's condition, expiry, next renewal, last error
  certferry validate [--config F] [--lambda] [--online]
                     check the configuration (--online: the CA, zones, secrets; reads only)
  certferry revoke   NAME [--reason R] [--renew] [--timeout D]
                     revoke the stored certificate; --renew replaces it at once
  certferry retire   NAME [--revoke [--reason R]] [--delete-secret [--recovery-window 30d]] [--timeout D]
                     wind down a stored certificate
  certferry account  show | update --email E | rollover | deactivate [--yes] [--timeout D]
                     the ACME account of the configured CA
  certferry persist  plan | apply [--only NAME]... [--timeout D]
                     dns-persist-01 records (experimental): print them and the CAA to add; write those missing
  certferry version

Every command but version also takes --log-level (debug, info, warn, error) and
--log-format (auto, json, console).

Exit codes: 0 all fine or nothing due; 1 a certificate is failing or expired (this pass or
an earlier one); 2 bad configuration or usage; 3 could not run (no AWS region or
credentials, inventory unreadable, listen address in use).
revoke, retire, account and persist apply: 0 done, 1 the CA or AWS refused or failed, 2 bad usage,
3 not done within --timeout (a hung AWS or CA call; each command has a default).
Run "certferry COMMAND -h" for a command's flags, or "man certferry-COMMAND". The
configuration is --config, else $CERTFERRY_CONFIG, else ./certferry.yaml, else
/etc/certferry/config.yaml (where the packages install it).
`

// run dispatches a command. The first SIGINT or SIGTERM, and for every command but the
// daemon's a SIGHUP too, cancels the command's context so it stops cleanly: TXT records
// are removed, the summary is printed, and the exit code is the documented one (1 for an
// interrupted renew). A second SIGINT or SIGTERM forces the exit; a repeated SIGHUP does
// not, because a dropped terminal or SSH session may deliver one per process group
// (docs/architecture.md, "Stopping").
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	stop := stopSignals(args[0])
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, stop...)
	defer signal.Stop(sigs)
	// A session that hung up leaves stdout and stderr a broken pipe: writing there must
	// fail, not kill the process before its clean-up (Go exits on SIGPIPE for fds 1 and 2
	// unless the signal is handled). Handled, not ignored: an ignored signal would be
	// inherited by exec hooks.
	pipe := make(chan os.Signal, 1)
	signal.Notify(pipe, syscall.SIGPIPE)
	defer signal.Stop(pipe)
	go forwardStops(sigs, cancel, stderr)
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "renew":
		return cmdRenew(ctx, rest, stdout, stderr)
	case "run":
		return cmdRun(ctx, rest, stdout, stderr)
	case "status":
		return cmdStatus(ctx, rest, stdout, stderr)
	case "validate":
		return cmdValidate(ctx, rest, stdout, stderr)
	case "revoke":
		return cmdRevoke(ctx, rest, stdout, stderr)
	case "retire":
		return cmdRetire(ctx, rest, stdout, stderr)
	case "account":
		return cmdAccount(ctx, rest, stdout, stderr)
	case "persist":
		return cmdPersist(ctx, rest, stdout, stderr)
	case "sandbox", "demo":
		// The test stack is its own binary, so that this one links no Pebble.
		fmt.Fprintf(stderr, "certferry: %s moved to its own binary: run \"certferry-sandbox %s\", or \"make demo\" (docs/sandbox.md)\n",
			cmd, strings.Replace(cmd, "sandbox", "serve", 1))
		return exitUsage
	case "version", "--version":
		fmt.Fprintln(stdout, "certferry", version)
		return exitOK
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return exitOK
	default:
		fmt.Fprintf(stderr, "certferry: unknown command %q\n\n%s", cmd, usage)
		return exitUsage
	}
}

// stopSignals are the signals that stop cmd cleanly. The daemon keeps SIGHUP for reloads.
func stopSignals(cmd string) []os.Signal {
	if cmd == "run" {
		return []os.Signal{syscall.SIGINT, syscall.SIGTERM}
	}
	return []os.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP}
}

// forwardStops cancels the command at the first stop signal and exits at once at a
// second SIGINT or SIGTERM.
func forwardStops(sigs <-chan os.Signal, cancel context.CancelCauseFunc, stderr io.Writer) {
	stopping := false
	for s := range sigs {
		switch {
		case !stopping:
			stopping = true
			fmt.Fprintf(stderr, "certferry: %s: stopping cleanly (send SIGINT or SIGTERM again to force)\n", s)
			cancel(fmt.Errorf("signal %s", s))
		case s == syscall.SIGHUP:
			fmt.Fprintf(stderr, "certferry: %s again: still stopping cleanly\n", s)
		default:
			fmt.Fprintf(stderr, "certferry: %s again: exiting now\n", s)
			os.Exit(130)
		}
	}
}
