package terraform

// The module and its example checked by the Terraform CLI itself: fmt -check, init and
// validate of each, and a plan of the example with the AWS provider pointed at a local
// STS stand-in. They run where terraform and an offline copy of the hashicorp/aws
// provider (a plugin directory) are installed, and skip with a message elsewhere. They
// work on copies in a temporary directory, so no .terraform directory or lock file ever
// lands in the repository, and no request leaves the machine.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// pluginDirEnv names a plugin directory (the parent of registry.terraform.io) to use
// instead of the well-known places.
const pluginDirEnv = "CERTFERRY_TF_PLUGIN_DIR"

// terraformCLI returns the terraform binary and a plugin directory holding
// hashicorp/aws, or skips the test saying what is missing.
func terraformCLI(t *testing.T) (bin, pluginDir string) {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: the Terraform CLI checks take a while; make test runs them")
	}
	bin, err := exec.LookPath("terraform")
	if err != nil {
		t.Skip("terraform is not installed: the Terraform CLI checks are skipped (the hclwrite checks still run)")
	}
	candidates := []string{os.Getenv(pluginDirEnv), "/opt/tf-plugins", "/usr/local/share/terraform/plugins", "/usr/share/terraform/plugins"}
	if home, err := os.UserHomeDir(); err == nil {
		candidates = append(candidates, filepath.Join(home, ".terraform.d", "plugins"))
	}
	for _, d := range candidates {
		if d == "" {
			continue
		}
		if fi, err := os.Stat(filepath.Join(d, "registry.terraform.io", "hashicorp", "aws")); err == nil && fi.IsDir() {
			return bin, d
		}
	}
	t.Skipf("no offline hashicorp/aws provider found (looked in %s; set %s to the directory holding registry.terraform.io): the Terraform CLI checks are skipped",
		strings.Join(candidates[1:], ", "), pluginDirEnv)
	return "", ""
}

// copyTree copies the module (every .tf file under deploy/terraform, keeping the layout)
// to dir/deploy/terraform, so that the example's relative paths (../.. for the module,
// ../../../../dist for the zip) resolve inside dir.
func copyTree(t *testing.T, dir string) string {
	t.Helper()
	root := filepath.Join(dir, "deploy", "terraform")
	for _, f := range tfFiles(t) {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(root, f)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, src, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// tf runs terraform in dir, offline, and returns its combined output; a failure fails the
// test with the output.
func tf(t *testing.T, bin, dir string, env []string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	cmd.Env = append(tfEnv(t), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("terraform %s in %s: %v\n%s", strings.Join(args, " "), dir, err, out)
	}
	return string(out)
}

// tfEnv is the environment terraform runs with: no CLI configuration, no update check,
// no host AWS profile or instance metadata, and every proxy-able request sent to a dead
// port, so anything but loopback fails instead of reaching the network.
func tfEnv(t *testing.T) []string {
	home := t.TempDir()
	return []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + home, "TMPDIR=" + os.TempDir(),
		"TF_CLI_CONFIG_FILE=" + os.DevNull, "CHECKPOINT_DISABLE=1", "TF_IN_AUTOMATION=1", "TF_INPUT=0",
		"AWS_CONFIG_FILE=" + os.DevNull, "AWS_SHARED_CREDENTIALS_FILE=" + os.DevNull, "AWS_EC2_METADATA_DISABLED=true",
		"HTTPS_PROXY=http://127.0.0.1:9", "HTTP_PROXY=http://127.0.0.1:9", "NO_PROXY=127.0.0.1,localhost",
	}
}

// TestTerraformValidate: terraform fmt -check, then init (offline, from the plugin
// directory, no backend) and validate of the module and of its examples.
func TestTerraformValidate(t *testing.T) {
	t.Parallel()
	bin, plugins := terraformCLI(t)
	root := copyTree(t, t.TempDir())
	if out := tf(t, bin, root, nil, "fmt", "-check", "-recursive", "-diff", "-no-color"); strings.TrimSpace(out) != "" {
		t.Errorf("terraform fmt -check lists files to format:\n%s", out)
	}
	for _, dir := range []string{root, filepath.Join(root, "examples", "basic"), filepath.Join(root, "examples", "cross-account")} {
		tf(t, bin, dir, nil, "init", "-backend=false", "-plugin-dir", plugins, "-input=false", "-no-color")
		if out := tf(t, bin, dir, nil, "validate", "-no-color"); !strings.Contains(out, "The configuration is valid") {
			t.Errorf("terraform validate in %s:\n%s", dir, out)
		}
	}
}

// stsStandIn answers STS GetCallerIdentity (what the provider and the module's
// aws_caller_identity ask) and records every other request, which a plan must not make.
type stsStandIn struct {
	mu         sync.Mutex
	identity   int
	unexpected []string
}

const testAccount = "123456789012"

func (s *stsStandIn) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<16))
	form, _ := url.ParseQuery(string(body))
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.Method == http.MethodPost && form.Get("Action") == "GetCallerIdentity" {
		s.identity++
		w.Header().Set("Content-Type", "text/xml")
		fmt.Fprintf(w, `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
<GetCallerIdentityResult><Arn>arn:aws:iam::%[1]s:user/certferry-plan</Arn><UserId>AIDACERTFERRYPLAN</UserId><Account>%[1]s</Account></GetCallerIdentityResult>
<ResponseMetadata><RequestId>00000000-0000-4000-8000-000000000000</RequestId></ResponseMetadata>
</GetCallerIdentityResponse>`, testAccount)
		return
	}
	s.unexpected = append(s.unexpected, fmt.Sprintf("%s %s %s %.200s", r.Method, r.URL.Path, r.Header.Get("X-Amz-Target"), body))
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(http.StatusBadRequest)
	_, _ = io.WriteString(w, `<ErrorResponse><Error><Type>Sender</Type><Code>InvalidAction</Code><Message>not served by the plan test</Message></Error></ErrorResponse>`)
}

// planServices are the provider's endpoints the override points at the stand-in: STS,
// which the plan calls, and the services of the module's resources, which it must not.
var planServices = []string{"sts", "iam", "lambda", "logs", "cloudwatch", "scheduler", "sns", "ssm", "route53", "secretsmanager", "kms", "autoscaling", "ecs"}

// plannedChanges are the resource changes of a plan, by address: each one's actions and
// planned values.
type plannedChanges map[string]struct {
	Mode, Type string
	Actions    []string
	After      map[string]any
}

// plan runs terraform init and plan in dir with the AWS provider pointed at a loopback
// STS stand-in (an override file beside the configuration, which is itself untouched)
// and returns the planned changes. It fails the test when the plan asked AWS anything
// but GetCallerIdentity.
func plan(t *testing.T, bin, plugins, dir string) plannedChanges {
	t.Helper()
	sts := &stsStandIn{}
	srv := httptest.NewServer(sts)
	defer srv.Close()
	var endpoints strings.Builder
	for _, s := range planServices {
		fmt.Fprintf(&endpoints, "    %s = %q\n", s, srv.URL)
	}
	override := `provider "aws" {
  access_key                  = "plan-test"
  secret_key                  = "plan-test"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  endpoints {
` + endpoints.String() + `  }
}
`
	if err := os.WriteFile(filepath.Join(dir, "plan_test_override.tf"), []byte(override), 0o644); err != nil {
		t.Fatal(err)
	}
	tf(t, bin, dir, nil, "init", "-backend=false", "-plugin-dir", plugins, "-input=false", "-no-color")
	tf(t, bin, dir, nil, "plan", "-input=false", "-no-color", "-lock=false", "-out=plan.bin")
	out := tf(t, bin, dir, nil, "show", "-json", "plan.bin")

	sts.mu.Lock()
	if len(sts.unexpected) > 0 {
		t.Errorf("the plan called AWS beyond STS GetCallerIdentity:\n%s", strings.Join(sts.unexpected, "\n"))
	}
	if sts.identity == 0 {
		t.Errorf("the plan never asked the stand-in for the account (aws_caller_identity): was the provider pointed elsewhere?")
	}
	sts.mu.Unlock()

	var p struct {
		ResourceChanges []struct {
			Address string `json:"address"`
			Mode    string `json:"mode"`
			Type    string `json:"type"`
			Change  struct {
				Actions []string       `json:"actions"`
				After   map[string]any `json:"after"`
			} `json:"change"`
		} `json:"resource_changes"`
	}
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatalf("terraform show -json: %v\n%.2000s", err, out)
	}
	changes := plannedChanges{}
	for _, rc := range p.ResourceChanges {
		changes[rc.Address] = struct {
			Mode, Type string
			Actions    []string
			After      map[string]any
		}{rc.Mode, rc.Type, rc.Change.Actions, rc.Change.After}
		want := "create"
		if rc.Mode == "data" {
			want = "read" // a policy document naming a resource still to be created
		}
		if len(rc.Change.Actions) != 1 || rc.Change.Actions[0] != want {
			t.Errorf("%s: actions %v, want %s", rc.Address, rc.Change.Actions, want)
		}
	}
	return changes
}

// functionPolicy is the role's policy document as planned: it is read at apply time (it
// names the log group, still to be created), but its statements already hold the
// account's ARNs.
func (c plannedChanges) functionPolicy(t *testing.T) string {
	t.Helper()
	doc, err := json.Marshal(c["module.certferry.data.aws_iam_policy_document.function"].After)
	if err != nil {
		t.Fatal(err)
	}
	return string(doc)
}

// writeZip puts a zip where `make lambda` does, under root; a plan reads only its hash.
func writeZip(t *testing.T, root string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(root, "dist"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "dist", "certferry-lambda-arm64.zip"), []byte("PK\x05\x06"+strings.Repeat("\x00", 18)), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestTerraformPlanExample: terraform plan of the example against the stand-in, with a
// zip where `make lambda` puts it. The plan creates the function with
// CERTFERRY_CONFIG=ssm:/certferry/config, grants ssm:GetParameter on that parameter in
// the stand-in's account, and creates no SSM parameter (the README's steps create it
// with the AWS CLI: both would fail with ParameterAlreadyExists).
func TestTerraformPlanExample(t *testing.T) {
	t.Parallel()
	bin, plugins := terraformCLI(t)
	tmp := t.TempDir()
	root := copyTree(t, tmp)
	writeZip(t, tmp)
	changes := plan(t, bin, plugins, filepath.Join(root, "examples", "basic"))

	for addr, c := range changes {
		if c.Type == "aws_ssm_parameter" {
			t.Errorf("the example creates the SSM parameter %s, which the README's steps create with the AWS CLI", addr)
		}
	}
	for _, want := range []string{
		"module.certferry.aws_lambda_function.this", "module.certferry.aws_scheduler_schedule.this",
		"module.certferry.aws_iam_role.function", "module.certferry.aws_iam_role_policy.function",
		"module.certferry.aws_cloudwatch_metric_alarm.errors", "module.certferry.aws_cloudwatch_log_group.this",
	} {
		if _, ok := changes[want]; !ok {
			t.Errorf("the plan does not create %s", want)
		}
	}
	fn := changes["module.certferry.aws_lambda_function.this"].After
	if env := fmt.Sprint(fn["environment"]); !strings.Contains(env, "CERTFERRY_CONFIG:ssm:/certferry/config") {
		t.Errorf("function environment = %s, want CERTFERRY_CONFIG=ssm:/certferry/config", env)
	}
	policy := changes.functionPolicy(t)
	for _, want := range []string{
		"arn:aws:ssm:us-east-2:" + testAccount + ":parameter/certferry/config",
		"arn:aws:secretsmanager:us-east-2:" + testAccount + ":secret:",
		"arn:aws:route53:::hostedzone/Z0123456789ABCDEFGHIJ",
	} {
		if !strings.Contains(policy, want) {
			t.Errorf("the role's policy does not name %s:\n%s", want, policy)
		}
	}
}

// TestTerraformPlanAllOptions: a plan of the module with every optional input set (a KMS
// key, Auto Scaling groups, ECS services, a Secrets Manager configuration source, x86_64),
// so the conditional statements are evaluated with values, not only type-checked.
func TestTerraformPlanAllOptions(t *testing.T) {
	t.Parallel()
	bin, plugins := terraformCLI(t)
	tmp := t.TempDir()
	root := copyTree(t, tmp)
	dir := filepath.Join(tmp, "all")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	writeZip(t, tmp)
	mainTF := `provider "aws" {
  region = "eu-west-1"
}

module "certferry" {
  source = "` + root + `"

  function_name       = "certferry-all"
  filename            = "${path.root}/../dist/certferry-lambda-arm64.zip"
  architecture        = "x86_64"
  certferry_config    = "secretsmanager:certferry/config"
  hosted_zone_ids     = ["Z0123456789ABCDEFGHIJ", "ZABCDEFGHIJ0123456789"]
  secret_prefix       = "certferry/"
  secret_tag_keys     = ["team"]
  kms_key_arn         = "arn:aws:kms:eu-west-1:` + testAccount + `:key/00000000-0000-4000-8000-000000000000"
  asg_names           = ["web-asg"]
  ecs_services        = [{ cluster = "prod", service = "web" }]
  schedule_expression = "rate(12 hours)"
  tags                = { team = "platform" }
}
`
	if err := os.WriteFile(filepath.Join(dir, "main.tf"), []byte(mainTF), 0o644); err != nil {
		t.Fatal(err)
	}
	changes := plan(t, bin, plugins, dir)
	policy := changes.functionPolicy(t)
	for _, want := range []string{
		"arn:aws:kms:eu-west-1:" + testAccount + ":key/",
		"arn:aws:autoscaling:eu-west-1:" + testAccount + ":autoScalingGroup:*:autoScalingGroupName/web-asg",
		"arn:aws:ecs:eu-west-1:" + testAccount + ":service/prod/web",
		"arn:aws:secretsmanager:eu-west-1:" + testAccount + ":secret:certferry/",
		"arn:aws:route53:::hostedzone/ZABCDEFGHIJ0123456789",
	} {
		if !strings.Contains(policy, want) {
			t.Errorf("the role's policy does not name %s:\n%s", want, policy)
		}
	}
	if strings.Contains(policy, ":parameter/") {
		t.Errorf("a secretsmanager: configuration source still grants an SSM parameter:\n%s", policy)
	}
	if fn := changes["module.certferry.aws_lambda_function.this"].After; fmt.Sprint(fn["architectures"]) != "[x86_64]" {
		t.Errorf("architectures = %v", fn["architectures"])
	}
}
