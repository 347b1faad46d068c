package renew

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	smsink "github.com/certferry/certferry/sinks/secretsmanager"
)

// secretOwners groups the certificates of one secret however each names it, whether or
// not the inventory lists the secret (one certferry never wrote, made by Terraform).
func TestSecretOwners(t *testing.T) {
	t.Parallel()
	const arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:certferry/web"
	cert := func(name, secret string) Cert { return Cert{Name: name, Secret: &smsink.Target{Secret: secret}} }
	inv := map[string]smsink.Stored{"certferry/web": {Secret: "certferry/web", ARN: arn + "-AbCdEf"}}
	for _, tc := range []struct {
		name  string
		certs []Cert
		inv   map[string]smsink.Stored
		want  map[string][]string
	}{
		{"distinct", []Cert{cert("a", "certferry/a"), cert("b", "certferry/b")}, nil,
			map[string][]string{"certferry/a": {"a"}, "certferry/b": {"b"}}},
		{"full ARN, listed", []Cert{cert("a", "certferry/web"), cert("b", arn+"-AbCdEf")}, inv,
			map[string][]string{"certferry/web": {"a", "b"}}},
		{"partial ARN, listed", []Cert{cert("a", "certferry/web"), cert("b", arn)}, inv,
			map[string][]string{"certferry/web": {"a", "b"}}},
		{"full ARN, not listed", []Cert{cert("a", "certferry/web"), cert("b", arn+"-AbCdEf")}, nil,
			map[string][]string{"certferry/web": {"a", "b"}}},
		{"partial ARN, not listed", []Cert{cert("b", arn), cert("a", "certferry/web")}, nil,
			map[string][]string{"certferry/web": {"a", "b"}}},
		{"a longer name is another secret", []Cert{cert("a", "certferry/web-x"), cert("b", arn+"-AbCdEf")}, nil,
			map[string][]string{"certferry/web-x": {"a"}, arn + "-AbCdEf": {"b"}}},
		{"no secret", []Cert{{Name: "files"}}, nil, map[string][]string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := New(tc.certs, Settings{}, Deps{})
			got := r.secretOwners(tc.inv)
			for _, names := range got {
				slices.Sort(names)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// Check reports, per certificate, what the preflight would refuse, for every
// certificate whether due or not, and orders and writes nothing.
func TestCheck(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	good, foreign, lost := webCert(), webCert(), webCert()
	foreign.Name, foreign.Domains, foreign.Secret = "foreign", []string{"foreign.example.com"}, &smsink.Target{Secret: "certferry/foreign"}
	lost.Name, lost.Domains, lost.Secret = "lost", []string{"www.example.org"}, &smsink.Target{Secret: "certferry/lost"}
	w.secrets.secret("certferry/foreign").foreign = true
	w.dns.noZone = []string{"example.org."}
	r := w.runner(good, foreign, lost)
	w.pass(r, Options{Only: []string{"web"}}) // stored: not due
	begins, saves := w.ca.begins, w.secrets.saves

	problems, err := r.Check(t.Context(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range problems {
		got = append(got, p.Error())
	}
	if len(got) != 2 || !slices.ContainsFunc(got, func(s string) bool {
		return strings.HasPrefix(s, `certificate foreign: sinks.secretsmanager.secret "certferry/foreign" holds something certferry did not write`)
	}) || !slices.ContainsFunc(got, func(s string) bool {
		return strings.HasPrefix(s, "certificate lost: dns: route53: find zone for _acme-challenge.www.example.org: no hosted zone")
	}) {
		t.Errorf("problems:\n%s", strings.Join(got, "\n"))
	}
	if w.ca.begins != begins || w.secrets.saves != saves || w.secrets.tags("certferry/lost") != nil {
		t.Errorf("Check ordered or wrote")
	}
	// --force lifts the foreign-secret check, as in the preflight.
	if problems, _ := r.Check(t.Context(), Options{Force: true}); len(problems) != 1 {
		t.Errorf("with force: %v", problems)
	}
}

// TestOnlyNamedTwice: a certificate named twice in Options.Only (--only web --only web,
// a Lambda event's "only" list) is one certificate of the pass: one order, one result.
// It once ran twice at once: two orders, the second certificate thrown away ("lost-race")
// and the pass failing.
func TestOnlyNamedTwice(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	sum := w.pass(w.runner(webCert()), Options{Only: []string{"web", "web"}})
	if len(sum.Results) != 1 || w.ca.begins != 1 || sum.Failing() != 0 {
		t.Errorf("--only web --only web: %d result(s), %d order(s), %d failing; want 1, 1, 0: %+v", len(sum.Results), w.ca.begins, sum.Failing(), sum.Results)
	}
}
