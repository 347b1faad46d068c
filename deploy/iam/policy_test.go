// Package iam holds certferry's IAM policies; its test keeps them least-privilege and in
// step with the AWS calls the code makes.
package iam

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"testing"
)

type statement struct {
	Sid       string
	Effect    string
	Action    []string
	Resource  any
	Condition map[string]map[string][]string
}

type policy struct {
	Version   string
	Statement []statement
}

func readPolicy(t *testing.T, name string) policy {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	var p policy
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if p.Version != "2012-10-17" {
		t.Errorf("%s: Version %q", name, p.Version)
	}
	return p
}

// noResourceLevel lists the actions AWS documents as not supporting resource-level
// permissions: only these may have "Resource": "*".
var noResourceLevel = []string{"route53:ListHostedZones", "route53:GetChange", "secretsmanager:ListSecrets",
	"autoscaling:DescribeInstanceRefreshes"}

func actions(t *testing.T, p policy) []string {
	t.Helper()
	var out []string
	for _, s := range p.Statement {
		if s.Effect != "Allow" {
			t.Errorf("statement %s: Effect %q", s.Sid, s.Effect)
		}
		out = append(out, s.Action...)
		if res, ok := s.Resource.(string); ok && res == "*" {
			for _, a := range s.Action {
				if !slices.Contains(noResourceLevel, a) {
					t.Errorf("statement %s: %s on \"*\" but it supports resource-level permissions", s.Sid, a)
				}
			}
		}
		if s.Resource == nil {
			t.Errorf("statement %s: no Resource", s.Sid)
		}
	}
	sort.Strings(out)
	return out
}

// calledActions reads the AWS client interfaces in the code (the methods a package
// declares on its injectable client) and returns them as IAM actions.
func calledActions(t *testing.T, prefix string, files ...string) []string {
	t.Helper()
	re := regexp.MustCompile(`(?m)^\t([A-Z]\w+)\(ctx context\.Context, in(?:put)? \*\w+\.\w+Input`)
	seen := map[string]bool{}
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join("..", "..", f))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range re.FindAllStringSubmatch(string(data), -1) {
			seen[prefix+":"+m[1]] = true
		}
	}
	var out []string
	for a := range seen {
		out = append(out, a)
	}
	sort.Strings(out)
	return out
}

func TestBastionPolicy(t *testing.T) {
	t.Parallel()
	p := readPolicy(t, "certferry-bastion-policy.json")
	want := []string{
		"route53:ChangeResourceRecordSets", "route53:GetChange", "route53:ListHostedZones", "route53:ListResourceRecordSets",
		"secretsmanager:CreateSecret", "secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue",
		"secretsmanager:ListSecrets", "secretsmanager:PutSecretValue", "secretsmanager:TagResource",
		"secretsmanager:UntagResource", "secretsmanager:UpdateSecretVersionStage",
	}
	if got := actions(t, p); !slices.Equal(got, want) {
		t.Errorf("actions\n got %v\nwant %v", got, want)
	}
	// The documented set is exactly what the code calls.
	code := append(calledActions(t, "route53", "providers/route53/route53.go"),
		calledActions(t, "secretsmanager", "sinks/secretsmanager/sink.go", "acme/store_secretsmanager.go")...)
	sort.Strings(code)
	if !slices.Equal(code, want) {
		t.Errorf("the code's AWS clients call\n %v\nthe policy allows\n %v", code, want)
	}

	i := slices.IndexFunc(p.Statement, func(s statement) bool { return slices.Contains(s.Action, "route53:ChangeResourceRecordSets") })
	s := p.Statement[i]
	if len(s.Action) != 1 {
		t.Errorf("ChangeResourceRecordSets shares its statement with %v", s.Action)
	}
	if got := s.Condition["ForAllValues:StringEquals"]["route53:ChangeResourceRecordSetsRecordTypes"]; !slices.Equal(got, []string{"TXT"}) {
		t.Errorf("record types condition %v, want [TXT]", got)
	}
	if got := s.Condition["ForAllValues:StringLike"]["route53:ChangeResourceRecordSetsNormalizedRecordNames"]; !slices.Equal(got, []string{"_acme-challenge.*"}) {
		t.Errorf("record names condition %v, want [_acme-challenge.*]", got)
	}
	// The provider's compare-and-swap sends DELETE and CREATE, never UPSERT.
	if got := s.Condition["ForAllValues:StringEquals"]["route53:ChangeResourceRecordSetsActions"]; !slices.Equal(got, providerChangeActions(t)) {
		t.Errorf("change actions condition %v, the provider sends %v", got, providerChangeActions(t))
	}
	for _, s := range p.Statement {
		if slices.ContainsFunc(s.Action, func(a string) bool {
			return a != "secretsmanager:ListSecrets" && len(a) > 15 && a[:15] == "secretsmanager:"
		}) &&
			s.Resource != "arn:aws:secretsmanager:*:*:secret:certferry/*" {
			t.Errorf("statement %s: secrets outside certferry/*: %v", s.Sid, s.Resource)
		}
	}
}

// providerChangeActions reads the Route 53 change actions providers/route53 sends.
func providerChangeActions(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "providers", "route53", "batch.go"))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, m := range regexp.MustCompile(`txtChange\(types\.ChangeAction(\w+),`).FindAllStringSubmatch(string(data), -1) {
		seen[map[string]string{"Create": "CREATE", "Delete": "DELETE", "Upsert": "UPSERT"}[m[1]]] = true
	}
	var out []string
	for a := range seen {
		out = append(out, a)
	}
	sort.Strings(out)
	if len(out) == 0 {
		t.Fatal("no change action found in providers/route53/batch.go")
	}
	return out
}

func TestOptionalPolicies(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		file string
		want []string
	}{
		{"certferry-kms-policy.json", []string{"kms:Decrypt", "kms:GenerateDataKey"}},
		{"certferry-hooks-policy.json", []string{"autoscaling:CancelInstanceRefresh", "autoscaling:DescribeInstanceRefreshes",
			"autoscaling:StartInstanceRefresh", "ecs:UpdateService"}},
	} {
		if got := actions(t, readPolicy(t, tt.file)); !slices.Equal(got, tt.want) {
			t.Errorf("%s: actions %v, want %v", tt.file, got, tt.want)
		}
	}
}
