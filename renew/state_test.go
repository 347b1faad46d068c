package renew

import (
	"context"
	"errors"
	"testing"

	"go.uber.org/zap"

	"github.com/certferry/certferry/certs"
	"github.com/certferry/certferry/sinks/file"
	smsink "github.com/certferry/certferry/sinks/secretsmanager"
)

// TestFileStateWriteFollowsContext: a file-only certificate's state is written under the
// caller's context (a pass's, cancellable), not a context of its own; a write given up
// is still remembered by the process (Memory), as a refused secret write is.
func TestFileStateWriteFollowsContext(t *testing.T) {
	t.Parallel()
	type key struct{}
	files := &fakeFiles{files: map[string]*certs.Bundle{}}
	mem := NewMemory()
	s := fileState{mem: mem, name: "web", files: files, target: file.Target{Dir: "/srv/web"}, log: zap.NewNop()}
	ctx := context.WithValue(t.Context(), key{}, "the pass")
	if err := s.save(ctx, map[string]string{smsink.TagFailures: "1"}, nil); err != nil {
		t.Fatal(err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := s.save(cancelled, map[string]string{smsink.TagFailures: "2"}, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("a write under a cancelled context: %v, want context.Canceled", err)
	}
	if len(files.saveCtx) != 2 {
		t.Fatalf("%d state file writes, want 2", len(files.saveCtx))
	}
	for i, c := range files.saveCtx {
		if c.Value(key{}) != "the pass" {
			t.Errorf("write %d: not under the caller's context", i)
		}
	}
	if got := s.load()[smsink.TagFailures]; got != "2" {
		t.Errorf("after a write given up, this process reads failures %q, want 2", got)
	}
}
