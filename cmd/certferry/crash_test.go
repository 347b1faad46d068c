package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/certferry/certferry/internal/e2etest"
	"github.com/certferry/certferry/internal/sandbox"
	"github.com/certferry/certferry/internal/sandbox/calls"
	smsink "github.com/certferry/certferry/sinks/secretsmanager"
)

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

// certferryBinary builds the real certferry command once per test binary.
// removeBuiltBinary removes the directory certferryBinary built into, once the tests are
// done (TestMain), so that a test run leaves nothing in the temporary directory.
func removeBuiltBinary() {
	if builtBin != "" {
		_ = os.RemoveAll(filepath.Dir(builtBin))
	}
}

func certferryBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "certferry-crash-")
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "certferry")
		out, err := exec.Command("go", "build", "-o", builtBin, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtBin
}

var crashConfig = `acme:
  directory: {{dir}}
  email: crash@example.com
  ca_bundle: {{ca}}
  issuer_roots: {{issuer}}
aws:
  region: {{region}}
  endpoint_url: {{endpoint}}
route53:
  insync_timeout: 1m
` + e2etest.CertsYAML(e2etest.CertYAML("web", "www.example.com", "example.com"))

// TestCrashMatrix: the real `certferry renew --force` process is killed with SIGKILL at
// each step of a pass (the sandbox holds the call that follows the step until the
// process dies), then a normal run follows. Every case: AWSCURRENT is a valid matching
// pair; the normal run places no order (the certificate is fresh, or the interrupted
// write is finished); and no _acme-challenge value is left: at once where nobody can need
// it any more (its authorization is no longer pending), else by a pass after the
// journal's needed-until time (simulated by moving that time into the past).
func TestCrashMatrix(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the real binary")
	}
	t.Parallel()
	bin := certferryBinary(t)
	cases := []struct {
		step          string
		service, op   string
		skip          int
		needsLeaseEnd bool // the dead run's authorizations are still pending
	}{
		{step: "after order", service: "secretsmanager", op: "TagResource", skip: 1},      // the journal write (after the preflight's check)
		{step: "after publish", service: "route53", op: "GetChange", needsLeaseEnd: true}, // waiting for INSYNC
		{step: "after INSYNC", service: "acme", op: "Challenge", needsLeaseEnd: true},     // answering the challenge
		{step: "after finalize", service: "acme", op: "Certificate"},                      // downloading it
		{step: "after put", service: "secretsmanager", op: "UpdateSecretVersionStage"},    // promoting it
		{step: "after promote", service: "secretsmanager", op: "TagResource", skip: 2},    // tagging it, after the hooks and the clean-up
	}
	for _, c := range cases {
		t.Run(strings.ReplaceAll(c.step, " ", "-"), func(t *testing.T) {
			t.Parallel()
			e := e2etest.Start(t, sandbox.Options{Zones: []string{"example.com"}, InsyncAfter: 200 * time.Millisecond})
			cfg := e.WriteConfig(t, crashConfig)
			run := func(args ...string) (int, string) {
				t.Helper()
				cmd := exec.CommandContext(t.Context(), bin, append([]string{"renew", "--config", cfg}, args...)...)
				cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID=sandbox", "AWS_SECRET_ACCESS_KEY=sandbox")
				out, err := cmd.CombinedOutput()
				if ee, ok := err.(*exec.ExitError); ok {
					return ee.ExitCode(), string(out)
				}
				if err != nil {
					t.Fatalf("renew: %v", err)
				}
				return 0, string(out)
			}
			if code, out := run(); code != 0 {
				t.Fatalf("first renew: exit %d\n%s", code, out)
			}
			first := e.Stored(t, "certferry/web", "AWSCURRENT")

			// The renewal, killed at the step.
			before := e.SB.Calls().Count(c.service, c.op)
			e.SB.Calls().FailAfter(c.service, c.op, c.skip, 1, calls.Fault{Hang: calls.HangForever})
			cmd := exec.Command(bin, "renew", "--force", "--config", cfg)
			cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID=sandbox", "AWS_SECRET_ACCESS_KEY=sandbox")
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			// The sandbox counts the held call when it arrives; the process can do
			// nothing more after it. Bounded by the test's own deadline.
			for e.SB.Calls().Count(c.service, c.op) <= before+c.skip {
				select {
				case <-t.Context().Done():
					_ = cmd.Process.Kill()
					t.Fatalf("the run never reached %s", c.step)
				case <-time.After(20 * time.Millisecond):
				}
			}
			_ = cmd.Process.Signal(syscall.SIGKILL)
			_ = cmd.Wait()
			orders := e.SB.Calls().Count("acme", "NewOrder")
			cleaned := c.step == "after order" || c.step == "after promote" // before publishing, or after the clean-up
			if left := challengeRecords(e); cleaned != (left == 0) {
				t.Fatalf("the dead run left %d _acme-challenge records; the case is not what it claims", left)
			}

			// A normal run afterwards.
			code, out := run()
			if code != 0 {
				t.Fatalf("renew after the crash %s: exit %d\n%s", c.step, code, out)
			}
			cur := e.Stored(t, "certferry/web", "AWSCURRENT") // a valid, matching pair
			if n := e.SB.Calls().Count("acme", "NewOrder") - orders; n != 0 {
				t.Errorf("the run after the crash placed %d orders", n)
			}
			if (c.step == "after put" || c.step == "after promote") && cur.Serial == first.Serial {
				t.Errorf("the certificate the dead run stored was not finished")
			}
			if c.needsLeaseEnd {
				// A runner still working on that order would need its records: they stay.
				if challengeRecords(e) == 0 {
					t.Fatal("records whose authorizations are still pending were removed")
				}
				// The dead run's records wait for its needed-until time: move it into the
				// past (what an hour's wait does), and the next pass removes them.
				expireJournal(t, e, "certferry/web")
				if code, out := run(); code != 0 {
					t.Fatalf("renew after the journal's time: exit %d\n%s", code, out)
				}
			}
			e.NoChallengeLeft(t)
			desc, err := e.SM.DescribeSecret(t.Context(), &awssm.DescribeSecretInput{SecretId: aws.String("certferry/web")})
			if err != nil {
				t.Fatal(err)
			}
			for _, tag := range desc.Tags {
				// An empty value is no tag (docs/secret-format.md).
				if strings.HasPrefix(aws.ToString(tag.Key), smsink.TagChallenges) && aws.ToString(tag.Value) != "" {
					t.Errorf("journal entry left: %s=%s", aws.ToString(tag.Key), aws.ToString(tag.Value))
				}
			}
		})
	}
}

// challengeRecords counts the _acme-challenge TXT sets in the sandbox's zones.
func challengeRecords(e *e2etest.Env) int {
	n := 0
	for _, id := range e.Info.Zones {
		for _, rs := range e.SB.Route53().Records(id) {
			if rs.Type == "TXT" && strings.HasPrefix(rs.Name, "_acme-challenge.") {
				n++
			}
		}
	}
	return n
}

// expireJournal moves the needed-until time of every journaled order of secret into the
// past.
func expireJournal(t *testing.T, e *e2etest.Env, secret string) {
	t.Helper()
	desc, err := e.SM.DescribeSecret(t.Context(), &awssm.DescribeSecretInput{SecretId: aws.String(secret)})
	if err != nil {
		t.Fatal(err)
	}
	var tags []smtypes.Tag
	for _, tag := range desc.Tags {
		k, v := aws.ToString(tag.Key), aws.ToString(tag.Value)
		if !strings.HasPrefix(k, smsink.TagChallenges) || v == "" {
			continue
		}
		_, order, _ := strings.Cut(v, " ")
		tags = append(tags, smtypes.Tag{Key: aws.String(k), Value: aws.String("2020-01-01T00:00:00Z " + order)})
	}
	if len(tags) == 0 {
		t.Fatal("no journal entry to expire: the dead run's records were not journaled")
	}
	if _, err := e.SM.TagResource(t.Context(), &awssm.TagResourceInput{SecretId: aws.String(secret), Tags: tags}); err != nil {
		t.Fatal(err)
	}
}
