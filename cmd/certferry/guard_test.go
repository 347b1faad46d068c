package main

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/certferry/certferry/internal/e2etest"
	smsink "github.com/certferry/certferry/sinks/secretsmanager"
)

// TestCLIDirectorySwitchInsideTheGuard: with the default 24-hour issuance guard, a
// certificate switched to another CA minutes after its first issuance is renewed on the
// next pass without --force (the guard counts per CA and set of names); switching back
// waits, the first CA having issued these names within the window, and status and --plan
// agree on until when. A deliberate key-type change is allowed once inside the window
// and says so; a second waits.
func TestCLIDirectorySwitchInsideTheGuard(t *testing.T) {
	t.Parallel()
	e := newCLIEnv(t, sandboxBase+e2etest.CertsYAML(e2etest.CertYAML("web", "www.example.com")))
	dirA := e.Info.ACMEDirectory
	dirB := strings.Replace(dirA, "127.0.0.1", "localhost", 1)
	cfgA := e.cfg
	cfgB := writeFile(t, e.Dir, "b.yaml", strings.Replace(readFile(t, cfgA), dirA, dirB, 1))
	if strings.Contains(readFile(t, cfgA), "issuance_guard") {
		t.Fatal("the test wants the default issuance guard")
	}
	e.mustRenew(t)

	e.cfg = cfgB
	out := e.mustRenew(t)
	if r := rowOf(t, out, "web"); r["ACTION"] != "renew" || r["REASON"] != "ca-changed" || r["RESULT"] != "ok" {
		t.Fatalf("switched to another CA minutes after the first issuance: %q\n%s", r, out)
	}

	// Back to A: A issued these names minutes ago; the guard holds, and says until when.
	e.cfg = cfgA
	e.SB.Calls().Reset()
	code, out, errOut := e.renew(t, "--plan", "--json")
	var plan struct {
		Results []struct {
			Reason      string    `json:"reason"`
			Message     string    `json:"message"`
			NextAttempt time.Time `json:"next_attempt"`
		} `json:"results"`
	}
	if err := json.Unmarshal([]byte(out), &plan); err != nil || code != exitOK || len(plan.Results) != 1 {
		t.Fatalf("--plan back on A: exit %d, %v\n%s\n%s", code, err, out, errOut)
	}
	p := plan.Results[0]
	if p.Reason != "issuance-guard" || !strings.Contains(p.Message, "issued by this CA") || p.NextAttempt.Before(time.Now().Add(23*time.Hour)) {
		t.Fatalf("--plan back on A: %+v", p)
	}
	_, out, _ = cli(t, "status", "--config", e.cfg)
	if want := "after " + p.NextAttempt.UTC().Format("2006-01-02 15:04") + " (issuance-guard)"; !strings.Contains(out, want) {
		t.Errorf("status NEXT RENEWAL should say %q, as --plan does:\n%s", want, out)
	}
	if n := e.SB.Calls().Count("acme", "NewOrder"); n != 0 {
		t.Errorf("%d orders", n)
	}

	// On B: a key-type change is allowed once inside the window, a second one waits.
	e.cfg = writeFile(t, e.Dir, "b384.yaml", readFile(t, cfgB)+"    key_type: ec384\n")
	out = e.mustRenew(t, "--json")
	if !strings.Contains(out, `"reason": "key-type-changed"`) || !strings.Contains(out, "allowed once inside the issuance guard") || !strings.Contains(out, `"action": "renew"`) {
		t.Fatalf("a key-type change inside the window:\n%s", out)
	}
	e.cfg = writeFile(t, e.Dir, "brsa.yaml", readFile(t, cfgB)+"    key_type: rsa2048\n")
	out = e.mustRenew(t)
	if r := rowOf(t, out, "web"); r["REASON"] != "issuance-guard" || r["ACTION"] == "renew" {
		t.Fatalf("a second key-type change inside the window: %q\n%s", r, out)
	}
	if !regexp.MustCompile(`certferry:issued`).MatchString(strings.Join(mapKeys(e.tags(t, "certferry/web")), " ")) {
		t.Error("no certferry:issued tag")
	}
}

func mapKeys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestCLIIssuedFromTheFutureNotCounted: a certferry:issued tag edited by hand to claim
// issuances years ahead does not hold the certificate in the issuance guard until then
// (past its expiry): a key-type change is allowed once, as with the true record, and the
// entries no runner could have written are gone from the tag afterwards.
func TestCLIIssuedFromTheFutureNotCounted(t *testing.T) {
	t.Parallel()
	e := newCLIEnv(t, sandboxBase+e2etest.CertsYAML(e2etest.CertYAML("web", "www.example.com")))
	e.mustRenew(t)
	key, _, ok := strings.Cut(e.tags(t, "certferry/web")[smsink.TagIssued], ".")
	if !ok {
		t.Fatalf("no certferry:issued tag: %v", e.tags(t, "certferry/web"))
	}
	forged := key + ".1900000000 " + key + ".1099511627775"
	if _, err := e.SM.TagResource(t.Context(), &awssm.TagResourceInput{SecretId: aws.String("certferry/web"),
		Tags: []smtypes.Tag{{Key: aws.String(smsink.TagIssued), Value: aws.String(forged)}}}); err != nil {
		t.Fatal(err)
	}
	e.cfg = writeFile(t, e.Dir, "ec384.yaml", readFile(t, e.cfg)+"    key_type: ec384\n")
	out := e.mustRenew(t)
	if r := rowOf(t, out, "web"); r["ACTION"] != "renew" || r["REASON"] != "key-type-changed" || r["RESULT"] != "ok" {
		t.Fatalf("a key-type change with issuances claimed in 2030 and later: %q\n%s", r, out)
	}
	if v := e.tags(t, "certferry/web")[smsink.TagIssued]; strings.Contains(v, ".1900000000") || strings.Contains(v, ".1099511627775") {
		t.Errorf("certferry:issued kept the entries from the future: %q", v)
	}
}
