package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awssm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"go.uber.org/zap"

	"github.com/certferry/certferry/acme"
	"github.com/certferry/certferry/config"
	"github.com/certferry/certferry/internal/app"
	"github.com/certferry/certferry/internal/e2etest"
	"github.com/certferry/certferry/internal/sandbox"
	"github.com/certferry/certferry/internal/sandbox/calls"
	smsink "github.com/certferry/certferry/sinks/secretsmanager"
)

func TestParseEvent(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in   string
		want Event
		err  string
	}{
		{in: ``, want: Event{}},
		{in: ` null `, want: Event{}},
		{in: `{}`, want: Event{}},
		{in: `{"force": true, "only": ["web", "api"], "dry_run": true}`, want: Event{Force: true, Only: []string{"web", "api"}, DryRun: true}},
		{in: `{"dryrun": true}`, err: `event: unknown field "dryrun": the event takes only "force" (bool), "only" (list of certificate names), "dry_run" (bool)`},
		{in: `{"force": "yes"}`, err: `event: "force": got a JSON string, want true or false`},
		{in: `{"only": "web"}`, err: `event: "only": got a JSON string, want a list of certificate names`},
		{in: `{"only": [""]}`, err: `event: only[0]: empty certificate name`},
		{in: `[]`, err: `event: want a JSON object with "force" (bool), "only" (list of certificate names), "dry_run" (bool), got a JSON array`},
		{in: `{} {}`, err: `event: trailing data after the JSON object`},
		{in: `{"force": tru}`, err: `event: not JSON (offset 14): invalid character '}' in literal true (expecting 'e')`},
		{in: `{"force": true`, err: `event: truncated JSON`},
	}
	for _, tc := range cases {
		got, err := parseEvent([]byte(tc.in))
		if tc.err != "" {
			var ie *InvalidEventError
			if err == nil || err.Error() != tc.err || !errors.As(err, &ie) {
				t.Errorf("parseEvent(%s): got %v, want InvalidEventError %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("parseEvent(%s) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}

func TestParseSource(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in, kind, ref, err string
	}{
		{in: "", kind: sourceFile, ref: "/var/task/certferry.yaml"},
		{in: "ssm:/certferry/config", kind: sourceSSM, ref: "/certferry/config"},
		{in: "ssm:", err: `CERTFERRY_CONFIG: "ssm:": write ssm:/parameter/name (or ssm:name, or the parameter's ARN)`},
		{in: "secretsmanager:certferry/config", kind: sourceSecretsManager, ref: "certferry/config"},
		{in: "secretsmanager:", err: `CERTFERRY_CONFIG: "secretsmanager:": write secretsmanager:<secret name or ARN>`},
		{in: "file:/etc/certferry.yaml", kind: sourceFile, ref: "/etc/certferry.yaml"},
		{in: "file:conf/c.yaml", kind: sourceFile, ref: "/var/task/conf/c.yaml"},
		{in: "/opt/certferry.yaml", kind: sourceFile, ref: "/opt/certferry.yaml"},
		{in: "acme:\n  email: a@example.com\n", kind: sourceInline, ref: "acme:\n  email: a@example.com\n"},
	}
	for _, tc := range cases {
		got, err := parseSource(tc.in, "/var/task")
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("parseSource(%q): got %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got.kind != tc.kind || got.ref != tc.ref {
			t.Errorf("parseSource(%q) = %+v, %v; want %s %q", tc.in, got, err, tc.kind, tc.ref)
		}
	}
	if s := (source{kind: sourceInline, ref: "secret: x"}).String(); strings.Contains(s, "secret") {
		t.Errorf("an inline source's String shows its content: %s", s)
	}
}

// fakeSSM answers GetParameter (AWS JSON 1.1) for the real SDK client.
func fakeSSM(t *testing.T, params map[string]string) ssmAPI {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Amz-Target") != "AmazonSSM.GetParameter" {
			http.Error(w, "unexpected "+r.Header.Get("X-Amz-Target"), http.StatusBadRequest)
			return
		}
		var in struct {
			Name           string
			WithDecryption bool
		}
		body, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(body, &in)
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		v, ok := params[in.Name]
		if !ok || !in.WithDecryption {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"__type":"ParameterNotFound","message":"no such parameter"}`)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"Parameter": map[string]any{"Name": in.Name, "Type": "SecureString", "Value": v}})
	}))
	t.Cleanup(srv.Close)
	return ssm.New(ssm.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("k", "s", "")})
}

func TestFetchSources(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, DefaultConfigFile), []byte("from: file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	sb := startSandbox(t, 0)
	sm := awssm.NewFromConfig(sb.AWSConfig(t.Context()))
	if _, err := sm.CreateSecret(t.Context(), &awssm.CreateSecretInput{Name: aws.String("certferry/config"), SecretString: aws.String("from: secret\n")}); err != nil {
		t.Fatal(err)
	}
	c := clients{
		ssm: func(context.Context) (ssmAPI, error) {
			return fakeSSM(t, map[string]string{"/certferry/config": "from: ssm\n"}), nil
		},
		secrets: func(context.Context) (secretsAPI, error) { return sm, nil },
	}
	cases := []struct{ env, want, err string }{
		{env: "", want: "from: file\n"},
		{env: "from: inline\n", want: "from: inline\n"},
		{env: "ssm:/certferry/config", want: "from: ssm\n"},
		{env: "ssm:/missing", err: "config: ssm get parameter /missing: "},
		{env: "secretsmanager:certferry/config", want: "from: secret\n"},
		{env: "secretsmanager:missing", err: "config: secretsmanager get secret value missing: "},
		{env: "file:nothing.yaml", err: "config: " + filepath.Join(dir, "nothing.yaml") + " does not exist: put certferry.yaml next to the bootstrap in the zip, or set CERTFERRY_CONFIG (ssm:/name, secretsmanager:name or the YAML itself)"},
	}
	for _, tc := range cases {
		src, err := parseSource(tc.env, dir)
		if err != nil {
			t.Fatal(err)
		}
		got, err := src.fetch(t.Context(), c)
		if tc.err != "" {
			if err == nil || !strings.HasPrefix(err.Error(), tc.err) {
				t.Errorf("%q: got %v, want an error starting %q", tc.env, err, tc.err)
			}
			continue
		}
		if err != nil || string(got) != tc.want {
			t.Errorf("%q: got %q, %v; want %q", tc.env, got, err, tc.want)
		}
	}
}

func TestOptionsFromEnv(t *testing.T) {
	t.Parallel()
	env := func(m map[string]string) func(string) (string, bool) {
		return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
	}
	o, err := optionsFromEnv(env(map[string]string{EnvSafetyMargin: "90s"}), "/var/task")
	if err != nil || o.Margin != 90*time.Second || o.Source.ref != "/var/task/certferry.yaml" {
		t.Errorf("got %+v, %v", o, err)
	}
	if _, err := optionsFromEnv(env(map[string]string{EnvSafetyMargin: "-1s"}), "/"); err == nil || err.Error() != `CERTFERRY_SAFETY_MARGIN: "-1s": want a positive duration such as 60s` {
		t.Errorf("negative margin: %v", err)
	}
}

func TestPassContext(t *testing.T) {
	t.Parallel()
	h := newHandler(HandlerOptions{Margin: time.Minute})
	cases := []struct{ timeout, wantLeft time.Duration }{
		{15 * time.Minute, 14 * time.Minute}, // the full margin
		{3 * time.Second, 2 * time.Second},   // a third of a short timeout
	}
	for _, tc := range cases {
		ctx, cancel := context.WithTimeout(t.Context(), tc.timeout)
		pctx, pcancel := h.passContext(ctx)
		dl, _ := pctx.Deadline()
		if left := time.Until(dl); left > tc.wantLeft || left < tc.wantLeft-time.Second {
			t.Errorf("timeout %s: pass gets %s, want about %s", tc.timeout, left, tc.wantLeft)
		}
		pcancel()
		cancel()
	}
}

func parse(t *testing.T, yaml string) *config.Config {
	t.Helper()
	cfg, err := config.Parse([]byte(yaml), nil)
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	return cfg
}

const minimal = `acme:
  directory: https://127.0.0.1:14000/dir
  email: a@example.com
  %s
aws:
  region: us-east-1
%s
certificates:
  - name: web
    domains: [www.example.com]
    sinks:
      secretsmanager: { secret: certferry/web }
      %s
  - name: api
    domains: [api.example.com]
    profile: shortlived
    sinks:
      secretsmanager: { secret: certferry/api }
`

func fill(acme, top, sink string) string {
	return strings.Replace(strings.Replace(strings.Replace(minimal, "%s", acme, 1), "%s", top, 1), "%s", sink, 1)
}

func TestLambdaProblems(t *testing.T) {
	t.Parallel()
	if err := lambdaProblems(parse(t, fill("", "", ""))); err != nil {
		t.Errorf("a Secrets Manager configuration is refused: %v", err)
	}
	err := lambdaProblems(parse(t, fill("account_store: file:/var/lib/certferry", "", "file: { dir: /tmp/web }")))
	want := `acme.account_store: "file:/var/lib/certferry" keeps the ACME account on the Lambda's local disk, which does not survive the invocation (every cold start would register a new account): use account_store: secretsmanager
certificates[0].sinks.file (web): a Lambda's disk does not survive the invocation; store the certificate in Secrets Manager only (sinks.secretsmanager)`
	if err == nil || err.Error() != want {
		t.Errorf("got %v\nwant %s", err, want)
	}
}

func TestIntervalWarnings(t *testing.T) {
	t.Parallel()
	cases := []struct {
		interval string
		want     []string // substrings, one per warning, in order
	}{
		{"", nil},
		{"schedule: { interval: 24h }", nil},
		// 7 days: the 6-day shortlived certificate expires before every next run.
		{"schedule: { interval: 168h }", []string{"certificates[1] (api, profile \"shortlived\", expected lifetime 6d)"}},
		// 50 days: fine for 90 days and 64 days, not for 45.
		{"schedule: { interval: 1200h }", []string{"certificates[1] (api", "becomes 45d on 2028-02-16"}},
		// 64 days: already broken by the 64-day default of 2027.
		{"schedule: { interval: 1536h }", []string{"certificates[1] (api", "becomes 64d on 2027-02-10"}},
		{"schedule: { interval: 2160h }", []string{"certificates[0] (web, profile \"\", expected lifetime 90d)", "certificates[1] (api", "becomes 64d on 2027-02-10"}},
	}
	for _, tc := range cases {
		got := app.ScheduleWarnings(parse(t, fill("", tc.interval, "")))
		if len(got) != len(tc.want) {
			t.Errorf("%q: got %d warnings %q, want %d", tc.interval, len(got), got, len(tc.want))
			continue
		}
		for i, w := range tc.want {
			if !strings.Contains(got[i], w) || !strings.HasPrefix(got[i], "schedule.interval: ") {
				t.Errorf("%q: warning %d = %q, want it to contain %q", tc.interval, i, got[i], w)
			}
		}
	}
}

func TestObservedProblems(t *testing.T) {
	const day = 24 * time.Hour
	t.Parallel()
	cfg := parse(t, fill("", "", ""))
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	inv := map[string]smsink.Stored{
		"certferry/web": {NotBefore: t0, NotAfter: t0.Add(45 * day)},
		"certferry/api": {NotBefore: t0, NotAfter: t0.Add(160 * time.Hour)},
	}
	cases := []struct {
		interval time.Duration
		names    []string
	}{
		{0, nil},
		{day, nil},
		{7 * day, []string{"api"}},
		{45 * day, []string{"web", "api"}}, // interval == lifetime: expires exactly at the next run
		{60 * day, []string{"web", "api"}},
	}
	for _, tc := range cases {
		got := app.ObservedScheduleProblems(tc.interval, cfg.Certificates, inv)
		var names []string
		for _, p := range got {
			names = append(names, p[:strings.Index(p, ":")])
		}
		if !reflect.DeepEqual(names, tc.names) {
			t.Errorf("interval %s: got %q, want problems for %v", tc.interval, got, tc.names)
		}
	}
}

// TestHandlerRefusesInterval runs the handler in-process: with schedule.interval 7 days,
// the first pass issues the 6-day certificate (and warns); the second refuses, because
// the stored certificate expires before the next run.
func TestHandlerRefusesInterval(t *testing.T) {
	sb := startSandbox(t, 0)
	info := sb.Info()
	yaml := strings.Replace(sandboxConfig(info, "schedule: { interval: 168h }\n"), "profile: default", "profile: shortlived", 1)
	awsCfg := sb.AWSConfig(t.Context())
	h := newHandler(HandlerOptions{Logger: zap.NewNop(), Level: zap.NewAtomicLevel(), Source: source{kind: sourceInline, ref: yaml},
		App: app.Options{AWS: &awsCfg, MinOrderTime: 10 * time.Second}})
	ctx, cancel := context.WithTimeout(t.Context(), 2*e2etest.PassBound(sandbox.Options{})) // two passes
	defer cancel()

	out, err := h.Invoke(ctx, []byte(`{}`))
	if err != nil {
		t.Fatalf("first pass: %v", err)
	}
	var s summary
	if err := json.Unmarshal(out, &s); err != nil {
		t.Fatal(err)
	}
	if s.Failed != 0 || s.Results[0].Action != "issue" || len(s.Warnings) == 0 || !strings.Contains(s.Warnings[0], "expected lifetime 6d") {
		t.Fatalf("first pass: want issued with a warning, got %+v", s)
	}
	_, err = h.Invoke(ctx, []byte(`{}`))
	var se *ScheduleError
	if !errors.As(err, &se) || !strings.Contains(err.Error(), "web: the stored certificate lives 159h59m59s") {
		t.Fatalf("second pass: want a ScheduleError for web, got %v", err)
	}
}

// TestHandlerKeepsUnstored: a certificate issued in an invocation whose store failed is
// stored by the next one without a new order: the App (and its Runner's memory) is kept
// across a failed certificate, and a rebuild for a changed configuration adopts it.
func TestHandlerKeepsUnstored(t *testing.T) {
	for _, changed := range []bool{false, true} {
		t.Run(map[bool]string{false: "same config", true: "changed config"}[changed], func(t *testing.T) {
			sb := startSandbox(t, 0)
			yaml := sandboxConfig(sb.Info(), "")
			awsCfg := sb.AWSConfig(t.Context())
			h := newHandler(HandlerOptions{Logger: zap.NewNop(), Level: zap.NewAtomicLevel(), Source: source{kind: sourceInline, ref: yaml},
				App: app.Options{AWS: &awsCfg, MinOrderTime: 10 * time.Second}})
			ctx, cancel := context.WithTimeout(t.Context(), 2*e2etest.PassBound(sandbox.Options{})) // two passes
			defer cancel()

			// The ACME account is stored in Secrets Manager too: the certificate's store
			// is made to fail once an order exists, the account stored
			// by then; the finalize is held to leave the time. Three failures beat the
			// SDK's three attempts.
			c := sb.Calls()
			c.FailNext("acme", "Finalize", 1, calls.Fault{Hang: 2 * time.Second})
			injected := make(chan struct{})
			go func() {
				defer close(injected)
				tick := time.NewTicker(10 * time.Millisecond)
				defer tick.Stop()
				for c.Count("acme", "NewOrder") == 0 {
					select {
					case <-ctx.Done():
						return
					case <-tick.C:
					}
				}
				// The journal of the DNS-01 records created the secret (without a value)
				// after the order: the certificate's first write is a PutSecretValue.
				c.FailNext("secretsmanager", "PutSecretValue", 3, calls.Fault{Code: "InternalServiceError", Message: "injected", Status: http.StatusInternalServerError})
			}()
			_, err := h.Invoke(ctx, []byte(`{}`))
			<-injected
			var pf *PassFailedError
			if !errors.As(err, &pf) || !strings.Contains(err.Error(), "InternalServiceError") {
				t.Fatalf("first invocation: want a failed store, got %v", err)
			}
			if changed {
				h.src.ref = yaml + "# edited\n"
			}
			out, err := h.Invoke(ctx, []byte(`{}`))
			if err != nil {
				t.Fatalf("second invocation: %v", err)
			}
			var s summary
			if err := json.Unmarshal(out, &s); err != nil {
				t.Fatal(err)
			}
			if s.Failed != 0 || len(s.Results) != 1 || s.Results[0].VersionID == "" {
				t.Fatalf("second invocation: want the certificate stored, got %+v", s)
			}
			if n := c.Count("acme", "NewOrder"); n != 1 {
				t.Errorf("%d orders, want 1: the issued certificate was lost", n)
			}
		})
	}
}

// TestCleanupFitsTheMargin: the clean-up of a pass the safety margin stopped comes after
// the ACME client's deactivation of the abandoned order; for any margin that can hold
// both (40 s and more), the two together end inside it, so a CA and a Route 53 hung at
// the deadline still finish before the invocation's timeout. With the default margin of
// 60 s, 22.5 s of clean-up were 45 s, which with the deactivation's 30 s overran it.
func TestCleanupFitsTheMargin(t *testing.T) {
	for _, m := range []time.Duration{40 * time.Second, DefaultSafetyMargin, 90 * time.Second, 5 * time.Minute} {
		c := cleanupTimeout(m)
		if c <= 0 || acme.AbandonTimeout+c > m {
			t.Errorf("margin %s: clean-up %s after the deactivation's %s overruns it", m, c, acme.AbandonTimeout)
		}
	}
	if c := cleanupTimeout(10 * time.Second); c <= 0 || c > 10*time.Second {
		t.Errorf("margin 10s: clean-up %s", c)
	}
}
