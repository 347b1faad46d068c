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
  certferry renew    [--config F] [--only NAME]... [--force] [--plan | --dry-run]
                                                                           one pass, then exit
  certferry run      [--config F]                                          the daemon (scheduled passes)
  certferry status   [--config F] [--json]                                 what is stored, and when it renews
  certferry validate [--config F] [--lambda] [--online]                   check the configuration (--online: the CA, zones, secrets)
  certferry revoke   NAME [--reason R] [--renew]                           revoke the stored certificate; --renew replaces it
  certferry retire   NAME [--revoke] [--delete-secret [--recovery-window 30d]]  wind down a stored certificate
  certferry account  show | update --email E | rollover | deactivate       the ACME account of the configured CA
  certferry version

Every command but version also takes --log-level (debug, info, warn, error) and
--log-format (auto, json, console).

Exit codes: 0 all fine or nothing due; 1 a certificate is failing or expired (this pass or
an earlier one); 2 bad configuration or usage; 3 could not run (no AWS region or
credentials, inventory unreadable, listen address in use).
revoke, retire and account: 0 done, 1 the CA or AWS refused or failed, 2 bad usage.
Run "certferry COMMAND -h" for a command's flags. The configuration defaults to
./certferry.yaml, or $CERTFERRY_CONFIG when set.
`

// run dispatches a command. A first SIGINT/SIGTERM cancels the command's context so it
// can stop cleanly (TXT records are still removed); a second one forces the exit.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	go func() {
		n := 0
		for s := range sigs {
			n++
			if n == 1 {
				fmt.Fprintf(stderr, "certferry: %s: stopping (send again to force)\n", s)
				cancel(fmt.Errorf("signal %s", s))
				continue
			}
			fmt.Fprintf(stderr, "certferry: %s again: exiting now\n", s)
			os.Exit(130)
		}
	}()

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
