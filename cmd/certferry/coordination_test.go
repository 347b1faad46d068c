package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/certferry/certferry/internal/e2etest"
	"github.com/certferry/certferry/internal/sandbox"
	"github.com/certferry/certferry/internal/sandbox/calls"
	"github.com/certferry/certferry/internal/testwait"
)

// coordinatedConfig is a configuration with coordination on the sandbox's lease table.
func coordinatedConfig(e *e2etest.Env, lease time.Duration, entries ...string) string {
	return fmt.Sprintf(`acme:
  directory: {{dir}}
  email: coord@example.com
  ca_bundle: {{ca}}
  issuer_roots: {{issuer}}
aws:
  region: {{region}}
  endpoint_url: {{endpoint}}
route53:
  insync_timeout: 1m
coordination:
  dynamodb_table: %s
  lease_duration: %s
`, e.Info.LeaseTable, lease) + e2etest.CertsYAML(entries...)
}

func renewCmd(ctx context.Context, bin, cfg string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, bin, append([]string{"renew", "--config", cfg}, args...)...)
	cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID=sandbox", "AWS_SECRET_ACCESS_KEY=sandbox")
	return cmd
}

func exitCode(t *testing.T, err error) int {
	t.Helper()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	if err != nil {
		t.Fatalf("renew: %v", err)
	}
	return 0
}

// TestThreeRunnersTwelveCertificates: three `certferry renew` processes started
// together on twelve due certificates with coordination make exactly twelve orders and
// all exit 0; every secret holds one valid certificate, and no lease or TXT record is
// left.
func TestThreeRunnersTwelveCertificates(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the real binary")
	}
	if raceEnabled {
		t.Skip("Pebble v2.10.3 races on concurrent newAccount of one key (inside pebble); make test runs this without -race")
	}
	t.Parallel()
	bin := certferryBinary(t)
	e := e2etest.Start(t, sandbox.Options{Zones: []string{"example.com"}, InsyncAfter: 200 * time.Millisecond})
	var entries []string
	for i := range 12 {
		entries = append(entries, e2etest.CertYAML(fmt.Sprintf("c%02d", i), fmt.Sprintf("c%02d.example.com", i)))
	}
	cfg := e.WriteConfig(t, coordinatedConfig(e, 30*time.Second, entries...))
	ctx, cancel := context.WithTimeout(t.Context(), 2*e.PassBound())
	defer cancel()
	var wg sync.WaitGroup
	outs := make([]string, 3)
	errs := make([]error, 3)
	for i := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := renewCmd(ctx, bin, cfg).CombinedOutput()
			outs[i], errs[i] = string(out), err
		}()
	}
	wg.Wait()
	for i := range 3 {
		if code := exitCode(t, errs[i]); code != 0 {
			t.Errorf("runner %d: exit %d\n%s", i, code, outs[i])
		}
	}
	if n := e.SB.Calls().Count("acme", "NewOrder"); n != 12 {
		t.Errorf("acme.NewOrder = %d, want 12\n%s", n, strings.Join(outs, "\n"))
	}
	for i := range 12 {
		secret := fmt.Sprintf("certferry/c%02d", i)
		e.Stored(t, secret, "AWSCURRENT")
		if n := e.VersionCount(t, secret); n != 1 {
			t.Errorf("%s: %d versions, want 1", secret, n)
		}
	}
	e.NoChallengeLeft(t)
	if n := e.SB.DynamoDB().Items(e.Info.LeaseTable); n != 0 {
		t.Errorf("%d leases left", n)
	}
	if !strings.Contains(strings.Join(outs, ""), "renewing elsewhere (") {
		t.Errorf("no runner reported a certificate renewing elsewhere:\n%s", strings.Join(outs, "\n"))
	}
}

// TestKilledHolderTakenOver: a runner killed with SIGKILL while it holds a lease (its
// records published, its authorizations pending) blocks the certificate until the lease
// expires; the next pass after that takes it over, issues, and leaves no TXT record,
// the dead runner's included.
func TestKilledHolderTakenOver(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the real binary")
	}
	t.Parallel()
	bin := certferryBinary(t)
	const leaseDuration = 3 * time.Second
	e := e2etest.Start(t, sandbox.Options{Zones: []string{"example.com"}, InsyncAfter: 200 * time.Millisecond})
	cfg := e.WriteConfig(t, coordinatedConfig(e, leaseDuration, e2etest.CertYAML("web", "www.example.com")))

	// The holder, killed while it answers the challenge.
	e.SB.Calls().FailNext("acme", "Challenge", 1, calls.Fault{Hang: calls.HangForever})
	cmd := renewCmd(context.Background(), bin, cfg)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for e.SB.Calls().Count("acme", "Challenge") == 0 {
		select {
		case <-t.Context().Done():
			_ = cmd.Process.Kill()
			t.Fatal("the holder never reached the challenge")
		case <-time.After(20 * time.Millisecond):
		}
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
	if challengeRecords(e) == 0 {
		t.Fatal("the killed holder left no record; the case is not what it claims")
	}
	ddb := dynamodb.NewFromConfig(e.AWS)
	item, err := ddb.GetItem(t.Context(), &dynamodb.GetItemInput{TableName: aws.String(e.Info.LeaseTable),
		Key: map[string]ddbtypes.AttributeValue{"key": &ddbtypes.AttributeValueMemberS{Value: "web"}}})
	if err != nil || item.Item == nil {
		t.Fatalf("the killed holder's lease: %v %v", item, err)
	}
	var expires int64
	fmt.Sscan(item.Item["expires"].(*ddbtypes.AttributeValueMemberN).Value, &expires)

	// While the lease lives, another runner leaves the certificate alone (exit 0); once
	// it has expired (whole seconds), the next pass takes over. On a slow machine the
	// first of these runs may already come after the expiry: it is then the takeover.
	orders := e.SB.Calls().Count("acme", "NewOrder")
	deadline := time.Now().Add(testwait.For(leaseDuration))
	for {
		before := time.Now().Unix()
		out, err := renewCmd(t.Context(), bin, cfg).CombinedOutput()
		if code := exitCode(t, err); code != 0 {
			t.Fatalf("renew after the kill: exit %d\n%s", code, out)
		}
		if !strings.Contains(string(out), "renewing elsewhere (") {
			break // taken over
		}
		if before > expires {
			t.Fatalf("renewing elsewhere after the lease expired at %d:\n%s", expires, out)
		}
		select {
		case <-time.After(time.Until(time.Unix(expires+1, 0))):
		case <-time.After(time.Until(deadline)):
			t.Fatal("the lease outlived its duration")
		}
	}
	if n := e.SB.Calls().Count("acme", "NewOrder") - orders; n != 1 {
		t.Errorf("the takeover placed %d orders, want 1", n)
	}
	e.Stored(t, "certferry/web", "AWSCURRENT")
	e.NoChallengeLeft(t)
	if n := e.SB.DynamoDB().Items(e.Info.LeaseTable); n != 0 {
		t.Errorf("%d leases left", n)
	}
}
