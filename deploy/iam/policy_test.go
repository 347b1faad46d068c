// Package iam holds certferry's IAM policies. deploy/iam/*.json is the one source of the
// least-privilege policy: the README quotes the bastion policy verbatim and the
// Terraform module's role has the same statements and conditions with narrower
// resources. This test keeps all of them least-privilege and in step with the AWS calls
// the code makes. It is generic over the files: a policy added to deploy/iam or a policy
// document added to deploy/terraform is checked the same way.
package iam

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/certferry/certferry/config"
)

const root = "../.."

// stmt is one statement of any policy source, normalised.
type stmt struct {
	where     string // file and Sid, for errors
	sid       string
	effect    string
	trust     bool // names a Principal: a trust policy statement (who may assume a role)
	actions   []string
	resources []string
	// conds maps "operator key" to its sorted values, with the placeholders of the JSON
	// files (REGION, ACCOUNT_ID) and Terraform's interpolations made the same.
	conds map[string][]string
}

type source struct {
	name  string
	stmts []stmt
}

// ---- JSON policies (deploy/iam/*.json and the README) ----

type jsonStatement struct {
	Sid       string
	Effect    string
	Principal any
	Action    any
	Resource  any
	Condition map[string]map[string]any
}

type jsonPolicy struct {
	Version   string
	Statement []jsonStatement
}

func strs(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, e := range x {
			s, _ := e.(string)
			out = append(out, s)
		}
		return out
	}
	return nil
}

func parseJSONPolicy(t *testing.T, name string, data []byte) source {
	t.Helper()
	var p jsonPolicy
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if p.Version != "2012-10-17" {
		t.Errorf("%s: Version %q", name, p.Version)
	}
	src := source{name: name}
	for _, s := range p.Statement {
		n := stmt{where: name + " " + s.Sid, sid: s.Sid, effect: s.Effect, trust: s.Principal != nil,
			actions: strs(s.Action), resources: strs(s.Resource), conds: map[string][]string{}}
		for op, m := range s.Condition {
			for k, v := range m {
				n.conds[op+" "+k] = normValues(strs(v))
			}
		}
		src.stmts = append(src.stmts, n)
	}
	return src
}

func jsonFiles(t *testing.T) []source {
	t.Helper()
	files, err := filepath.Glob("*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no policies in deploy/iam: %v", err)
	}
	var out []source
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, parseJSONPolicy(t, "deploy/iam/"+f, data))
	}
	return out
}

// readmePolicies returns the IAM policies quoted in README.md's json blocks.
func readmePolicies(t *testing.T) []source {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var out []source
	for i, m := range regexp.MustCompile("(?s)```json\n(.*?)```").FindAllSubmatch(data, -1) {
		if bytes.Contains(m[1], []byte(`"Statement"`)) {
			out = append(out, parseJSONPolicy(t, fmt.Sprintf("README.md (policy %d)", i+1), m[1]))
		}
	}
	return out
}

// ---- Terraform policy documents (deploy/terraform/**/*.tf) ----

// tfPolicies returns every data "aws_iam_policy_document" of the Terraform files.
func tfPolicies(t *testing.T) []source {
	t.Helper()
	var out []source
	err := filepath.WalkDir(filepath.Join(root, "deploy", "terraform"), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && strings.HasPrefix(d.Name(), ".") {
			return filepath.SkipDir
		}
		if !strings.HasSuffix(p, ".tf") {
			return nil
		}
		src, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		f, diags := hclsyntax.ParseConfig(src, p, hcl.InitialPos)
		if diags.HasErrors() {
			return diags
		}
		rel, _ := filepath.Rel(root, p)
		for _, b := range f.Body.(*hclsyntax.Body).Blocks {
			if b.Type == "data" && len(b.Labels) == 2 && b.Labels[0] == "aws_iam_policy_document" {
				out = append(out, tfDocument(fmt.Sprintf("%s %s", rel, b.Labels[1]), b.Body, src))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatal("no aws_iam_policy_document in deploy/terraform")
	}
	return out
}

func tfDocument(name string, doc *hclsyntax.Body, src []byte) source {
	s := source{name: name}
	for _, b := range doc.Blocks {
		body := b.Body
		switch {
		case b.Type == "statement":
		case b.Type == "dynamic" && len(b.Labels) == 1 && b.Labels[0] == "statement":
			for _, c := range b.Body.Blocks {
				if c.Type == "content" {
					body = c.Body
				}
			}
		default:
			continue
		}
		n := stmt{sid: tfList(body, "sid", src)[0], effect: "Allow", conds: map[string][]string{}}
		if e := tfList(body, "effect", src); e[0] != "" {
			n.effect = e[0]
		}
		n.where = name + " " + n.sid
		n.actions = tfList(body, "actions", src)
		n.resources = tfList(body, "resources", src)
		for _, c := range body.Blocks {
			switch c.Type {
			case "principals":
				n.trust = true
			case "condition":
				key := tfList(c.Body, "test", src)[0] + " " + tfList(c.Body, "variable", src)[0]
				n.conds[key] = normValues(tfList(c.Body, "values", src))
			}
		}
		s.stmts = append(s.stmts, n)
	}
	return s
}

// tfList returns an attribute's strings: a literal string or list, quoted templates as
// their source text, concat() of lists as the literal elements (a var.* list appended to
// them is an operator's extension and not part of the shared policy).
func tfList(body *hclsyntax.Body, name string, src []byte) []string {
	a, ok := body.Attributes[name]
	if !ok {
		return []string{""}
	}
	var walk func(e hclsyntax.Expression) []string
	walk = func(e hclsyntax.Expression) []string {
		switch x := e.(type) {
		case *hclsyntax.TupleConsExpr:
			var out []string
			for _, el := range x.Exprs {
				out = append(out, walk(el)...)
			}
			return out
		case *hclsyntax.FunctionCallExpr:
			if x.Name == "concat" {
				var out []string
				for _, arg := range x.Args {
					if _, lit := arg.(*hclsyntax.TupleConsExpr); lit {
						out = append(out, walk(arg)...)
					}
				}
				return out
			}
		}
		if v, diags := e.Value(nil); !diags.HasErrors() && v.Type().FriendlyName() == "string" {
			return []string{v.AsString()}
		}
		return []string{strings.Trim(string(e.Range().SliceBytes(src)), `"`)}
	}
	return walk(a.Expr)
}

// normValues sorts values and writes the placeholders of the two sources alike.
func normValues(vs []string) []string {
	r := strings.NewReplacer("${local.region}", "REGION", "${local.account}", "ACCOUNT_ID", "${local.partition}", "aws")
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = r.Replace(v)
	}
	sort.Strings(out)
	return out
}

func allSources(t *testing.T) []source {
	t.Helper()
	return slices.Concat(jsonFiles(t), readmePolicies(t), tfPolicies(t))
}

// ---- the AWS calls the code makes ----

// iamPrefix is the IAM service prefix of an aws-sdk-go-v2 service package.
var iamPrefix = map[string]string{"cloudwatchlogs": "logs"}

// excludedDirs hold no production code: the stand-ins, test harnesses and benchmarks.
var excludedDirs = []string{"sandbox", "bench", "faults", "internal/e2etest", "cmd/certferry-sandbox", "deploy", ".git"}

// codeActions returns the IAM actions of every AWS operation the production code names
// (an operation's *Input type appears in every call and every client interface, the
// renewer's, the sinks', the providers', the account store's and the hooks' alike), with
// where each is named.
func codeActions(t *testing.T) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if d.IsDir() {
			if slices.Contains(excludedDirs, filepath.ToSlash(rel)) || strings.HasPrefix(d.Name(), ".") && rel != "." {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, p, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		services := map[string]string{} // import name -> IAM prefix
		for _, im := range f.Imports {
			path, _ := strconv.Unquote(im.Path.Value)
			svc, ok := strings.CutPrefix(path, "github.com/aws/aws-sdk-go-v2/service/")
			if !ok || strings.Contains(svc, "/") {
				if path == "github.com/aws/aws-sdk-go-v2/credentials/stscreds" {
					services["stscreds"] = "stscreds"
				}
				continue
			}
			name := svc
			if im.Name != nil {
				name = im.Name.Name
			}
			prefix := svc
			if p, ok := iamPrefix[svc]; ok {
				prefix = p
			}
			services[name] = prefix
		}
		ast.Inspect(f, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			id, ok := sel.X.(*ast.Ident)
			if !ok || services[id.Name] == "" {
				return true
			}
			action := ""
			switch {
			case services[id.Name] == "stscreds" && sel.Sel.Name == "NewAssumeRoleProvider":
				action = "sts:AssumeRole"
			case services[id.Name] != "stscreds" && strings.HasSuffix(sel.Sel.Name, "Input"):
				action = services[id.Name] + ":" + strings.TrimSuffix(sel.Sel.Name, "Input")
			}
			if action != "" && !slices.Contains(out[action], rel) {
				out[action] = append(out[action], rel)
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// indirect are actions a policy may grant although no code names them: AWS performs
// them on certferry's behalf.
var indirect = map[string]string{
	"kms:Decrypt":           "Secrets Manager decrypts a secret under a customer managed key",
	"kms:GenerateDataKey":   "Secrets Manager encrypts a secret under a customer managed key",
	"logs:CreateLogStream":  "the Lambda runtime writes the function's log",
	"logs:PutLogEvents":     "the Lambda runtime writes the function's log",
	"lambda:InvokeFunction": "EventBridge Scheduler invokes the function",
}

// notShipped are calls no shipped policy grants, because the operator grants them to
// whoever runs certferry.
var notShipped = map[string]string{
	"sts:AssumeRole": "aws.assume_role_arn: the caller's own policy allows assuming the role it names",
}

// noResourceLevel lists the actions AWS documents as not supporting resource-level
// permissions: only these may have "Resource": "*".
var noResourceLevel = []string{"route53:ListHostedZones", "route53:ListHostedZonesByName", "route53:GetChange",
	"secretsmanager:ListSecrets", "autoscaling:DescribeInstanceRefreshes", "sts:GetCallerIdentity"}

// required are the conditions a statement granting the action must carry, in every
// policy. Conditions beyond these are checked against each other by TestConditionsAgree.
var required = map[string]map[string][]string{
	"route53:ChangeResourceRecordSets": {
		"ForAllValues:StringEquals route53:ChangeResourceRecordSetsRecordTypes": {"TXT"},
		"ForAllValues:StringEquals route53:ChangeResourceRecordSetsActions":     {"CREATE", "DELETE"},
	},
	"secretsmanager:CreateSecret": {"ForAllValues:StringLike aws:TagKeys": {"certferry:*"}},
	"secretsmanager:TagResource":  {"ForAllValues:StringLike aws:TagKeys": {"certferry:*"}},
	"kms:Decrypt":                 {"StringEquals kms:ViaService": {"secretsmanager.REGION.amazonaws.com"}},
	"kms:GenerateDataKey":         {"StringEquals kms:ViaService": {"secretsmanager.REGION.amazonaws.com"}},
}

// recordNamesCond limits the names a change may touch: the policies name some of
// recordNames (a dns-01 runner and a dns-persist-01 one both, `persist apply` only the
// persist records; docs/dns.md).
const recordNamesCond = "ForAllValues:StringLike route53:ChangeResourceRecordSetsNormalizedRecordNames"

var recordNames = []string{"_acme-challenge.*", "_validation-persist.*"}

// TestEveryPolicyLeastPrivilege: every Allow of every policy (deploy/iam, the README,
// Terraform) is a call the code makes or one AWS makes for it, on the narrowest
// resource, with the required conditions.
func TestEveryPolicyLeastPrivilege(t *testing.T) {
	t.Parallel()
	code := codeActions(t)
	for _, src := range allSources(t) {
		for _, s := range src.stmts {
			if s.effect != "Allow" {
				continue // a Deny only narrows
			}
			if s.trust {
				if !slices.Equal(s.actions, []string{"sts:AssumeRole"}) {
					t.Errorf("%s: trust statement grants %v", s.where, s.actions)
				}
				continue
			}
			if len(s.resources) == 0 || s.resources[0] == "" {
				t.Errorf("%s: no resource", s.where)
			}
			for _, a := range s.actions {
				if strings.ContainsAny(a, "*?") {
					t.Errorf("%s: wildcard action %s", s.where, a)
				}
				if _, ok := code[a]; !ok && indirect[a] == "" {
					t.Errorf("%s: grants %s, which certferry never calls", s.where, a)
				}
				if slices.Contains(s.resources, "*") && !slices.Contains(noResourceLevel, a) {
					t.Errorf("%s: %s on \"*\" but it supports resource-level permissions", s.where, a)
				}
				for k, want := range required[a] {
					if got := s.conds[k]; !slices.Equal(got, want) {
						t.Errorf("%s: %s needs the condition %s %v, has %v", s.where, a, k, want, got)
					}
				}
				if a == "route53:ChangeResourceRecordSets" {
					names := s.conds[recordNamesCond]
					if len(names) == 0 || slices.ContainsFunc(names, func(n string) bool { return !slices.Contains(recordNames, n) }) {
						t.Errorf("%s: %s needs the condition %s limited to %v, has %v", s.where, a, recordNamesCond, recordNames, names)
					}
				}
				if strings.HasPrefix(a, "secretsmanager:") && a != "secretsmanager:ListSecrets" {
					for _, r := range s.resources {
						if !strings.HasSuffix(r, ":secret:certferry/*") && r != "local.secret_arns" {
							t.Errorf("%s: %s on %s, outside the secrets named certferry/*", s.where, a, r)
						}
					}
				}
			}
		}
	}
}

// TestConditionsAgree: a given action carries the same conditions in every statement of
// every policy that grants it.
func TestConditionsAgree(t *testing.T) {
	t.Parallel()
	type seen struct {
		where string
		conds map[string][]string
	}
	first := map[string]seen{}
	for _, src := range allSources(t) {
		for _, s := range src.stmts {
			if s.effect != "Allow" || s.trust {
				continue
			}
			for _, a := range s.actions {
				f, ok := first[a]
				if !ok {
					first[a] = seen{s.where, s.conds}
					continue
				}
				if !reflect.DeepEqual(withoutNames(f.conds), withoutNames(s.conds)) {
					t.Errorf("%s: conditions differ between\n  %s: %v\n  %s: %v", a, f.where, f.conds, s.where, s.conds)
				}
			}
		}
	}
}

// TestCodeCallsGranted: every call the code makes is granted by deploy/iam's policies,
// and the Terraform role grants every action of the bastion, KMS and hooks policies
// (the Lambda runs the same passes).
func TestCodeCallsGranted(t *testing.T) {
	t.Parallel()
	granted := func(srcs ...source) map[string]bool {
		m := map[string]bool{}
		for _, src := range srcs {
			for _, s := range src.stmts {
				if s.effect == "Allow" && !s.trust {
					for _, a := range s.actions {
						m[a] = true
					}
				}
			}
		}
		return m
	}
	files := jsonFiles(t)
	byName := map[string]source{}
	for _, f := range files {
		byName[f.name] = f
	}
	iamGrants := granted(files...)
	for a, where := range codeActions(t) {
		if notShipped[a] != "" || strings.HasPrefix(a, "ssm:") {
			continue // ssm: the Lambda's configuration source, granted by Terraform only
		}
		if !iamGrants[a] {
			t.Errorf("the code calls %s (%s) but no policy in deploy/iam grants it", a, strings.Join(where, ", "))
		}
	}
	var fn source
	for _, src := range tfPolicies(t) {
		if strings.HasSuffix(src.name, "iam.tf function") {
			fn = src
		}
	}
	tf := granted(fn)
	for _, name := range []string{"deploy/iam/certferry-bastion-policy.json", "deploy/iam/certferry-kms-policy.json", "deploy/iam/certferry-hooks-policy.json"} {
		src, ok := byName[name]
		if !ok {
			t.Fatalf("%s is missing", name)
		}
		for a := range granted(src) {
			if !tf[a] {
				t.Errorf("%s grants %s, the Terraform role does not", name, a)
			}
		}
	}
}

// TestChangeActionsMatchProvider: the Route 53 change actions the policies allow are
// exactly those providers/route53 sends (as a change's action, not in a comparison).
func TestChangeActionsMatchProvider(t *testing.T) {
	t.Parallel()
	files, _ := filepath.Glob(filepath.Join(root, "providers", "route53", "*.go"))
	seen := map[string]bool{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range regexp.MustCompile(`(?:txtChange\(|Action:\s*)types\.ChangeAction(Create|Delete|Upsert)\b`).FindAllStringSubmatch(string(data), -1) {
			seen[strings.ToUpper(m[1])] = true
		}
	}
	var sent []string
	for a := range seen {
		sent = append(sent, a)
	}
	sort.Strings(sent)
	if want := required["route53:ChangeResourceRecordSets"]["ForAllValues:StringEquals route53:ChangeResourceRecordSetsActions"]; !slices.Equal(sent, want) {
		t.Errorf("providers/route53 sends %v, the policies allow %v", sent, want)
	}
}

// TestReadmeQuotesBastionPolicy: the README's policy is the bastion policy, verbatim.
func TestReadmeQuotesBastionPolicy(t *testing.T) {
	t.Parallel()
	readme := readmePolicies(t)
	if len(readme) != 1 {
		t.Fatalf("README.md quotes %d policies, want the bastion policy once", len(readme))
	}
	data, err := os.ReadFile("certferry-bastion-policy.json")
	if err != nil {
		t.Fatal(err)
	}
	bastion := parseJSONPolicy(t, "bastion", data)
	if !reflect.DeepEqual(normSids(readme[0]), normSids(bastion)) {
		t.Errorf("README.md's IAM policy differs from deploy/iam/certferry-bastion-policy.json: copy the file into the README")
	}
}

func normSids(s source) []stmt {
	out := slices.Clone(s.stmts)
	for i := range out {
		out[i].where = ""
	}
	return out
}

// TestExampleSecretsInsidePolicy: the example configuration's secrets are inside the
// policies' certferry/* prefix, so a copied example works with the shipped policy.
func TestExampleSecretsInsidePolicy(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(filepath.Join(root, "config.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	// Every commented-out alternative too: uncommenting one must not leave the prefix.
	var names []string
	for _, m := range regexp.MustCompile(`(?m)(?:secret|account_secret):\s*([^\s,}#]+)`).FindAllStringSubmatch(string(data), -1) {
		if strings.HasPrefix(m[1], `"`) || strings.HasPrefix(m[1], "$") {
			continue // a webhook secret
		}
		names = append(names, m[1])
	}
	cfg, err := config.Parse(data, func(string) (string, bool) { return "x", true })
	if err != nil {
		t.Fatalf("config.example.yaml: %v", err)
	}
	names = append(names, cfg.ACME.AccountSecret)
	for _, c := range cfg.Certificates {
		if c.Sinks.SecretsManager != nil {
			names = append(names, c.Sinks.SecretsManager.Secret)
		}
	}
	if len(names) < 3 {
		t.Fatalf("found only the secrets %v", names)
	}
	for _, n := range names {
		if !strings.HasPrefix(n, "certferry/") {
			t.Errorf("config.example.yaml names the secret %q, outside the policies' certferry/*", n)
		}
	}
}

// withoutNames drops the record names condition, whose values differ by policy on
// purpose (see recordNamesCond).
func withoutNames(conds map[string][]string) map[string][]string {
	out := maps.Clone(conds)
	delete(out, recordNamesCond)
	return out
}
