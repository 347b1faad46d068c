package iam

import (
	"os"
	"slices"
	"strings"
	"testing"
)

// TestOperatorPolicy: the operator policy holds what `certferry retire --delete-secret`
// needs and the renewing runners must not have: DeleteSecret, only on secrets certferry
// tagged as certificates (never the account secret, which has no certferry:name tag).
// No runner's policy (deploy/iam, the README, Terraform) grants it.
func TestOperatorPolicy(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("certferry-operator-policy.json")
	if err != nil {
		t.Fatal(err)
	}
	op := parseJSONPolicy(t, "deploy/iam/certferry-operator-policy.json", data)
	if len(op.stmts) != 1 {
		t.Fatalf("operator policy: %d statements, want 1", len(op.stmts))
	}
	s := op.stmts[0]
	if !slices.Equal(s.actions, []string{"secretsmanager:DeleteSecret"}) || !slices.Equal(s.resources, []string{"arn:aws:secretsmanager:*:*:secret:certferry/*"}) {
		t.Errorf("operator policy grants %v on %v", s.actions, s.resources)
	}
	if got := s.conds["Null secretsmanager:ResourceTag/certferry:name"]; !slices.Equal(got, []string{"false"}) {
		t.Errorf("DeleteSecret is not limited to secrets tagged certferry:name: %v", s.conds)
	}
	runners := append(append(jsonFiles(t), readmePolicies(t)...), tfPolicies(t)...)
	for _, src := range runners {
		if strings.HasSuffix(src.name, "certferry-operator-policy.json") {
			continue
		}
		for _, st := range src.stmts {
			if st.effect == "Allow" && slices.Contains(st.actions, "secretsmanager:DeleteSecret") {
				t.Errorf("%s grants DeleteSecret to a runner", st.where)
			}
		}
	}
}
