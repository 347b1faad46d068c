package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsroute53 "github.com/aws/aws-sdk-go-v2/service/route53"
	awssm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"go.uber.org/zap"

	"github.com/certferry/certferry/certs"
	"github.com/certferry/certferry/config"
	"github.com/certferry/certferry/internal/app"
	"github.com/certferry/certferry/internal/logging"
	"github.com/certferry/certferry/internal/sandbox"
	"github.com/certferry/certferry/internal/sandbox/acmesim"
	"github.com/certferry/certferry/renew"
)

// demoConfig is the configuration the demo writes, as a user would, from the sandbox's
// JSON line. Every certificate names its profile, as a configuration for Let's Encrypt
// should.
const demoConfig = `# Written by "certferry-sandbox demo" for its sandbox.
acme:
  directory: {{dir}}
  email: demo@example.com
  ca_bundle: {{ca}}
  issuer_roots: {{issuer}}
  account_store: secretsmanager
aws:
  region: {{region}}
  endpoint_url: {{endpoint}}
route53:
  insync_timeout: 2m
concurrency: 4
log:
  level: info
certificates:
  - name: web
    domains: [www.example.com, example.com]
    profile: default
    sinks:
      secretsmanager: { secret: certferry/web }
  - name: wildcard
    domains: ["*.example.net", example.net]
    key_type: ec384
    profile: default
    sinks:
      secretsmanager: { secret: certferry/wildcard }
      file: { dir: {{files}} }
  - name: api
    domains: [api.example.com]
    key_type: rsa2048
    profile: shortlived           # Pebble's 6-day profile, like Let's Encrypt's
    sinks:
      secretsmanager: { secret: certferry/api }
`

// profileNotes says what each of the sandbox's ACME profiles issues.
var profileNotes = map[string]string{
	acmesim.ProfileDefault:    "default, " + days(acmesim.DefaultCertValidity),
	acmesim.ProfileShortLived: "shortlived, " + days(acmesim.ShortLivedValidity),
	acmesim.ProfileTLSServer:  "tlsserver, " + days(acmesim.DefaultCertValidity),
}

// serviceNames are the sandbox's call counter services, as the demo names them.
var serviceNames = []struct{ key, name string }{
	{"acme", "ACME CA (Pebble)"},
	{"route53", "AWS Route 53"},
	{"secretsmanager", "AWS Secrets Manager"},
	{"autoscaling", "AWS Auto Scaling"},
	{"ecs", "AWS ECS"},
}

// cmdDemo runs the whole job on a fresh in-process sandbox and explains every step.
func cmdDemo(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("demo", stderr, `Runs certferry twice against a fresh sandbox on 127.0.0.1 and explains what happened:
the first pass issues three certificates and stores them, the second finds them fresh
and does nothing. Nothing leaves this machine.`)
	insync := fs.Duration("insync-after", 2*time.Second, "how long the sandbox's Route 53 keeps a change PENDING (real Route 53: up to a minute)")
	// certferry's own log goes to stderr; the explanation is printed whatever the level.
	logFlags := logging.AddFlags(fs, "warn")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if *insync < 0 {
		fmt.Fprintln(stderr, "certferry-sandbox demo: --insync-after must not be negative")
		return exitUsage
	}
	log, err := logFlags.Logger(stderr, nil)
	if err != nil {
		fmt.Fprintf(stderr, "certferry-sandbox demo: %v\n", err)
		return exitUsage
	}
	defer func() { _ = log.Sync() }()
	d := &demo{out: stdout, log: log}
	code, err := d.run(ctx, *insync)
	if err != nil {
		fmt.Fprintf(stderr, "certferry-sandbox demo: %v\n", err)
	}
	return code
}

type demo struct {
	out io.Writer
	log *zap.Logger
	sb  *sandbox.Sandbox
	cfg *config.Config
	aws aws.Config
}

func (d *demo) printf(format string, a ...any) { fmt.Fprintf(d.out, format, a...) }

func (d *demo) run(ctx context.Context, insync time.Duration) (int, error) {
	tmp, err := os.MkdirTemp("", "certferry-demo-")
	if err != nil {
		return exitUnknown, err
	}
	defer os.RemoveAll(tmp)

	d.printf("certferry demo: the whole job, end to end, against a sandbox on this machine.\n" +
		"The CA is Pebble (Let's Encrypt's test CA) and AWS is played by local stand-ins, so\n" +
		"nothing leaves 127.0.0.1 and no browser trusts these certificates.\n\n")

	d.sb, err = sandbox.Start(ctx, sandbox.Options{Zones: []string{"example.com", "example.net"}, InsyncAfter: insync, Dir: filepath.Join(tmp, "ca")})
	if err != nil {
		return exitUnknown, err
	}
	defer d.sb.Close()
	d.aws = d.sb.AWSConfig(ctx)
	info := d.sb.Info()
	d.printf("== 1. The sandbox (127.0.0.1 only; it stops when the demo ends)\n")
	tw := tabwriter.NewWriter(d.out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "   ACME CA\t%s\tPebble: accounts, orders, DNS-01 validation, issuance\n", info.ACMEDirectory)
	fmt.Fprintf(tw, "   AWS endpoint\t%s\tRoute 53 and Secrets Manager stand-ins (any credentials)\n", info.AWSEndpoint)
	fmt.Fprintf(tw, "   DNS server\t%s\tserves the hosted zones; Pebble asks it for the TXT records\n", info.DNS)
	_ = tw.Flush()
	d.printf("   hosted zones  %s\n", zoneList(info.Zones))
	d.printf("   A Route 53 change stays PENDING for %s, then INSYNC (real Route 53: up to a minute).\n\n", insync)

	yaml := strings.NewReplacer("{{dir}}", info.ACMEDirectory, "{{ca}}", info.ACMECABundle, "{{issuer}}", info.IssuerRoots,
		"{{region}}", info.Region, "{{endpoint}}", info.AWSEndpoint, "{{files}}", filepath.Join(tmp, "files", "wildcard")).Replace(demoConfig)
	cfgPath := filepath.Join(tmp, "certferry.yaml")
	if err := os.WriteFile(cfgPath, []byte(yaml), 0o600); err != nil {
		return exitUnknown, err
	}
	if d.cfg, err = config.Load(cfgPath, func(string) (string, bool) { return "", false }); err != nil {
		return exitUnknown, fmt.Errorf("the demo configuration is invalid: %w", err)
	}
	// The file goes with the sandbox it points at: say so, so nobody reaches for it later.
	d.printf("== 2. The configuration certferry reads (%s, deleted with the sandbox when the\n"+
		"   demo ends; for a sandbox that stays, run `certferry-sandbox serve`: docs/sandbox.md)\n", cfgPath)
	d.printConfig()

	d.printf("\n== 3. Pass 1: nothing is stored yet, so every certificate is issued\n")
	if code, err := d.pass(ctx, renew.Options{}); code != exitOK {
		return code, err
	}
	d.printf("   ACTION: issue = a first certificate, renew = replace a stored one, skip = nothing to\n" +
		"   do. WHY is the rule that decided (missing = nothing stored yet, not-due = well inside\n" +
		"   its lifetime). Each request count is HTTP requests answered by that service during\n" +
		"   the pass; the demo's own reads below are not counted.\n")

	d.printf("\n== 4. What was stored where\n")
	if err := d.printStored(ctx); err != nil {
		return exitUnknown, err
	}

	d.printf("\n== 5. Pass 2: everything is stored and fresh, so nothing is due\n")
	if code, err := d.pass(ctx, renew.Options{}); code != exitOK {
		return code, err
	}
	if code, err := d.persist(ctx, yaml, tmp); code != exitOK {
		return code, err
	}
	d.printf("\nA real run is the same with the sandbox's addresses left out of the configuration:\n" +
		"`certferry renew` once, or `certferry run` on a schedule (README.md). To try certferry\n" +
		"by hand against a sandbox, run `certferry-sandbox serve` (docs/sandbox.md).\n")
	return exitOK, nil
}

// pass runs one pass and prints what it did and what it cost.
func (d *demo) pass(ctx context.Context, opts renew.Options) (int, error) {
	d.sb.Calls().Reset()
	a, err := app.New(ctx, d.cfg, d.log, app.Options{AWS: &d.aws, Version: "demo"})
	if err != nil {
		return exitUnknown, err
	}
	sum, err := a.Runner.Pass(ctx, opts)
	if err != nil {
		return exitUnknown, err
	}
	counts := d.sb.Calls().Counts()

	tw := tabwriter.NewWriter(d.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "   CERTIFICATE\tACTION\tWHY\tRESULT\tVALID UNTIL\tTOOK")
	for _, r := range sum.Results {
		result := "ok"
		switch {
		case r.Error != "":
			result = "FAILED: " + r.Error
		case r.HookError != "":
			result = "stored; hook failed: " + r.HookError
		case r.Action == renew.ActionSkip:
			result = "-"
		}
		until := "-"
		if !r.NotAfter.IsZero() {
			until = r.NotAfter.UTC().Format("2006-01-02 15:04 MST")
		}
		took := "-"
		if r.Duration > 0 {
			took = r.Duration.Round(10 * time.Millisecond).String()
		}
		fmt.Fprintf(tw, "   %s\t%s\t%s\t%s\t%s\t%s\n", r.Name, r.Action, r.Reason, result, until, took)
	}
	_ = tw.Flush()
	d.printf("   %d certificate(s), %d failed, in %s.\n", len(sum.Results), sum.Failed(), sum.Duration.Round(10*time.Millisecond))

	d.printf("   Requests this pass made, as counted by the sandbox:\n")
	tw = tabwriter.NewWriter(d.out, 0, 4, 2, ' ', 0)
	for _, s := range serviceNames {
		total, ops := 0, []string{}
		for _, k := range slices.Sorted(maps.Keys(counts)) {
			if op, ok := strings.CutPrefix(k, s.key+"."); ok && counts[k] > 0 {
				total += counts[k]
				ops = append(ops, fmt.Sprintf("%s %d", op, counts[k]))
			}
		}
		if total == 0 && (s.key == "autoscaling" || s.key == "ecs") {
			continue // no hook of the demo uses them
		}
		detail := "none"
		if total > 0 {
			detail = strings.Join(ops, ", ")
		}
		fmt.Fprintf(tw, "     %s\t%d\t%s\n", s.name, total, detail)
	}
	_ = tw.Flush()
	if err := sum.Err(); err != nil {
		return exitFailed, err
	}
	if sum.HookFailures() > 0 {
		return exitFailed, errors.New("a hook failed")
	}
	return exitOK, nil
}

// printConfig prints the demo's certificates: names, key, profile and destinations.
func (d *demo) printConfig() {
	tw := tabwriter.NewWriter(d.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "   CERTIFICATE\tNAMES\tKEY\tACME PROFILE\tSTORED IN")
	for _, c := range d.cfg.Certificates {
		var where []string
		if c.Sinks.SecretsManager != nil {
			where = append(where, "Secrets Manager secret "+c.Sinks.SecretsManager.Secret)
		}
		if c.Sinks.File != nil {
			where = append(where, "PEM files in "+c.Sinks.File.Dir)
		}
		note := profileNotes[c.Profile]
		if note == "" {
			note = c.Profile
		}
		fmt.Fprintf(tw, "   %s\t%s\t%s\t%s\t%s\n", c.Name, strings.Join(c.Domains, ", "), c.KeyType, note, strings.Join(where, " + "))
	}
	_ = tw.Flush()
	d.printf("   The ACME profiles are the sandbox's copies of Let's Encrypt's: \"default\" puts the first\n"+
		"   name in the subject; \"shortlived\" certificates carry the names in the SAN only (an empty\n"+
		"   subject) and are renewed when half their life is left. The ACME account key is stored\n"+
		"   in Secrets Manager too (secret %s).\n", d.cfg.ACME.AccountSecret)
}

// printStored reads back what the pass stored, as an operator would check it.
func (d *demo) printStored(ctx context.Context) error {
	sm := awssm.NewFromConfig(d.aws)
	d.printf("   Secrets Manager: one JSON secret per certificate (chain, key and metadata;\n" +
		"   docs/secret-format.md), read back here from its AWSCURRENT version. Keys are never printed.\n")
	tw := tabwriter.NewWriter(d.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "   SECRET\tNAMES IN THE CERTIFICATE\tKEY\tISSUER\tVALID UNTIL\tVERSION")
	for _, c := range d.cfg.Certificates {
		if c.Sinks.SecretsManager == nil {
			continue
		}
		out, err := sm.GetSecretValue(ctx, &awssm.GetSecretValueInput{SecretId: aws.String(c.Sinks.SecretsManager.Secret)})
		if err != nil {
			return fmt.Errorf("read secret %s: %w", c.Sinks.SecretsManager.Secret, err)
		}
		b, err := certs.ParseSecret([]byte(aws.ToString(out.SecretString)))
		if err != nil {
			return fmt.Errorf("parse secret %s: %w", c.Sinks.SecretsManager.Secret, err)
		}
		version := aws.ToString(out.VersionId)
		if len(version) > 8 {
			version = version[:8] + "..."
		}
		fmt.Fprintf(tw, "   %s\t%s\t%s\t%s\t%s (%s)\t%s\n", aws.ToString(out.Name), strings.Join(b.Domains, ", "), b.KeyType,
			b.Leaf.Issuer.CommonName, b.NotAfter.UTC().Format("2006-01-02"), days(b.NotAfter.Sub(b.NotBefore)), version)
	}
	_ = tw.Flush()

	for _, c := range d.cfg.Certificates {
		if c.Sinks.File == nil {
			continue
		}
		entries, err := os.ReadDir(c.Sinks.File.Dir)
		if err != nil {
			return fmt.Errorf("list %s: %w", c.Sinks.File.Dir, err)
		}
		var files []string
		for _, e := range entries {
			if fi, err := e.Info(); err == nil {
				files = append(files, fmt.Sprintf("%s (%#o)", e.Name(), fi.Mode().Perm()))
			}
		}
		d.printf("   PEM files of %s in %s: %s\n", c.Name, c.Sinks.File.Dir, strings.Join(files, ", "))
	}

	left, err := challengeRecordsLeft(ctx, awsroute53.NewFromConfig(d.aws), d.sb.Info().Zones)
	if err != nil {
		return err
	}
	d.printf("   Route 53: %d _acme-challenge TXT record(s) left in the zones (each is removed once\n"+
		"   its validation is over).\n", left)
	return nil
}

// challengeRecordsLeft counts _acme-challenge records in the sandbox's zones.
func challengeRecordsLeft(ctx context.Context, r53 *awsroute53.Client, zones map[string]string) (int, error) {
	n := 0
	for _, id := range zones {
		p := awsroute53.NewListResourceRecordSetsPaginator(r53, &awsroute53.ListResourceRecordSetsInput{HostedZoneId: aws.String(id)})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return 0, fmt.Errorf("list records of zone %s: %w", id, err)
			}
			for _, rr := range page.ResourceRecordSets {
				if strings.HasPrefix(aws.ToString(rr.Name), "_acme-challenge.") {
					n++
				}
			}
		}
	}
	return n, nil
}

// zoneList prints zones as "example.com. (zone Z1), example.net. (zone Z2)".
func zoneList(zones map[string]string) string {
	names := slices.Sorted(maps.Keys(zones))
	for i, name := range names {
		names[i] = fmt.Sprintf("%s (zone %s)", name, zones[name])
	}
	return strings.Join(names, ", ")
}

// days prints a validity as days and hours: "90 days", "6 days 16 hours".
func days(d time.Duration) string {
	d = d.Round(time.Hour)
	n, h := int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour)
	s := fmt.Sprintf("%d days", n)
	if h > 0 {
		s += fmt.Sprintf(" %d hours", h)
	}
	return s
}

// persist shows dns-persist-01 (experimental; docs/dns.md): the same certificates with
// challenge: dns-persist-01, renewed twice with --force; the second pass makes no Route
// 53 write.
func (d *demo) persist(ctx context.Context, yaml, tmp string) (int, error) {
	d.printf("\n== 6. dns-persist-01 (experimental): renewals with no DNS write\n" +
		"   The same configuration with `challenge: dns-persist-01`, renewed twice with --force.\n" +
		"   The first pass writes one standing _validation-persist record per name, in one change\n" +
		"   per zone, before ordering; the CA then validates every name from them.\n")
	path := filepath.Join(tmp, "certferry-persist.yaml")
	if err := os.WriteFile(path, []byte(strings.Replace(yaml, "certificates:\n", "challenge: dns-persist-01\ncertificates:\n", 1)), 0o600); err != nil {
		return exitUnknown, err
	}
	cfg, err := config.Load(path, func(string) (string, bool) { return "", false })
	if err != nil {
		return exitUnknown, fmt.Errorf("the demo configuration is invalid: %w", err)
	}
	d.cfg = cfg
	if code, err := d.pass(ctx, renew.Options{Force: true}); code != exitOK {
		return code, err
	}
	for _, id := range slices.Sorted(maps.Values(d.sb.Info().Zones)) {
		for _, rs := range d.sb.Route53().Records(id) {
			if strings.HasPrefix(rs.Name, "_validation-persist.") {
				d.printf("   %s TXT %s\n", rs.Name, strings.Join(rs.Values, " "))
			}
		}
	}
	d.printf("\n   Pass 2 with the records in place: every certificate renewed, and Route 53 only read\n" +
		"   (no ChangeResourceRecordSets, no GetChange): such a runner needs no DNS write permission.\n")
	return d.pass(ctx, renew.Options{Force: true})
}
