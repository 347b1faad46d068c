package renew_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/certferry/certferry/internal/e2etest"
	"github.com/certferry/certferry/internal/sandbox"
	"github.com/certferry/certferry/internal/sandbox/calls"
	"github.com/certferry/certferry/renew"
	"github.com/certferry/certferry/scheduler"
	smsink "github.com/certferry/certferry/sinks/secretsmanager"
)

// TestE2ETagRoom: Secrets Manager refuses a TagResource that would pass 50 tags, whole.
// With as many tags of the user's as leave room for every key certferry may write, a
// failure's backoff is still recorded; with one more, the certificate is refused before
// any order (the failure's state could not be written, and every run would order again).
func TestE2ETagRoom(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{Zones: []string{"example.com"}})
	cfg := e.Config(t, certsYAML(certYAML("web", "www.example.com")))
	wantOK(t, e.Pass(t, e.App(t, cfg), renew.Options{}), "web", renew.ActionIssue, scheduler.ReasonMissing)
	tag := func(from, to int) {
		t.Helper()
		var tags []smtypes.Tag
		for i := from; i < to; i++ {
			tags = append(tags, smtypes.Tag{Key: aws.String(fmt.Sprintf("team:%d", i)), Value: aws.String("x")})
		}
		if _, err := e.SM.TagResource(t.Context(), &awssm.TagResourceInput{SecretId: aws.String("certferry/web"), Tags: tags}); err != nil {
			t.Fatal(err)
		}
	}
	room := smsink.OtherTagsRoom()
	tag(0, room)

	e.SB.Calls().FailNext("secretsmanager", "PutSecretValue", 1, calls.Fault{Code: "AccessDeniedException", Status: 400})
	res := result(t, e.Pass(t, e.App(t, cfg), renew.Options{Force: true}), "web")
	if res.Condition != renew.ConditionFailing || !res.NewFailure {
		t.Fatalf("a refused store: %+v", res)
	}
	out, err := e.SM.DescribeSecret(t.Context(), &awssm.DescribeSecretInput{SecretId: aws.String("certferry/web")})
	if err != nil {
		t.Fatal(err)
	}
	recorded := false
	for _, tg := range out.Tags {
		recorded = recorded || aws.ToString(tg.Key) == smsink.TagFailures && aws.ToString(tg.Value) == "1"
	}
	if !recorded {
		t.Fatalf("with %d tags of the user's the failure was not recorded (%d tags)", room, len(out.Tags))
	}

	tag(room, room+1)
	e.SB.Calls().Reset()
	res = result(t, e.Pass(t, e.App(t, cfg), renew.Options{Force: true}), "web")
	if res.Condition != renew.ConditionFailing || res.Reason != renew.ReasonPreflight || !strings.Contains(res.LastError, "remove 1 of them") {
		t.Fatalf("one tag too many: %+v", res)
	}
	if n := e.SB.Calls().Count("acme", "NewOrder"); n != 0 {
		t.Errorf("%d orders placed for a secret that cannot take the state", n)
	}
}

// TestE2EFailureRecordedBeforeOnFailureHooks: a failure after an order was placed is on
// the secret while the on_failure hook still runs: a runner killed then (SIGKILL, a
// Lambda's timeout) leaves its backoff, and the next run does not order again.
func TestE2EFailureRecordedBeforeOnFailureHooks(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{Zones: []string{"example.com"}})
	fifo, started := filepath.Join(e.Dir, "release"), filepath.Join(e.Dir, "started")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(e.Dir, "on-failure.sh")
	// The hook says it started, then blocks until the test opens and closes the FIFO.
	body := "#!/bin/sh\ntouch " + started + "\nread x < " + fifo + "\nexit 0\n"
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := e.Config(t, certsYAML(certYAML("web", "www.example.com")+"    hooks:\n      on_failure:\n        - exec: [\""+script+"\"]\n"))
	wantOK(t, e.Pass(t, e.App(t, cfg), renew.Options{}), "web", renew.ActionIssue, scheduler.ReasonMissing)

	e.SB.Calls().FailNext("secretsmanager", "PutSecretValue", 1, calls.Fault{Code: "AccessDeniedException", Status: 400})
	a := e.App(t, cfg)
	done := make(chan *renew.Summary, 1)
	go func() { done <- e.Pass(t, a, renew.Options{Force: true}) }()
	e2etest.Eventually(t, e.PassBound(), "the on_failure hook started", func() bool {
		_, err := os.Stat(started)
		return err == nil
	})
	out, err := e.SM.DescribeSecret(t.Context(), &awssm.DescribeSecretInput{SecretId: aws.String("certferry/web")})
	var failures string
	for _, tg := range out.Tags {
		if aws.ToString(tg.Key) == smsink.TagFailures {
			failures = aws.ToString(tg.Value)
		}
	}
	f, ferr := os.OpenFile(fifo, os.O_WRONLY, 0) // releases the hook
	if ferr != nil {
		t.Fatal(ferr)
	}
	_ = f.Close()
	res := result(t, <-done, "web")
	if err != nil {
		t.Fatal(err)
	}
	if failures != "1" {
		t.Errorf("while the on_failure hook ran the secret held failures %q, want 1", failures)
	}
	if res.Condition != renew.ConditionFailing || !res.NewFailure {
		t.Errorf("the refused store: %+v", res)
	}
}
