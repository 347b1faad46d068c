package main

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
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

// TestSixKilledRunsLeaveNothing: six `certferry renew --force` runs, each killed with
// SIGKILL while it waits for INSYNC, fill the certificate's challenge journal (four
// slots) and then find it full: the fifth and sixth place no order and publish nothing,
// rather than publishing records no later pass could find. Once the journaled orders'
// needed-until time has passed, the next run removes every value the dead runs left.
func TestSixKilledRunsLeaveNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the real binary")
	}
	t.Parallel()
	bin := certferryBinary(t)
	e := e2etest.Start(t, sandbox.Options{Zones: []string{"example.com"}, InsyncAfter: 200 * time.Millisecond})
	cfg := e.WriteConfig(t, crashConfig)
	env := append(os.Environ(), "AWS_ACCESS_KEY_ID=sandbox", "AWS_SECRET_ACCESS_KEY=sandbox")
	run := func() (int, string) {
		t.Helper()
		cmd := exec.CommandContext(t.Context(), bin, "renew", "--force", "--config", cfg)
		cmd.Env = env
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
	for i := 1; i <= 6; i++ {
		orders := e.SB.Calls().Count("acme", "NewOrder")
		changes := e.SB.Calls().Count("route53", "ChangeResourceRecordSets")
		waits := e.SB.Calls().Count("route53", "GetChange")
		e.SB.Calls().FailNext("route53", "GetChange", 1, calls.Fault{Hang: calls.HangForever})
		cmd, done, out := startBinary(t, bin, env, "renew", "--force", "--config", cfg)
		if i <= 4 {
			// Journaled and published: killed while it waits for INSYNC.
			e2etest.Eventually(t, e.PassBound(), "the run waiting for INSYNC", func() bool {
				return e.SB.Calls().Count("route53", "GetChange") > waits
			})
			_ = cmd.Process.Signal(syscall.SIGKILL)
			<-done
			continue
		}
		// The journal is full: the run fails the certificate before any order.
		select {
		case <-done:
		case <-time.After(e.PassBound()):
			_ = cmd.Process.Kill()
			t.Fatalf("run %d did not end", i)
		}
		e.SB.Calls().DropFaults()
		if n := e.SB.Calls().Count("acme", "NewOrder") - orders; n != 0 {
			t.Errorf("run %d with the journal full placed %d order(s)", i, n)
		}
		if n := e.SB.Calls().Count("route53", "ChangeResourceRecordSets") - changes; n != 0 {
			t.Errorf("run %d with the journal full made %d Route 53 change(s)", i, n)
		}
		if !strings.Contains(out.String(), "every challenge journal slot (4) holds an order") {
			t.Errorf("run %d does not say why:\n%s", i, out.String())
		}
	}
	if challengeRecords(e) == 0 {
		t.Fatal("the killed runs left no record: the case is not what it claims")
	}
	expireJournal(t, e, "certferry/web")
	if code, out := run(); code != 0 {
		t.Fatalf("renew after the journal's time: exit %d\n%s", code, out)
	}
	e.NoChallengeLeft(t)
}

// startBinary starts bin with args and env, its output going to out; done is closed once
// it has ended.
func startBinary(t *testing.T, bin string, env []string, args ...string) (cmd *exec.Cmd, done <-chan struct{}, out *strings.Builder) {
	t.Helper()
	cmd = exec.Command(bin, args...)
	cmd.Env = env
	out = &strings.Builder{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ch := make(chan struct{})
	go func() { _ = cmd.Wait(); close(ch) }()
	return cmd, ch, out
}

// TestKilledDryRunLeavesNothing: `certferry renew --dry-run` against a dry-run CA at
// another directory than the configured one (the sandbox's CA under another host name,
// with its own account), for a certificate never stored, is killed with SIGKILL while it
// waits for INSYNC. It journaled its order first, as a real pass does: the secret was
// created without a value to hold the entry, which names the dry-run CA's directory.
// Once the entry's needed-until time has passed, a normal pass reads the order back from
// that CA with that CA's stored account and removes every value the dry run left. An
// entry naming a directory certferry has no account for is dropped, and no request at
// all reaches that directory.
func TestKilledDryRunLeavesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the real binary")
	}
	t.Parallel()
	bin := certferryBinary(t)
	e := e2etest.Start(t, sandbox.Options{Zones: []string{"example.com"}, InsyncAfter: 200 * time.Millisecond})
	cfg := e.WriteConfig(t, crashConfig)
	env := append(os.Environ(), "AWS_ACCESS_KEY_ID=sandbox", "AWS_SECRET_ACCESS_KEY=sandbox")
	other := strings.Replace(e.Info.ACMEDirectory, "127.0.0.1", "localhost", 1)
	if other == e.Info.ACMEDirectory {
		t.Fatalf("the sandbox's directory %s has no 127.0.0.1 to name otherwise", other)
	}

	waits := e.SB.Calls().Count("route53", "GetChange")
	e.SB.Calls().FailNext("route53", "GetChange", 1, calls.Fault{Hang: calls.HangForever})
	cmd, done, out := startBinary(t, bin, env, "renew", "--dry-run", "--dry-run-directory", other, "--config", cfg)
	e2etest.Eventually(t, e.PassBound(), "the dry run waiting for INSYNC", func() bool {
		return e.SB.Calls().Count("route53", "GetChange") > waits
	})
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-done
	e.SB.Calls().DropFaults()
	if challengeRecords(e) == 0 {
		t.Fatalf("the killed dry run left no record: the case is not what it claims\n%s", out.String())
	}
	tags := e.Tags(t, "certferry/web")
	slot := smsink.JournalTag(smsink.JournalSlots - 1) // a dry run takes the slots from the last
	entry := smsink.ParseJournalEntry(tags[slot])
	ou, _ := url.Parse(other)
	if entry.Directory != other || !strings.HasPrefix(entry.Order, "https://"+ou.Host+"/") {
		t.Fatalf("journal entry %q: want an order of %s naming it\n%s", tags[slot], other, out.String())
	}
	desc, err := e.SM.DescribeSecret(t.Context(), &awssm.DescribeSecretInput{SecretId: aws.String("certferry/web")})
	if err != nil || len(desc.VersionIdsToStages) != 0 {
		t.Fatalf("the secret the dry run created holds a value (%v): %v", err, desc.VersionIdsToStages)
	}

	// A directory certferry keeps no account for, named by a hand-edited entry.
	var unknown atomic.Int64
	stranger := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		unknown.Add(1)
		http.Error(w, "not a CA of certferry's", http.StatusNotFound)
	}))
	defer stranger.Close()
	if _, err := e.SM.TagResource(t.Context(), &awssm.TagResourceInput{SecretId: aws.String("certferry/web"), Tags: []smtypes.Tag{{
		Key:   aws.String(smsink.JournalTag(0)),
		Value: aws.String(smsink.JournalEntry{Until: time.Now().Add(time.Hour), Order: stranger.URL + "/order/1", Directory: stranger.URL + "/dir"}.String()),
	}}}); err != nil {
		t.Fatal(err)
	}

	expireJournal(t, e, "certferry/web")
	run := exec.CommandContext(t.Context(), bin, "renew", "--config", cfg)
	run.Env = env
	b, err := run.CombinedOutput()
	if err != nil {
		t.Fatalf("renew after the journal's time: %v\n%s", err, b)
	}
	e.NoChallengeLeft(t)
	if !strings.Contains(string(b), "removed DNS-01 records an earlier run left behind") ||
		!strings.Contains(string(b), "names an ACME directory certferry keeps no account for") {
		t.Errorf("the pass does not say what it swept and what it dropped:\n%s", b)
	}
	if n := unknown.Load(); n != 0 {
		t.Errorf("%d request(s) reached a directory certferry has no account for", n)
	}
	for k, v := range e.Tags(t, "certferry/web") {
		if strings.HasPrefix(k, smsink.TagChallenges) && v != "" {
			t.Errorf("journal slot %s kept: %q", k, v)
		}
	}
}
