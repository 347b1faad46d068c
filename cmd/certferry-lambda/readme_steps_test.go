package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/certferry/certferry/internal/awshttp"
	"github.com/certferry/certferry/internal/docsteps"
	"github.com/certferry/certferry/internal/sandbox"
)

// ssmStandIn serves the two SSM calls of the README's Lambda steps over the AWS JSON 1.1
// protocol, as AWS answers them: PutParameter (ParameterAlreadyExists without
// Overwrite) and GetParameter (ParameterNotFound).
type ssmStandIn struct {
	mu     sync.Mutex
	params map[string]string
	gets   []string
}

func (s *ssmStandIn) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Name, Value, Type string
		Overwrite         bool
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	_ = json.Unmarshal(body, &in)
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	fail := func(code, msg string) {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"__type":%q,"message":%q}`, code, msg)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch r.Header.Get("X-Amz-Target") {
	case "AmazonSSM.PutParameter":
		if _, ok := s.params[in.Name]; ok && !in.Overwrite {
			fail("ParameterAlreadyExists", "The parameter already exists. To overwrite this value, set the overwrite option in the request to true.")
			return
		}
		s.params[in.Name] = in.Value
		fmt.Fprint(w, `{"Tier":"Standard","Version":1}`)
	case "AmazonSSM.GetParameter":
		s.gets = append(s.gets, in.Name)
		v, ok := s.params[in.Name]
		if !ok {
			fail("ParameterNotFound", "")
			return
		}
		out, _ := json.Marshal(map[string]any{"Parameter": map[string]any{"Name": in.Name, "Type": "SecureString", "Value": v, "Version": 1}})
		_, _ = w.Write(out)
	default:
		fail("InvalidAction", "not served by the stand-in: "+r.Header.Get("X-Amz-Target"))
	}
}

// exampleConfigSource is CERTFERRY_CONFIG as the Terraform example sets it (its module's
// certferry_config, which the module passes to the function's environment).
func exampleConfigSource(t *testing.T, dir string) string {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(dir, "main.tf"))
	if err != nil {
		t.Fatal(err)
	}
	f, diags := hclsyntax.ParseConfig(src, "main.tf", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	for _, b := range f.Body.(*hclsyntax.Body).Blocks {
		if b.Type != "module" {
			continue
		}
		a, ok := b.Body.Attributes["certferry_config"]
		if !ok {
			continue
		}
		v, diags := a.Expr.Value(nil)
		if diags.HasErrors() || !v.Type().Equals(v.Type()) || v.Type().FriendlyName() != "string" {
			t.Fatalf("the example's certferry_config is not a literal string: %s", a.Expr.Range().SliceBytes(src))
		}
		return v.AsString()
	}
	t.Fatal("the example's module sets no certferry_config")
	return ""
}

// TestReadmeLambdaStepsRun runs the README's "Run on AWS Lambda" steps in their order,
// as far as one machine can: `make lambda` is the bootstrap TestMain builds the same
// way; `aws ssm put-parameter`, with the README's own flags and a configuration for the
// sandbox as certferry.yaml, goes to an SSM stand-in; `terraform apply` stands for the
// function's environment, CERTFERRY_CONFIG as the Terraform example sets it
// (deploy/terraform plans the example itself); and `aws lambda invoke` posts the
// README's payload to the function under the emulator, which reads the parameter and
// answers a dry run. A second put-parameter without --overwrite fails as on AWS: what a
// Terraform example that also created the parameter would have met.
func TestReadmeLambdaStepsRun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the bootstrap and runs it under the emulator")
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	steps, err := docsteps.Steps(readme, "## Run on AWS Lambda")
	if err != nil {
		t.Fatal(err)
	}
	order := []string{"make lambda", "aws ssm put-parameter", "cd ", "terraform init", "aws lambda invoke"}
	at := map[string]string{}
	last := -1
	for _, p := range order {
		i, s := docsteps.Find(steps, p)
		if i <= last {
			t.Fatalf("step %q missing or out of order in:\n%s", p, strings.Join(steps, "\n"))
		}
		last, at[p] = i, s
	}

	sb := startSandbox(t, 0)
	info := sb.Info()
	std := &ssmStandIn{params: map[string]string{}}
	ssmSrv := httptest.NewServer(std)
	defer ssmSrv.Close()

	// aws ssm put-parameter --region R --name N --type T --value file://certferry.yaml
	put := at["aws ssm put-parameter"]
	name, typ, value := docsteps.FlagValue(put, "name"), docsteps.FlagValue(put, "type"), docsteps.FlagValue(put, "value")
	file, ok := strings.CutPrefix(value, "file://")
	if name == "" || typ == "" || !ok {
		t.Fatalf("%q: want --name, --type and --value file://...", put)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, file), []byte(sandboxConfig(info, "")), 0o600); err != nil {
		t.Fatal(err)
	}
	content, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		t.Fatal(err)
	}
	cli := ssm.New(ssm.Options{Region: docsteps.FlagValue(put, "region"), BaseEndpoint: aws.String(ssmSrv.URL), HTTPClient: awshttp.Client(),
		Credentials: credentials.NewStaticCredentialsProvider(sandbox.Credentials, sandbox.Credentials, "")})
	in := &ssm.PutParameterInput{Name: aws.String(name), Type: ssmtypes.ParameterType(typ), Value: aws.String(string(content))}
	if _, err := cli.PutParameter(t.Context(), in); err != nil {
		t.Fatalf("%s: %v", put, err)
	}
	if _, err := cli.PutParameter(t.Context(), in); err == nil || !strings.Contains(err.Error(), "ParameterAlreadyExists") {
		t.Errorf("a second put-parameter: %v, want ParameterAlreadyExists", err)
	}

	// cd deploy/terraform/examples/basic; terraform apply: the function's environment.
	example := filepath.Join("../..", strings.TrimPrefix(at["cd "], "cd "))
	cfgSource := exampleConfigSource(t, example)
	if cfgSource != "ssm:"+name {
		t.Fatalf("the example sets CERTFERRY_CONFIG=%q; the README's put-parameter creates %q", cfgSource, name)
	}

	// aws lambda invoke --payload P
	payload := docsteps.FlagValue(at["aws lambda invoke"], "payload")
	if !json.Valid([]byte(payload)) {
		t.Fatalf("the README's payload %q is not JSON", payload)
	}
	env := rieEnv(info, cfgSource, "120")
	env["AWS_ENDPOINT_URL_SSM"] = ssmSrv.URL
	r := startRIE(t, env)
	body := r.invoke(t, payload)
	// A dry run plans: nothing ordered, nothing written.
	s := decodeSummary(t, body)
	if s.Failed != 0 || len(s.Results) != 1 || s.Results[0].Name != "web" || s.Results[0].Action != "plan" {
		t.Errorf("invoke %s: want a dry run planning web, got %s", payload, body)
	}
	std.mu.Lock()
	defer std.mu.Unlock()
	if len(std.gets) == 0 || std.gets[0] != name {
		t.Errorf("the function read parameters %q, want %q", std.gets, name)
	}
}
