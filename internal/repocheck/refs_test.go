package repocheck

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// outsideRefs are ways of pointing at documents that are not in the repository: design
// notes kept elsewhere, numbered "contracts" of them, a sibling directory, the numbered
// issues of a tracker. What the code relies on is written down in docs/ instead.
var outsideRefs = regexp.MustCompile(`(?i)\b(design|style|tools)\.md\b|\.\./shared\b|\bcontracts?[ -]\d|\bissues? #?\d`)

// docsRef is a reference to a page of docs/.
var docsRef = regexp.MustCompile(`\bdocs/[A-Za-z0-9_-]+\.md\b`)

// pendingOutsideRefs are files whose reference outside the repository is being removed by
// their owner's change in flight; each entry names the line's text. Keep it empty.
var pendingOutsideRefs = map[string]string{}

// pendingDocs are docs/ pages named by code that landed before the page did; the page's
// author is writing it. Keep it empty.
var pendingDocs = map[string]bool{}

// TestNoReferenceOutsideTheRepository: no tracked file points at a document outside the
// repository, and every docs/*.md that a file names exists.
func TestNoReferenceOutsideTheRepository(t *testing.T) {
	t.Parallel()
	root := repoRoot(t)
	out, err := exec.CommandContext(t.Context(), "git", "-C", root, "ls-files", "-z").Output()
	if err != nil {
		t.Skipf("not a git checkout (git ls-files: %v)", err)
	}
	self := "internal/repocheck/refs_test.go"
	n := 0
	for _, name := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
		if name == self {
			continue
		}
		data, err := os.ReadFile(filepath.Join(root, name))
		if err != nil || bytes.IndexByte(data, 0) >= 0 {
			continue // removed in the worktree, or binary
		}
		n++
		for i, line := range strings.Split(string(data), "\n") {
			if m := outsideRefs.FindString(line); m != "" {
				if want, ok := pendingOutsideRefs[name]; !ok || !strings.Contains(line, want) {
					t.Errorf("%s:%d: %q points outside the repository; describe it in docs/ and point there:\n\t%s", name, i+1, m, strings.TrimSpace(line))
				}
			}
			for _, ref := range docsRef.FindAllString(line, -1) {
				if _, err := os.Stat(filepath.Join(root, ref)); err != nil && !pendingDocs[ref] {
					t.Errorf("%s:%d: %s does not exist", name, i+1, ref)
				}
			}
		}
	}
	if n < 100 {
		t.Errorf("read only %d files: the check is looking at the wrong place", n)
	}
}

// repoRoot is the module's root: two levels above this package.
func repoRoot(t *testing.T) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Dir(filepath.Dir(wd))
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("no go.mod at %s", root)
	}
	return root
}
