// Command certferry-sandbox runs certferry's local test stack: Pebble (Let's Encrypt's
// test CA) in-process, stand-ins for Route 53, Secrets Manager, Auto Scaling and ECS on
// one AWS endpoint, and an authoritative DNS server for the hosted zones, all on
// 127.0.0.1.
//
//	certferry-sandbox [serve] [flags]   serve the sandbox; print one JSON line saying how to reach it
//	certferry-sandbox demo [flags]      the whole job, explained, on a fresh sandbox (make demo)
//
// It is a separate binary so that the production certferry binary links neither Pebble
// nor the stand-ins (a test checks both binaries' dependencies). The JSON line, the
// flags and the sandbox's own endpoints are described in docs/sandbox.md.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Exit codes, in the spirit of certferry's own.
const (
	exitOK      = 0 // done
	exitFailed  = 1 // serve: the sandbox did not start or stop cleanly; demo: a certificate failed
	exitUsage   = 2 // bad flags
	exitUnknown = 3 // demo: anything else went wrong (the sandbox, reading back what was stored)
)

const usage = `certferry-sandbox: certferry's local test stack (Pebble, Route 53, Secrets Manager, DNS).

Usage:
  certferry-sandbox [serve] [flags]   serve the sandbox on 127.0.0.1 until interrupted;
                                      prints one JSON line saying how to reach it
  certferry-sandbox demo [flags]      the whole job, explained, on a fresh sandbox

Run "certferry-sandbox serve -h" or "certferry-sandbox demo -h" for the flags.
docs/sandbox.md describes the JSON line, the flags and the sandbox's own endpoints.
`

func main() {
	// The first SIGINT/SIGTERM cancels ctx, so the sandbox closes and removes its
	// temporary files; stop() then restores the default action, so a second one kills.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop()
	}()
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run dispatches a command; flags alone mean "serve", as `certferry sandbox` took them.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmd, rest := "serve", args
	if len(args) > 0 {
		switch args[0] {
		case "serve", "demo":
			cmd, rest = args[0], args[1:]
		case "help", "-h", "--help":
			fmt.Fprint(stdout, usage)
			return exitOK
		default:
			if len(args[0]) == 0 || args[0][0] != '-' {
				fmt.Fprintf(stderr, "certferry-sandbox: unknown command %q\n\n%s", args[0], usage)
				return exitUsage
			}
		}
	}
	if cmd == "demo" {
		return cmdDemo(ctx, rest, stdout, stderr)
	}
	return cmdServe(ctx, rest, stdout, stderr)
}
