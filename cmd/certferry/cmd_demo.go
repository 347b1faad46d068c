package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsroute53 "github.com/aws/aws-sdk-go-v2/service/route53"
	awssm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/certferry/certferry/certs"
	"github.com/certferry/certferry/config"
	"github.com/certferry/certferry/internal/logging"
	"github.com/certferry/certferry/renew"
	"github.com/certferry/certferry/sandbox"
)

// demoConfig is the configuration the demo writes, as a user would, from the sandbox's
// contract-6 line.
const demoConfig = `# Written by "certferry demo" for its sandbox.
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

// cmdDemo runs the whole job on a fresh in-process sandbox and shows the result.
func cmdDemo(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("demo", "[--insync-after DUR] [--log-level L] [--log-format F]", stderr)
	insync := fs.Duration("insync-after", 2*time.Second, "how long the sandbox's Route 53 keeps a change PENDING")
	logs := logging.AddFlags(fs, "warn") // the passes' logs; the summary is printed anyway
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	tmp, err := os.MkdirTemp("", "certferry-demo-")
	if err != nil {
		fmt.Fprintf(stderr, "certferry demo: %v\n", err)
		return exitUnknown
	}
	defer os.RemoveAll(tmp)

	fmt.Fprintln(stdout, "== starting the sandbox: Pebble (ACME), Route 53, Secrets Manager and DNS on 127.0.0.1")
	sb, err := sandbox.Start(ctx, sandbox.Options{Zones: []string{"example.com", "example.net"}, InsyncAfter: *insync, Dir: filepath.Join(tmp, "ca")})
	if err != nil {
		fmt.Fprintf(stderr, "certferry demo: sandbox: %v\n", err)
		return exitUnknown
	}
	defer sb.Close()
	info := sb.Info()
	fmt.Fprintf(stdout, "   ACME directory %s\n   AWS endpoint   %s\n   DNS            %s\n   zones          %v\n\n", info.ACMEDirectory, info.AWSEndpoint, info.DNS, info.Zones)

	yaml := strings.NewReplacer("{{dir}}", info.ACMEDirectory, "{{ca}}", info.ACMECABundle, "{{issuer}}", info.IssuerRoots,
		"{{region}}", info.Region, "{{endpoint}}", info.AWSEndpoint, "{{files}}", filepath.Join(tmp, "files", "wildcard")).Replace(demoConfig)
	cfgPath := filepath.Join(tmp, "certferry.yaml")
	if err := os.WriteFile(cfgPath, []byte(yaml), 0o600); err != nil {
		fmt.Fprintf(stderr, "certferry demo: %v\n", err)
		return exitUnknown
	}
	cfg, err := config.Load(cfgPath, func(string) (string, bool) { return "", false })
	if err != nil {
		fmt.Fprintf(stderr, "certferry demo: the demo configuration is invalid: %v\n", err)
		return exitUnknown
	}
	awsCfg := sb.AWSConfig(ctx)

	fmt.Fprintln(stdout, "== pass 1: nothing is stored yet, so every certificate is issued")
	sb.Calls().Reset()
	sum, code := renewOnce(ctx, cfg, renew.Options{}, logs, stderr, &awsCfg)
	if sum == nil {
		return code
	}
	printSummary(stdout, sum)
	printCalls(stdout, sb)
	if code != exitOK {
		return code
	}

	fmt.Fprintln(stdout, "\n== what Secrets Manager holds now (AWSCURRENT; the key is never printed)")
	if err := printStored(ctx, stdout, awssm.NewFromConfig(awsCfg), cfg); err != nil {
		fmt.Fprintf(stderr, "certferry demo: %v\n", err)
		return exitUnknown
	}
	left, err := challengeRecordsLeft(ctx, awsroute53.NewFromConfig(awsCfg), info.Zones)
	if err != nil {
		fmt.Fprintf(stderr, "certferry demo: %v\n", err)
		return exitUnknown
	}
	fmt.Fprintf(stdout, "   _acme-challenge records left in the zones: %d\n", left)

	fmt.Fprintln(stdout, "\n== pass 2: everything is stored and fresh, so nothing is due")
	sb.Calls().Reset()
	sum, code = renewOnce(ctx, cfg, renew.Options{}, logs, stderr, &awsCfg)
	if sum == nil {
		return code
	}
	printSummary(stdout, sum)
	printCalls(stdout, sb)
	return code
}

func printCalls(w io.Writer, sb *sandbox.Sandbox) {
	c := sb.Calls()
	var parts []string
	for _, k := range c.Keys() {
		parts = append(parts, fmt.Sprintf("%s=%d", k, c.Counts()[k]))
	}
	if len(parts) == 0 {
		parts = []string{"none"}
	}
	fmt.Fprintf(w, "   AWS calls: %s\n", strings.Join(parts, " "))
}

func printStored(ctx context.Context, w io.Writer, sm *awssm.Client, cfg *config.Config) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "   SECRET\tSUBJECT\tNAMES\tISSUER\tNOT AFTER\tKEY\tVERSION")
	for _, c := range cfg.Certificates {
		if c.Sinks.SecretsManager == nil {
			continue
		}
		out, err := sm.GetSecretValue(ctx, &awssm.GetSecretValueInput{SecretId: aws.String(c.Sinks.SecretsManager.Secret)})
		if err != nil {
			return fmt.Errorf("read %s: %w", c.Sinks.SecretsManager.Secret, err)
		}
		b, err := certs.ParseSecret([]byte(aws.ToString(out.SecretString)))
		if err != nil {
			return fmt.Errorf("parse %s: %w", c.Sinks.SecretsManager.Secret, err)
		}
		fmt.Fprintf(tw, "   %s\t%s\t%s\t%s\t%s\t%s\t%s\n", aws.ToString(out.Name), b.Leaf.Subject.CommonName, strings.Join(b.Domains, ","),
			b.Leaf.Issuer.CommonName, b.NotAfter.Format("2006-01-02"), b.KeyType, aws.ToString(out.VersionId)[:12]+"...")
	}
	return tw.Flush()
}

// challengeRecordsLeft counts _acme-challenge records in the sandbox's zones.
func challengeRecordsLeft(ctx context.Context, r53 *awsroute53.Client, zones map[string]string) (int, error) {
	n := 0
	for _, id := range zones {
		p := awsroute53.NewListResourceRecordSetsPaginator(r53, &awsroute53.ListResourceRecordSetsInput{HostedZoneId: aws.String(id)})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return 0, fmt.Errorf("list records of %s: %w", id, err)
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
