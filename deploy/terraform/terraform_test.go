// Package terraform holds the certferry Lambda's Terraform module; this test checks its
// formatting and its IAM policy without Terraform or AWS.
package terraform

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
)

func tfFiles(t *testing.T) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(".", func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && strings.HasPrefix(d.Name(), ".terraform") {
			return filepath.SkipDir
		}
		if strings.HasSuffix(p, ".tf") {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 6 {
		t.Fatalf("found only %v", files)
	}
	return files
}

// TestFormat is `terraform fmt -check`: hclwrite.Format is what fmt applies.
func TestFormat(t *testing.T) {
	t.Parallel()
	for _, f := range tfFiles(t) {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, diags := hclsyntax.ParseConfig(src, f, hcl.InitialPos); diags.HasErrors() {
			t.Errorf("%s: %s", f, diags.Error())
			continue
		}
		if out := hclwrite.Format(src); !bytes.Equal(out, src) {
			t.Errorf("%s is not formatted (run terraform fmt or tofu fmt)", f)
		}
	}
}

func parse(t *testing.T, name string) (*hclsyntax.Body, []byte) {
	t.Helper()
	src, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	file, diags := hclsyntax.ParseConfig(src, name, hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	return file.Body.(*hclsyntax.Body), src
}

func block(t *testing.T, body *hclsyntax.Body, typ string, labels ...string) *hclsyntax.Block {
	t.Helper()
	for _, b := range body.Blocks {
		if b.Type == typ && slices.Equal(b.Labels, labels) {
			return b
		}
	}
	t.Fatalf("no %s %v", typ, labels)
	return nil
}

// str is a literal string attribute ("" when absent or not literal).
func str(body *hclsyntax.Body, name string) string {
	a, ok := body.Attributes[name]
	if !ok {
		return ""
	}
	v, diags := a.Expr.Value(nil)
	if diags.HasErrors() || !v.Type().Equals(v.Type()) || v.Type().FriendlyName() != "string" {
		return strings.TrimSpace(string(a.SrcRange.SliceBytes(nil)))
	}
	return v.AsString()
}

// strings of a literal list attribute; non-literal elements appear as their source.
func list(body *hclsyntax.Body, src []byte, name string) []string {
	a, ok := body.Attributes[name]
	if !ok {
		return nil
	}
	tup, ok := a.Expr.(*hclsyntax.TupleConsExpr)
	if !ok {
		return []string{string(a.Expr.Range().SliceBytes(src))}
	}
	var out []string
	for _, e := range tup.Exprs {
		if v, diags := e.Value(nil); !diags.HasErrors() && v.Type().FriendlyName() == "string" {
			out = append(out, v.AsString())
			continue
		}
		out = append(out, string(e.Range().SliceBytes(src)))
	}
	return out
}

type statement struct {
	sid       string
	actions   []string
	resources []string
	forEach   string // dynamic statements
	body      *hclsyntax.Body
}

func statements(t *testing.T) ([]statement, []byte) {
	body, src := parse(t, "iam.tf")
	doc := block(t, body, "data", "aws_iam_policy_document", "function")
	var out []statement
	for _, b := range doc.Body.Blocks {
		s := statement{body: b.Body}
		switch {
		case b.Type == "statement":
		case b.Type == "dynamic" && slices.Equal(b.Labels, []string{"statement"}):
			s.forEach = string(b.Body.Attributes["for_each"].Expr.Range().SliceBytes(src))
			s.body = block(t, b.Body, "content").Body
		default:
			continue
		}
		s.sid = str(s.body, "sid")
		s.actions = list(s.body, src, "actions")
		s.resources = list(s.body, src, "resources")
		out = append(out, s)
	}
	return out, src
}

// documented is the policy the README's "Run on AWS Lambda" section and the module's
// README describe: statement -> actions.
var documented = map[string][]string{
	"FindZones":              {"route53:ListHostedZones"},
	"WaitForChanges":         {"route53:GetChange"},
	"ReadChallengeRecords":   {"route53:ListResourceRecordSets", "route53:GetHostedZone"},
	"ChallengeRecordsOnly":   {"route53:ChangeResourceRecordSets"},
	"Certificates":           {"secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue", "secretsmanager:UpdateSecretVersionStage"},
	"StateTags":              {"secretsmanager:CreateSecret", "secretsmanager:TagResource"},
	"Inventory":              {"secretsmanager:ListSecrets"},
	"Leases":                 {"dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"},
	"SecretsKey":             {"kms:Decrypt", "kms:GenerateDataKey"},
	"SecretsKeyState":        {"kms:DescribeKey"},
	"ReadConfig":             {"ssm:GetParameter"},
	"RefreshInstances":       {"autoscaling:StartInstanceRefresh", "autoscaling:CancelInstanceRefresh"},
	"WatchInstanceRefreshes": {"autoscaling:DescribeInstanceRefreshes"},
	"RedeployServices":       {"ecs:UpdateService"},
	"Logs":                   {"logs:CreateLogStream", "logs:PutLogEvents"},
}

// conditional statements exist only when their variable is set.
var conditional = map[string]string{
	"SecretsKey":             "var.kms_key_arn",
	"SecretsKeyState":        "var.kms_key_arn",
	"ReadConfig":             "local.config_ssm_arn",
	"RefreshInstances":       "local.asg_arns",
	"WatchInstanceRefreshes": "local.asg_arns",
	"RedeployServices":       "local.ecs_arns",
	"ChallengeRecordsOnly":   "var.dns_persist_readonly",
}

// AWS offers no resource-level permission for these: "*" is the only resource.
var starAllowed = map[string]bool{"FindZones": true, "Inventory": true, "WatchInstanceRefreshes": true}

func TestPolicyActions(t *testing.T) {
	t.Parallel()
	sts, _ := statements(t)
	seen := map[string]bool{}
	for _, s := range sts {
		want, ok := documented[s.sid]
		if !ok {
			t.Errorf("statement %q is not documented", s.sid)
			continue
		}
		seen[s.sid] = true
		got, w := slices.Clone(s.actions), slices.Clone(want)
		sort.Strings(got)
		sort.Strings(w)
		if !slices.Equal(got, w) {
			t.Errorf("%s grants %v, documented %v", s.sid, got, w)
		}
		for _, a := range s.actions {
			if strings.Contains(a, "*") {
				t.Errorf("%s: wildcard action %s", s.sid, a)
			}
		}
		if v, ok := conditional[s.sid]; ok != (s.forEach != "") || (ok && !strings.Contains(s.forEach, v)) {
			t.Errorf("%s: for_each %q, want a dynamic statement on %q", s.sid, s.forEach, v)
		}
	}
	for sid := range documented {
		if !seen[sid] {
			t.Errorf("documented statement %s is missing", sid)
		}
	}
}

func TestPolicyResources(t *testing.T) {
	t.Parallel()
	sts, _ := statements(t)
	for _, s := range sts {
		star := slices.Contains(s.resources, "*") || (s.forEach != "" && strings.Contains(s.forEach, `"*"`))
		if star != starAllowed[s.sid] {
			t.Errorf("%s: resources %v (for_each %q): \"*\" only where AWS has no resource-level permission", s.sid, s.resources, s.forEach)
		}
		if len(s.resources) == 0 {
			t.Errorf("%s: no resources", s.sid)
		}
	}
	byName := map[string]statement{}
	for _, s := range sts {
		byName[s.sid] = s
	}
	for sid, want := range map[string]string{
		"ReadChallengeRecords": "local.zone_arns",
		"Certificates":         "local.secret_arns",
		"StateTags":            "local.secret_arns",
		"WaitForChanges":       `route53:::change/*`,
	} {
		if got := strings.Join(byName[sid].resources, " "); !strings.Contains(got, want) {
			t.Errorf("%s: resources %q, want %s", sid, got, want)
		}
	}
	body, _ := parse(t, "main.tf")
	locals := block(t, body, "locals").Body
	for name, want := range map[string]string{
		"zone_arns":   `:route53:::hostedzone/${z}`,
		"secret_arns": `:secret:${var.secret_prefix}*`,
	} {
		a := locals.Attributes[name]
		if a == nil || !strings.Contains(string(a.Expr.Range().SliceBytes(mustRead(t, "main.tf"))), want) {
			t.Errorf("local.%s does not build %s", name, want)
		}
	}
}

func mustRead(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRoute53Conditions(t *testing.T) {
	t.Parallel()
	sts, src := statements(t)
	i := slices.IndexFunc(sts, func(s statement) bool { return s.sid == "ChallengeRecordsOnly" })
	if i < 0 {
		t.Fatal("no ChallengeRecordsOnly statement")
	}
	got := map[string]string{}
	for _, c := range sts[i].body.Blocks {
		if c.Type != "condition" {
			continue
		}
		got[str(c.Body, "variable")] = str(c.Body, "test") + " " + strings.Join(list(c.Body, src, "values"), ",")
	}
	want := map[string]string{
		"route53:ChangeResourceRecordSetsRecordTypes":           "ForAllValues:StringEquals TXT",
		"route53:ChangeResourceRecordSetsActions":               "ForAllValues:StringEquals CREATE,DELETE",
		"route53:ChangeResourceRecordSetsNormalizedRecordNames": "ForAllValues:StringLike _acme-challenge.*,_validation-persist.*",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("condition on %s = %q, want %q", k, got[k], v)
		}
	}
	if fe := sts[i].forEach; !strings.Contains(fe, "local.zone_arns") {
		t.Errorf("ChallengeRecordsOnly: for_each %q, want the zones (local.zone_arns) unless dns_persist_readonly", fe)
	}
}

// TestPolicyMatchesCode: the Secrets Manager and Route 53 actions granted are exactly
// the API calls certferry's code makes.
func TestPolicyMatchesCode(t *testing.T) {
	t.Parallel()
	calls := func(service string, globs ...string) []string {
		re := regexp.MustCompile(`\.([A-Z][A-Za-z]+)\(\w*[cC]tx\b`)
		set := map[string]bool{}
		for _, g := range globs {
			files, _ := filepath.Glob(filepath.Join("..", "..", g))
			for _, f := range files {
				if strings.HasSuffix(f, "_test.go") {
					continue
				}
				for _, m := range re.FindAllSubmatch(mustRead(t, f), -1) {
					set[service+":"+string(m[1])] = true
				}
			}
		}
		var out []string
		for k := range set {
			out = append(out, k)
		}
		sort.Strings(out)
		return out
	}
	sts, _ := statements(t)
	granted := func(prefix string) []string {
		var out []string
		for _, s := range sts {
			for _, a := range s.actions {
				if strings.HasPrefix(a, prefix) {
					out = append(out, a)
				}
			}
		}
		sort.Strings(out)
		return out
	}
	known := func(all []string, keep map[string]bool) []string {
		var out []string
		for _, a := range all {
			if keep[a] {
				out = append(out, a)
			}
		}
		return out
	}
	smActions := map[string]bool{}
	for _, a := range append(append(documented["Certificates"], documented["StateTags"]...), "secretsmanager:ListSecrets", "secretsmanager:DeleteSecret", "secretsmanager:UpdateSecret",
		"secretsmanager:RestoreSecret", "secretsmanager:ListSecretVersionIds", "secretsmanager:BatchGetSecretValue", "secretsmanager:RotateSecret") {
		smActions[a] = true
	}
	// ListSecrets goes through a paginator (no ".ListSecrets(ctx").
	code := append(known(calls("secretsmanager", "sinks/secretsmanager/*.go"), smActions), "secretsmanager:ListSecrets")
	sort.Strings(code)
	if got := granted("secretsmanager:"); !slices.Equal(got, code) {
		t.Errorf("Secrets Manager: policy grants %v, the code calls %v", got, code)
	}
	r53Actions := map[string]bool{"route53:ListHostedZones": true, "route53:ListHostedZonesByName": true, "route53:GetChange": true,
		"route53:ListResourceRecordSets": true, "route53:ChangeResourceRecordSets": true, "route53:GetHostedZone": true}
	code = known(calls("route53", "providers/route53/*.go"), r53Actions)
	if got := granted("route53:"); !slices.Equal(got, code) {
		t.Errorf("Route 53: policy grants %v, the code calls %v", got, code)
	}
}

func TestFunction(t *testing.T) {
	t.Parallel()
	body, src := parse(t, "main.tf")
	fn := block(t, body, "resource", "aws_lambda_function", "this").Body
	for name, want := range map[string]string{
		"runtime": "provided.al2023", "handler": "bootstrap", "timeout": "900", "reserved_concurrent_executions": "1",
		"architectures": "[var.architecture]", "filename": "var.filename",
	} {
		if got := strings.TrimSpace(string(fn.Attributes[name].Expr.Range().SliceBytes(src))); strings.Trim(got, `"`) != want {
			t.Errorf("aws_lambda_function.%s = %s, want %s", name, got, want)
		}
	}
	vars, vsrc := parse(t, "variables.tf")
	for name, want := range map[string]string{"architecture": `"arm64"`, "schedule_expression": `"rate(1 day)"`, "kms_key_arn": "null", "alarm_sns_topic_arn": "null"} {
		v := block(t, vars, "variable", name).Body
		if got := string(v.Attributes["default"].Expr.Range().SliceBytes(vsrc)); got != want {
			t.Errorf("variable %s default %s, want %s", name, got, want)
		}
	}
	block(t, body, "resource", "aws_scheduler_schedule", "this")
	block(t, body, "resource", "aws_cloudwatch_log_group", "this")
	alarm := block(t, body, "resource", "aws_cloudwatch_metric_alarm", "errors").Body
	if str(alarm, "metric_name") != "Errors" {
		t.Error("the alarm is not on the Errors metric")
	}
}
