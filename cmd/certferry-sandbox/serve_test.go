// Tests of certferry-sandbox as a user runs it: the built binary, its flags, its JSON
// line, and a demo run to the end.
package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/miekg/dns"

	"github.com/certferry/certferry/internal/sandbox"
	"github.com/certferry/certferry/internal/testwait"
)

// insyncAfter is the PENDING time of the served sandbox's Route 53 changes.
const insyncAfter = 100 * time.Millisecond

// sandboxBinary builds cmd/certferry-sandbox into a temporary directory.
func sandboxBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "certferry-sandbox")
	cmd := exec.CommandContext(t.Context(), "go", "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build cmd/certferry-sandbox: %v\n%s", err, out)
	}
	return bin
}

func TestServe(t *testing.T) {
	t.Parallel()
	bin := sandboxBinary(t)

	t.Run("flags", func(t *testing.T) {
		tests := []struct {
			args   []string
			code   int
			stderr string
		}{
			{[]string{"serve", "-h"}, 0, "Usage: certferry-sandbox [serve] [flags]"},
			{[]string{"-h"}, 0, ""}, // the command list, on stdout
			{[]string{"demo", "-h"}, 0, "Usage: certferry-sandbox demo [flags]"},
			{[]string{"--bogus"}, 2, "flag provided but not defined: -bogus"},
			{[]string{"--nonce-reject", "100"}, 2, "certferry-sandbox: --nonce-reject must be 0-99"},
			{[]string{"serve", "--authz-reuse", "101"}, 2, "certferry-sandbox: --authz-reuse must be 0-100"},
			{[]string{"--insync-after", "soon"}, 2, `invalid value "soon" for flag -insync-after`},
			{[]string{"demo", "--insync-after", "-1s"}, 2, "--insync-after must not be negative"},
			{[]string{"demo", "--log-level", "loud"}, 2, `log level "loud"`},
			{[]string{"--zone", ""}, 2, "empty zone name"},
			{[]string{"--zone", "bad zone!"}, 2, `invalid value "bad zone!" for flag -zone`},
			{[]string{"--zone", "*.example.com"}, 2, "a zone cannot be a wildcard"},
			{[]string{"--zone", "example.com", "--zone", "EXAMPLE.com."}, 2, "zone given twice"},
			{[]string{"--account-zone", "example.org"}, 2, `"example.org": write <12-digit account>:<zone>`},
			{[]string{"--external-id", "21098765432:x"}, 2, `"21098765432:x": write <12-digit account>:<external id>`},
			{[]string{"--cname", "_acme-challenge.www.example.com"}, 2, `write NAME=TARGET`},
			{[]string{"--lease-table", "a b"}, 2, "--lease-table: 1 validation error"},
			{[]string{"--persist-issuer", "Pebble.Example"}, 2, `--persist-issuer: "Pebble.Example" is not a lowercase domain name`},
			{[]string{"--persist-issuer", "ca.example; accounturi=x"}, 2, "is not a lowercase domain name"},
			{[]string{"--persist-issuer", ""}, 2, "-persist-issuer: empty"},
			{[]string{"serve", "extra"}, 2, `certferry-sandbox serve: unexpected argument "extra"`},
			{[]string{"extra"}, 2, `certferry-sandbox: unknown command "extra"`},
		}
		for _, tt := range tests {
			var stderr bytes.Buffer
			cmd := exec.CommandContext(t.Context(), bin, tt.args...)
			cmd.Stderr = &stderr
			err := cmd.Run()
			code := 0
			if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatalf("%v: %v", tt.args, err)
			}
			if code != tt.code || !strings.Contains(stderr.String(), tt.stderr) {
				t.Errorf("%v: exit %d, stderr %q; want exit %d and %q", tt.args, code, stderr.String(), tt.code, tt.stderr)
			}
		}
	})

	t.Run("serve", func(t *testing.T) {
		var stderr bytes.Buffer
		cmd := exec.CommandContext(t.Context(), bin, "--zone", "example.com", "--insync-after", insyncAfter.String())
		cmd.Stderr = &stderr
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		stopped := false
		defer func() {
			if !stopped {
				_ = cmd.Process.Kill()
				_ = cmd.Wait()
			}
		}()

		// The line comes once the sandbox serves; a sandbox that dies instead closes
		// stdout (an empty line fails below), one that hangs is cut by go test -timeout.
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		var info sandbox.Info
		dec := json.NewDecoder(strings.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&info); err != nil {
			t.Fatalf("decode %q: %v", line, err)
		}
		zoneID := info.Zones["example.com."]
		if zoneID == "" || info.Region != "us-east-1" || info.LeaseTable != "certferry-leases" {
			t.Fatalf("info = %+v", info)
		}

		// A separate client, built only from the JSON line.
		ctx := t.Context()
		cfg := aws.Config{
			Region:       info.Region,
			Credentials:  credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "anything", ""),
			BaseEndpoint: aws.String(info.AWSEndpoint),
		}
		r53 := route53.NewFromConfig(cfg)
		out, err := r53.ChangeResourceRecordSets(ctx, &route53.ChangeResourceRecordSetsInput{
			HostedZoneId: aws.String(zoneID),
			ChangeBatch: &r53types.ChangeBatch{Changes: []r53types.Change{{
				Action: r53types.ChangeActionUpsert,
				ResourceRecordSet: &r53types.ResourceRecordSet{
					Name: aws.String("_acme-challenge.example.com"), Type: r53types.RRTypeTxt, TTL: aws.Int64(60),
					ResourceRecords: []r53types.ResourceRecord{{Value: aws.String(`"hello"`)}},
				},
			}}},
		})
		if err != nil {
			t.Fatalf("ChangeResourceRecordSets: %v", err)
		}
		waitInsync(t, r53, aws.ToString(out.ChangeInfo.Id))

		m := new(dns.Msg)
		m.SetQuestion("_acme-challenge.example.com.", dns.TypeTXT)
		r, _, err := (&dns.Client{Net: "tcp", Timeout: testwait.For(0)}).ExchangeContext(ctx, m, info.DNS)
		if err != nil {
			t.Fatalf("DNS over TCP: %v", err)
		}
		if len(r.Answer) != 1 || r.Answer[0].(*dns.TXT).Txt[0] != "hello" || !r.Authoritative {
			t.Errorf("TXT answer = %v", r)
		}

		sm := secretsmanager.NewFromConfig(cfg)
		if _, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
			Name: aws.String("cli"), SecretString: aws.String("v1"),
		}); err != nil {
			t.Fatalf("CreateSecret: %v", err)
		}
		got, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("cli")})
		if err != nil || aws.ToString(got.SecretString) != "v1" {
			t.Fatalf("GetSecretValue = %v, %v", got, err)
		}

		// The lease table named in the line answers DynamoDB.
		ddb := dynamodb.NewFromConfig(cfg)
		if _, err := ddb.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(info.LeaseTable)}); err != nil {
			t.Errorf("DescribeTable %s: %v", info.LeaseTable, err)
		}

		// The ACME directory answers over HTTPS trusted through acme_ca_bundle.
		pemBytes, err := os.ReadFile(info.ACMECABundle)
		if err != nil {
			t.Fatal(err)
		}
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(pemBytes)
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
		defer tr.CloseIdleConnections()
		resp, err := (&http.Client{Transport: tr}).Get(info.ACMEDirectory)
		if err != nil {
			t.Fatalf("GET %s: %v", info.ACMEDirectory, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %s", info.ACMEDirectory, resp.Status)
		}

		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		stopped = true
		if err := cmd.Wait(); err != nil {
			t.Fatalf("after SIGTERM: %v; stderr:\n%s", err, stderr.String())
		}
		if !strings.Contains(stderr.String(), "certferry-sandbox: stopped") {
			t.Errorf("stderr = %q", stderr.String())
		}
		if _, err := os.Stat(info.ACMECABundle); !os.IsNotExist(err) {
			t.Errorf("temporary CA files left behind: %v", err)
		}
	})
}

func waitInsync(t *testing.T, client *route53.Client, id string) {
	t.Helper()
	ctx := t.Context()
	// The change turns INSYNC insyncAfter after it was made; a loaded machine may delay
	// the polls, never by hundreds of times that.
	wait := 300 * insyncAfter
	deadline := time.Now().Add(wait)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		got, err := client.GetChange(ctx, &route53.GetChangeInput{Id: aws.String(id)})
		if err != nil {
			t.Fatalf("GetChange: %v", err)
		}
		if got.ChangeInfo.Status == r53types.ChangeStatusInsync {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("change %s not INSYNC after %s (the sandbox makes it INSYNC after %s)", id, wait, insyncAfter)
		}
		<-tick.C
	}
}

// TestDemo runs the demo to the end in-process and checks that its explanation is there:
// what ran, what was stored where, ACME and AWS requests apart, and none of Go's own
// formatting of maps.
func TestDemo(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	if code := run(t.Context(), []string{"demo", "--insync-after", insyncAfter.String()}, &stdout, &stderr); code != exitOK {
		t.Fatalf("demo: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{
		"== 1. The sandbox", "hosted zones  example.com. (zone Z", "example.net. (zone Z",
		"== 2. The configuration certferry reads",
		"api          api.example.com               rsa2048  shortlived, 6 days 16 hours",
		"web          www.example.com, example.com  ec256    default, 90 days",
		"== 3. Pass 1", "web          issue   missing",
		"ACME CA (Pebble)", "AWS Route 53", "AWS Secrets Manager",
		"== 4. What was stored where", "certferry/web ", "(90 days)", "(6 days 16 hours)",
		"privkey.pem (0600)",
		"Route 53: 0 _acme-challenge TXT record(s) left",
		"== 5. Pass 2", "web          skip    not-due",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
	for _, bad := range []string{"map[", "AWS calls"} {
		if strings.Contains(out, bad) {
			t.Errorf("demo output has %q:\n%s", bad, out)
		}
	}
	// dns-persist-01: the last pass renews with Route 53 read only.
	persist := out[strings.Index(out, "Pass 2 with the records in place"):]
	if !strings.Contains(persist, "web          renew   forced") || !strings.Contains(persist, "AWS Route 53         3   ListHostedZones 1, ListResourceRecordSets 2") {
		t.Errorf("the dns-persist-01 renewal wrote to Route 53:\n%s", persist)
	}
	// Pass 2 asks the CA nothing: its ACME line says 0 requests.
	pass2 := out[strings.Index(out, "== 5. Pass 2"):strings.Index(out, "== 6.")]
	if !strings.Contains(pass2, "ACME CA (Pebble)     0  none") {
		t.Errorf("pass 2 made ACME requests:\n%s", pass2)
	}
}
