package faults_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/certferry/certferry/certs/certstest"
	"github.com/certferry/certferry/internal/e2etest"
	"github.com/certferry/certferry/internal/sandbox"
	"github.com/certferry/certferry/renew"
	"github.com/certferry/certferry/scheduler"
	"github.com/certferry/certferry/sinks/file"
	smsink "github.com/certferry/certferry/sinks/secretsmanager"
)

// TestSecretHandPlacedCertificate: a certificate from another CA (a ten-year one, as an
// operator's self-made stopgap would be) written into the secret by hand, names and key
// type right, does not chain to acme.issuer_roots: the next pass finds it due with
// reason not-from-ca and replaces it with one order, whatever its dates say; the pass
// after that has nothing to do.
func TestSecretHandPlacedCertificate(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{})
	a := e.App(t, e.Config(t, webCert))
	e.Pass(t, a, renew.Options{})

	other := certstest.NewCA(t)
	now := time.Now()
	b := other.Bundle(t, "web", certstest.Leaf{Domains: []string{"www.example.com"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(10 * 365 * 24 * time.Hour)})
	value, err := b.MarshalSecret()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.SM.PutSecretValue(t.Context(), &awssm.PutSecretValueInput{SecretId: aws.String("certferry/web"), SecretString: aws.String(string(value))}); err != nil {
		t.Fatal(err)
	}

	orders := e.orders()
	sum := e.Pass(t, a, renew.Options{})
	r := result(t, sum, "web")
	if r.Err() != nil || r.Reason != scheduler.ReasonNotFromCA || r.Action != renew.ActionRenew || !strings.Contains(r.Message, "does not chain to acme.issuer_roots") {
		t.Fatalf("pass after the hand-placed certificate: action %s, reason %s, message %q, error %v", r.Action, r.Reason, r.Message, r.Err())
	}
	if n := e.orders() - orders; n != 1 {
		t.Errorf("%d orders to replace it, want 1", n)
	}
	cur := e.Stored(t, "certferry/web", "AWSCURRENT") // verified against the sandbox's issuer roots
	if cur.Serial == b.Serial {
		t.Fatal("the hand-placed certificate is still current")
	}

	orders = e.orders()
	sum = e.Pass(t, a, renew.Options{})
	if r := result(t, sum, "web"); r.Reason != scheduler.ReasonNotDue || r.Condition != renew.ConditionReady {
		t.Errorf("the pass after the replacement: reason %s, condition %s", r.Reason, r.Condition)
	}
	if n := e.orders() - orders; n != 0 {
		t.Errorf("%d orders after the replacement", n)
	}
}

// TestHandSetDirectoryTag: a certferry:directory tag set by hand to another CA does not
// make the certificate "ca-changed": the tags no longer match their version, so the
// value is read, and the CA is decided from the certificate itself (it chains to
// acme.issuer_roots): no order, and the tag is rewritten to the configured directory.
func TestHandSetDirectoryTag(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{})
	a := e.App(t, e.Config(t, webCert))
	e.Pass(t, a, renew.Options{})
	configured := e.Tags(t, "certferry/web")[smsink.TagDirectory]
	if _, err := e.SM.TagResource(t.Context(), &awssm.TagResourceInput{SecretId: aws.String("certferry/web"),
		Tags: []smtypes.Tag{{Key: aws.String(smsink.TagDirectory), Value: aws.String("https://other-ca.example/directory")}}}); err != nil {
		t.Fatal(err)
	}
	orders := e.orders()
	sum := e.Pass(t, a, renew.Options{})
	if r := result(t, sum, "web"); r.Reason != scheduler.ReasonNotDue || r.Err() != nil {
		t.Errorf("after a hand-set directory tag: reason %s, error %v", r.Reason, r.Err())
	}
	if n := e.orders() - orders; n != 0 {
		t.Errorf("%d orders for a certificate whose CA did not change", n)
	}
	if got := e.Tags(t, "certferry/web")[smsink.TagDirectory]; got != configured {
		t.Errorf("directory tag %q after the pass, want %q rewritten from the certificate", got, configured)
	}
}

// TestFileHandPlacedCertificate: a certificate kept only as files, replaced there by hand
// with one from another CA (a ten-year self-signed stopgap), is found out as a secret's
// value is: due with reason not-from-ca and replaced with one order on the next pass;
// it read as ready for its ten years.
func TestFileHandPlacedCertificate(t *testing.T) {
	t.Parallel()
	e := newACMEEnv(t, sandbox.Options{})
	dir := filepath.Join(e.Dir, "web-files")
	a := e.App(t, e.Config(t, "certificates:\n  - name: web\n    domains: [www.example.com]\n    sinks:\n      file: { dir: "+dir+" }\n"))
	e.Pass(t, a, renew.Options{})

	other := certstest.NewCA(t)
	now := time.Now()
	b := other.Bundle(t, "web", certstest.Leaf{Domains: []string{"www.example.com"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(10 * 365 * 24 * time.Hour)})
	if err := file.New(nil).Store(t.Context(), file.Target{Dir: dir}, b); err != nil {
		t.Fatal(err)
	}
	orders := e.orders()
	r := result(t, e.Pass(t, a, renew.Options{}), "web")
	if r.Err() != nil || r.Reason != scheduler.ReasonNotFromCA || r.Action != renew.ActionRenew {
		t.Fatalf("pass after the hand-placed files: action %s, reason %s, message %q, error %v", r.Action, r.Reason, r.Message, r.Err())
	}
	if n := e.orders() - orders; n != 1 {
		t.Errorf("%d orders to replace it, want 1", n)
	}
	got, err := file.Load(dir)
	if err != nil || got.Serial == b.Serial {
		t.Fatalf("files after the pass: %v; the hand-placed certificate still there: %v", err, err == nil && got.Serial == b.Serial)
	}
	if r := result(t, e.Pass(t, a, renew.Options{}), "web"); r.Reason != scheduler.ReasonNotDue || r.Condition != renew.ConditionReady {
		t.Errorf("the pass after the replacement: reason %s, condition %s", r.Reason, r.Condition)
	}
}

// TestFileKeyMismatch: a certificate kept only as files whose privkey.pem was replaced by
// hand with another key (no server can use the pair) is due with reason key-mismatch and
// replaced on the next pass with one order, as a secret's would be; it was failing
// (stored-unreadable) on every pass until renew --force.
func TestFileKeyMismatch(t *testing.T) {
	t.Parallel()
	e := newACMEEnv(t, sandbox.Options{})
	dir := filepath.Join(e.Dir, "web-files")
	a := e.App(t, e.Config(t, "certificates:\n  - name: web\n    domains: [www.example.com]\n    sinks:\n      file: { dir: "+dir+" }\n"))
	e.Pass(t, a, renew.Options{})
	before, err := file.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	other := certstest.NewCA(t).Bundle(t, "web", certstest.Leaf{Domains: []string{"www.example.com"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)})
	if err := os.WriteFile(filepath.Join(dir, file.KeyFile), other.Key.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	orders := e.orders()
	r := result(t, e.Pass(t, a, renew.Options{}), "web")
	if r.Err() != nil || r.Reason != scheduler.ReasonKeyMismatch || r.Action != renew.ActionRenew {
		t.Fatalf("pass after the hand-placed key: action %s, reason %s, message %q, error %v", r.Action, r.Reason, r.Message, r.Err())
	}
	if n := e.orders() - orders; n != 1 {
		t.Errorf("%d orders to replace it, want 1", n)
	}
	if got, err := file.Load(dir); err != nil || got.Serial == before.Serial {
		t.Errorf("files after the pass: %v (serial unchanged: %v)", err, err == nil && got.Serial == before.Serial)
	}
}

// TestSecretCopiedFromAnotherCertificate: another certificate's value (from the CA, its
// key its own) copied into certferry/web by hand covers none of web's names. Its tags
// describe another version, so the value is read; it read as ready, the issuance guard
// holding the names change back for a day while servers loaded a certificate for the
// wrong names. Now status shows it due with reason wrong-names, the next pass replaces it
// with one order, and the pass after that has nothing to do (the replacement is
// certferry's own: no order loop).
func TestSecretCopiedFromAnotherCertificate(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{})
	a := e.App(t, e.Config(t, e2etest.CertsYAML(e2etest.CertYAML("web", "www.example.com"), e2etest.CertYAML("pz", "pz.example.com"))))
	e.Pass(t, a, renew.Options{})
	out, err := e.SM.GetSecretValue(t.Context(), &awssm.GetSecretValueInput{SecretId: aws.String("certferry/pz")})
	if err != nil {
		t.Fatal(err)
	}
	copied := e.Stored(t, "certferry/pz", "AWSCURRENT")
	putSecret(t, e, aws.ToString(out.SecretString))

	orders := e.orders()
	plan := e.Pass(t, a, renew.Options{Plan: true}) // what status shows
	if r := result(t, plan, "web"); r.Reason != scheduler.ReasonWrongNames || r.Condition != renew.ConditionDue ||
		!strings.Contains(r.Message, "covers pz.example.com, not the configured www.example.com; it was not written by certferry") {
		t.Fatalf("status of a copied value: reason %s, condition %s, message %q", r.Reason, r.Condition, r.Message)
	}
	r := result(t, e.Pass(t, a, renew.Options{}), "web")
	if r.Err() != nil || r.Reason != scheduler.ReasonWrongNames || r.Action != renew.ActionRenew {
		t.Fatalf("pass after the copied value: action %s, reason %s, message %q, error %v", r.Action, r.Reason, r.Message, r.Err())
	}
	if n := e.orders() - orders; n != 1 {
		t.Errorf("%d orders to replace it, want 1", n)
	}
	if cur := e.Stored(t, "certferry/web", "AWSCURRENT"); cur.Serial == copied.Serial || !slices.Equal(cur.Domains, []string{"www.example.com"}) {
		t.Fatalf("certferry/web holds serial %s for %v after the pass; the copy was %s", cur.Serial, cur.Domains, copied.Serial)
	}
	orders = e.orders()
	if r := result(t, e.Pass(t, a, renew.Options{}), "web"); r.Reason != scheduler.ReasonNotDue || r.Condition != renew.ConditionReady {
		t.Errorf("the pass after the replacement: reason %s, condition %s", r.Reason, r.Condition)
	}
	if n := e.orders() - orders; n != 0 {
		t.Errorf("%d orders after the replacement", n)
	}
}
