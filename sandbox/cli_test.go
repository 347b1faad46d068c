package sandbox_test

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
	"github.com/aws/aws-sdk-go-v2/service/route53"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/miekg/dns"

	"github.com/certferry/certferry/sandbox"
)

// certferryBinary builds cmd/certferry into a temporary directory, or returns
// $CERTFERRY_TEST_BINARY when set (a prebuilt binary, to save the build).
func certferryBinary(t *testing.T) string {
	t.Helper()
	if bin := os.Getenv("CERTFERRY_TEST_BINARY"); bin != "" {
		return bin
	}
	bin := filepath.Join(t.TempDir(), "certferry")
	cmd := exec.CommandContext(t.Context(), "go", "build", "-o", bin, "github.com/certferry/certferry/cmd/certferry")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build cmd/certferry: %v\n%s", err, out)
	}
	return bin
}

func TestCLI(t *testing.T) {
	t.Parallel()
	bin := certferryBinary(t)

	t.Run("flags", func(t *testing.T) {
		tests := []struct {
			args   []string
			code   int
			stderr string
		}{
			{[]string{"-h"}, 0, "Usage: certferry sandbox"},
			{[]string{"--bogus"}, 2, "flag provided but not defined: -bogus"},
			{[]string{"--nonce-reject", "100"}, 2, "certferry sandbox: --nonce-reject must be 0-99"},
			{[]string{"--authz-reuse", "101"}, 2, "certferry sandbox: --authz-reuse must be 0-100"},
			{[]string{"--insync-after", "soon"}, 2, `invalid value "soon" for flag -insync-after`},
			{[]string{"--zone", ""}, 2, "empty zone name"},
			{[]string{"extra"}, 2, `certferry sandbox: unexpected argument "extra"`},
		}
		for _, tt := range tests {
			var stderr bytes.Buffer
			cmd := exec.CommandContext(t.Context(), bin, append([]string{"sandbox"}, tt.args...)...)
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
		cmd := exec.CommandContext(t.Context(), bin, "sandbox", "--zone", "example.com", "--insync-after", "100ms")
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

		lines := make(chan string, 1)
		go func() {
			line, _ := bufio.NewReader(stdout).ReadString('\n')
			lines <- line
		}()
		var line string
		select {
		case line = <-lines:
		case <-time.After(60 * time.Second):
			t.Fatalf("no JSON line within 60s; stderr:\n%s", stderr.String())
		}
		var info sandbox.Info
		dec := json.NewDecoder(strings.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&info); err != nil {
			t.Fatalf("decode %q: %v", line, err)
		}
		zoneID := info.Zones["example.com."]
		if zoneID == "" || info.Region != "us-east-1" {
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
		r, _, err := (&dns.Client{Net: "tcp", Timeout: 5 * time.Second}).ExchangeContext(ctx, m, info.DNS)
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
		if !strings.Contains(stderr.String(), "certferry sandbox: stopped") {
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
	deadline := time.Now().Add(30 * time.Second)
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
			t.Fatalf("change %s not INSYNC after 30s", id)
		}
		<-tick.C
	}
}
