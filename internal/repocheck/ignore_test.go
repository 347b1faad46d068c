package repocheck

import (
	"os/exec"
	"strings"
	"testing"
)

// TestGitignoreCoversWorkingFiles: what the documented steps leave in a checkout is
// ignored, so `git status` stays clean after them: Terraform's working directory, lock
// file, state and plans wherever `terraform init` runs (the module and its examples),
// and the builds' outputs.
func TestGitignoreCoversWorkingFiles(t *testing.T) {
	t.Parallel()
	root := repoRoot(t)
	paths := []string{
		"deploy/terraform/.terraform/providers/x",
		"deploy/terraform/examples/basic/.terraform/modules/modules.json",
		"deploy/terraform/examples/basic/.terraform.lock.hcl",
		"deploy/terraform/examples/cross-account/.terraform.lock.hcl",
		"deploy/terraform/examples/basic/terraform.tfstate",
		"deploy/terraform/examples/basic/terraform.tfstate.backup",
		"deploy/terraform/examples/basic/plan.tfplan",
		"bin/certferry",
		"dist/certferry_1.0.0-1_amd64.deb",
	}
	cmd := exec.CommandContext(t.Context(), "git", append([]string{"-C", root, "check-ignore", "--no-index", "--"}, paths...)...)
	out, err := cmd.Output()
	if err != nil && len(out) == 0 {
		t.Skipf("not a git checkout (git check-ignore: %v)", err)
	}
	ignored := map[string]bool{}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		ignored[l] = true
	}
	for _, p := range paths {
		if !ignored[p] {
			t.Errorf("%s: not ignored by .gitignore", p)
		}
	}
}
