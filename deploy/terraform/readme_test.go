package terraform

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/certferry/certferry/internal/docsteps"
)

// lambdaSteps returns the commands of the README's "Run on AWS Lambda" shell block.
func lambdaSteps(t *testing.T) []string {
	t.Helper()
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	steps, err := docsteps.Steps(readme, "## Run on AWS Lambda")
	if err != nil {
		t.Fatal(err)
	}
	return steps
}

// TestReadmeLambdaSteps: the README's Lambda steps, read in order, fit the Terraform
// example they deploy: make lambda builds the zip the example names; the configuration
// parameter is created by the AWS CLI step only (the example creates no SSM parameter:
// terraform apply after put-parameter would fail with ParameterAlreadyExists) and the
// example points CERTFERRY_CONFIG at the same name; the CLI commands use the example's
// region; the function invoked is the one the module creates.
func TestReadmeLambdaSteps(t *testing.T) {
	t.Parallel()
	steps := lambdaSteps(t)
	find := func(prefix string) (int, string) {
		i, s := docsteps.Find(steps, prefix)
		if i < 0 {
			t.Fatalf("the Lambda steps have no %q:\n%s", prefix, strings.Join(steps, "\n"))
		}
		return i, s
	}
	iMake, _ := find("make lambda")
	iPut, put := find("aws ssm put-parameter")
	iCd, cd := find("cd ")
	iApply, apply := find("terraform init")
	iInvoke, invoke := find("aws lambda invoke")
	if !(iMake < iCd && iPut < iApply && iCd < iApply && iApply < iInvoke) {
		t.Errorf("steps out of order: make lambda %d, put-parameter %d, cd %d, terraform %d, invoke %d", iMake, iPut, iCd, iApply, iInvoke)
	}
	if !strings.Contains(apply, "terraform apply") {
		t.Errorf("%q: want terraform init && terraform apply", apply)
	}

	dir := strings.TrimPrefix(cd, "cd ")
	exampleDir := filepath.Join("../..", dir)
	body, src := parse(t, filepath.Join(exampleDir, "main.tf"))

	// The parameter: created by the CLI, only referred to by the example.
	param, region := docsteps.FlagValue(put, "name"), docsteps.FlagValue(put, "region")
	if param == "" || region == "" {
		t.Fatalf("%q: want --name and --region", put)
	}
	files, err := filepath.Glob(filepath.Join(exampleDir, "*.tf"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		b, _ := parse(t, f)
		for _, blk := range b.Blocks {
			if blk.Type == "resource" && len(blk.Labels) > 0 && blk.Labels[0] == "aws_ssm_parameter" {
				t.Errorf("%s creates aws_ssm_parameter.%s, but the README creates the configuration parameter with the AWS CLI: apply would fail with ParameterAlreadyExists", f, blk.Labels[1])
			}
		}
	}
	mod := block(t, body, "module", "certferry").Body
	if got := str(mod, "certferry_config"); got != "ssm:"+param {
		t.Errorf("the example's certferry_config = %q, want %q (the README's parameter)", got, "ssm:"+param)
	}
	if got := str(block(t, body, "provider", "aws").Body, "region"); got != region {
		t.Errorf("the example's region %q, the README's put-parameter --region %q", got, region)
	}
	if got := docsteps.FlagValue(invoke, "region"); got != region {
		t.Errorf("the README's lambda invoke --region %q, want %q", got, region)
	}

	// The zip: make lambda's output, where the example looks for it.
	fa, ok := mod.Attributes["filename"]
	if !ok {
		t.Fatal("the example's module sets no filename")
	}
	filename := strings.Trim(string(fa.Expr.Range().SliceBytes(src)), `"`)
	filename = strings.ReplaceAll(filename, "${path.root}", exampleDir)
	if want := filepath.Join("../..", "dist", "certferry-lambda-arm64.zip"); filepath.Clean(filename) != want {
		t.Errorf("the example's filename resolves to %s, want %s (make lambda's output)", filepath.Clean(filename), want)
	}
	makefile, err := os.ReadFile("../../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(makefile), "dist/certferry-lambda-$$arch.zip") {
		t.Error("the Makefile's lambda target no longer writes dist/certferry-lambda-<arch>.zip")
	}

	// The function: the module's name, unless the example sets one.
	fn := str(mod, "function_name")
	if fn == "" {
		vars, _ := parse(t, "variables.tf")
		fn = str(block(t, vars, "variable", "function_name").Body, "default")
	}
	if got := docsteps.FlagValue(invoke, "function-name"); got != fn {
		t.Errorf("the README invokes %q, the example creates %q", got, fn)
	}
}
