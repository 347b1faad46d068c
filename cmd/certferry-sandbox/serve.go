package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/certferry/certferry/config"
	"github.com/certferry/certferry/internal/logging"
	"github.com/certferry/certferry/internal/sandbox"
	"github.com/certferry/certferry/internal/sandbox/acmesim"
	"github.com/certferry/certferry/internal/sandbox/ddbsim"
	"github.com/certferry/certferry/internal/sandbox/limitsim"
)

const serveUsage = `Usage: certferry-sandbox [serve] [flags]

Serves, on 127.0.0.1 only, Pebble (an ACME test CA), one AWS endpoint answering Route 53,
Secrets Manager, DynamoDB, Auto Scaling and ECS, and an authoritative DNS server for the public
hosted zones, which Pebble asks to validate DNS-01. Prints one JSON line on stdout
(docs/sandbox.md describes it):

  {"acme_directory": ..., "acme_ca_bundle": ..., "issuer_roots": ..., "aws_endpoint": ...,
   "region": "us-east-1", "dns": "127.0.0.1:PORT", "zones": {"example.com.": "ZONEID"},
   "lease_table": "certferry-leases"}

then serves until SIGINT or SIGTERM. Any AWS credentials work. The sandbox's own
endpoints are under <aws_endpoint>/_sandbox/ (calls, faults, info, renewal-info).
An order that names no ACME profile gets "default" unless --random-profile is given.

Flags:
`

// cmdServe serves the local stand-ins until ctx is done.
func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("certferry-sandbox serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, serveUsage)
		fs.PrintDefaults()
	}
	var opts sandbox.Options
	serveFlags(fs, &opts)
	pebbleLog := fs.Bool("pebble-log", false, "log Pebble's lines at info level (they are logged at debug level otherwise)")
	logs := logging.AddFlags(fs, "info")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if msg := checkServe(&opts); msg != "" {
		return serveUsageError(stderr, msg)
	}
	log, err := logs.Logger(stderr, nil)
	if err != nil {
		return serveUsageError(stderr, err.Error())
	}
	defer func() { _ = log.Sync() }()
	pebbleLevel := zap.DebugLevel
	if *pebbleLog {
		pebbleLevel = zap.InfoLevel
	}
	if log.Core().Enabled(pebbleLevel) {
		if opts.Logger, err = zap.NewStdLogAt(log.Named("pebble"), pebbleLevel); err != nil {
			return serveUsageError(stderr, err.Error())
		}
	}

	sb, err := sandbox.Start(ctx, opts)
	if err != nil {
		fmt.Fprintf(stderr, "certferry-sandbox: %v\n", err)
		return exitFailed
	}
	line, err := json.Marshal(sb.Info())
	if err == nil {
		_, err = fmt.Fprintf(stdout, "%s\n", line)
	}
	if err != nil {
		fmt.Fprintf(stderr, "certferry-sandbox: print info: %v\n", err)
		_ = sb.Close()
		return exitFailed
	}
	log.Info("certferry-sandbox: serving; stop with Ctrl-C or SIGTERM")

	<-ctx.Done()
	if err := sb.Close(); err != nil {
		fmt.Fprintf(stderr, "certferry-sandbox: %v\n", err)
		return exitFailed
	}
	log.Info("certferry-sandbox: stopped")
	return exitOK
}

// serveFlags defines serve's flags of the sandbox's options.
func serveFlags(fs *flag.FlagSet, opts *sandbox.Options) {
	fs.Func("zone", "public hosted zone to create and serve over DNS (repeatable)", zoneFlag(&opts.Zones))
	fs.Func("private-zone", "private hosted zone to create, API only (repeatable)", zoneFlag(&opts.PrivateZones))
	accountFlags(fs, opts)
	fs.DurationVar(&opts.InsyncAfter, "insync-after", 0, "delay before a Route 53 change turns INSYNC (AWS: about a minute)")
	fs.Float64Var(&opts.Route53Rate, "route53-rate", 0, "Route 53 requests per second before Throttling; 0 is unlimited (AWS: 10)")
	fs.IntVar(&opts.Route53Burst, "route53-burst", 0, "Route 53 burst size with --route53-rate (AWS: 50)")
	fs.IntVar(&opts.NonceRejectPercent, "nonce-reject", 0, "percentage of good nonces Pebble rejects as bad, 0-99 (Pebble's own default: 5)")
	fs.BoolVar(&opts.ValidationSleep, "validation-sleep", false, "let Pebble sleep a random 0-5 s before each validation")
	fs.IntVar(&opts.AuthzReusePercent, "authz-reuse", 0, "percentage of orders in which Pebble reuses a valid authorization, 0-100")
	fs.DurationVar(&opts.CertValidity, "cert-validity", 0, `validity of the "default" profile (0: 90 days; "shortlived" is 160h, "tlsserver" 90 days)`)
	fs.BoolVar(&opts.RandomProfile, "random-profile", false, `give orders that name no ACME profile a random one, as Pebble itself does (default: "default")`)
	limitFlag(fs, "limit-new-orders", "new orders per account", "300/3h", &opts.Limits.NewOrders)
	limitFlag(fs, "limit-per-domain", "new certificates per registered domain", "50/168h", &opts.Limits.PerDomain)
	limitFlag(fs, "limit-duplicates", "certificates per exact set of names", "5/168h", &opts.Limits.Duplicates)
	fs.StringVar(&opts.LeaseTable, "lease-table", sandbox.DefaultLeaseTable, `DynamoDB table created for certferry's leases (coordination.dynamodb_table); "" creates none`)
	fs.Func("persist-issuer", `issuer domain name of Pebble's dns-persist-01 challenges and CAA identities (default "pebble.letsencrypt.org")`, func(v string) error {
		if v == "" {
			return errors.New("empty (--no-dns-persist offers no dns-persist-01)")
		}
		opts.PersistIssuer = v
		return nil
	})
	fs.BoolVar(&opts.NoDNSPersist, "no-dns-persist", false, "offer no dns-persist-01 challenge, as Let's Encrypt production today")
	fs.StringVar(&opts.Dir, "dir", "", "directory for tls-roots.pem and issuer-roots.pem, created if missing and kept (default: a temporary directory, removed at exit)")
}

// checkServe says what is wrong with the options the flags gave ("" when nothing) and
// sets NoLeaseTable.
func checkServe(opts *sandbox.Options) string {
	switch {
	case opts.InsyncAfter < 0:
		return "--insync-after must not be negative"
	case opts.Route53Rate < 0:
		return "--route53-rate must not be negative"
	case opts.Route53Burst < 0:
		return "--route53-burst must not be negative"
	case opts.NonceRejectPercent < 0 || opts.NonceRejectPercent > 99:
		return "--nonce-reject must be 0-99"
	case opts.AuthzReusePercent < 0 || opts.AuthzReusePercent > 100:
		return "--authz-reuse must be 0-100"
	case opts.CertValidity < 0 || (opts.CertValidity > 0 && opts.CertValidity < time.Second):
		return "--cert-validity must be 0 or at least 1s"
	case opts.PersistIssuer != "" && !acmesim.ValidIssuerName(opts.PersistIssuer):
		return fmt.Sprintf("--persist-issuer: %q is not a lowercase domain name", opts.PersistIssuer)
	}
	opts.NoLeaseTable = opts.LeaseTable == ""
	if !opts.NoLeaseTable {
		if err := ddbsim.CheckTableName(opts.LeaseTable); err != nil {
			return "--lease-table: " + err.Error()
		}
	}
	return ""
}

func serveUsageError(stderr io.Writer, msg string) int {
	fmt.Fprintf(stderr, "certferry-sandbox: %s\n", msg)
	return exitUsage
}

// zoneFlag appends a zone name to zones: a valid DNS name (config's rules, so the
// sandbox never holds a zone certferry's configuration could not name), no wildcard, no
// repeat.
func zoneFlag(zones *[]string) func(string) error {
	return func(v string) error {
		if v == "" {
			return errors.New("empty zone name")
		}
		name, err := config.NormalizeDomain(strings.TrimSuffix(v, ".")) // Route 53 writes the final dot
		if err != nil {
			return err
		}
		if strings.HasPrefix(name, "*") {
			return fmt.Errorf("%q: a zone cannot be a wildcard", v)
		}
		if slices.Contains(*zones, name) {
			return fmt.Errorf("%q: zone given twice", v)
		}
		*zones = append(*zones, name)
		return nil
	}
}

// limitFlag adds a --limit-* flag: N/DURATION (config's acme.limits form), the CA
// answering rateLimited beyond N in any DURATION.
func limitFlag(fs *flag.FlagSet, name, what, le string, dst *limitsim.Limit) {
	fs.Func(name, "the CA allows at most N "+what+" in any DURATION (`N/DURATION`; Let's Encrypt: "+le+"), then answers rateLimited with Retry-After; ARI replacements are exempt (default: none)", func(v string) error {
		l, err := config.ParseLimit(v)
		if err != nil {
			return err
		}
		*dst = limitsim.Limit{N: l.N, Window: l.Window}
		return nil
	})
}
