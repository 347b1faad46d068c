package daemon_test

import (
	"slices"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/certferry/certferry/daemon"
	"github.com/certferry/certferry/internal/e2etest"
	"github.com/certferry/certferry/internal/sandbox"
	"github.com/certferry/certferry/internal/testwait"
	"github.com/certferry/certferry/metrics"
	"github.com/certferry/certferry/renew"
)

// TestHealthConfigurationProblemAtOnce: a configuration the preflight refuses (two
// certificates that swapped secrets; a certificate renamed onto a secret that holds
// another certificate) is failing in the daemon's first pass, and /healthz answers 503
// naming every certificate involved, with ready_status False: at once, although no
// certificate is due (each stored certificate is fresh), and still after the refreshes
// between passes. A failing certificate that merely has time left waits for its renewal
// time before it pages; a broken configuration needs a human whatever the time.
func TestHealthConfigurationProblemAtOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("sandbox test")
	}
	two := e2etest.CertsYAML(e2etest.CertYAML("web", "www.example.com"), e2etest.CertYAML("api", "api.example.com"))
	base := strings.TrimSuffix(sharedConfig("www.example.com"), e2etest.CertsYAML(e2etest.CertYAML("web", "www.example.com")))
	e := e2etest.Start(t, sandbox.Options{Zones: []string{"example.com"}})
	e.Base = base
	cfg := e.Config(t, two)
	if sum := e.Pass(t, e.App(t, cfg), renew.Options{}); sum.Failing() != 0 {
		t.Fatalf("first issuance: %d failing", sum.Failing())
	}
	for _, c := range []struct {
		name    string
		certs   string
		failing []string
	}{
		{"swapped", strings.NewReplacer("secret: certferry/web", "secret: certferry/api", "secret: certferry/api", "secret: certferry/web").Replace(two), []string{"web", "api"}},
		{"renamed onto a secret another certificate holds", strings.Replace(two, "name: web", "name: www", 1), []string{"www"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := metrics.New()
			log := zaptest.NewLogger(t, zaptest.Level(zap.FatalLevel))
			r := start(t, daemon.Options{ConfigPath: e.WriteConfig(t, base+c.certs), Build: sandboxBuild(e.SB, m, log), Metrics: m, Logger: log})
			eventually(t, beforeFirstWait, "the first pass", func() bool { return r.passes(t) == 1 })
			check := func(when string) {
				t.Helper()
				code, h := r.health(t)
				var names []string
				for _, f := range h.Failing {
					names = append(names, f.Name)
				}
				slices.Sort(names)
				want := slices.Sorted(slices.Values(c.failing))
				if code != 503 || !slices.Equal(names, want) {
					t.Errorf("%s: /healthz %d failing %v, want 503 failing %v (%+v)", when, code, names, want, h)
				}
				for _, n := range c.failing {
					if v := r.value(t, "certferry_certificate_ready_status", map[string]string{"name": n, "condition": "False"}); v != 1 {
						t.Errorf("%s: ready_status{name=%s,condition=False} = %v, want 1", when, n, v)
					}
				}
			}
			check("after the first pass")
			lists := e.SB.Calls().Count("secretsmanager", "ListSecrets")
			eventually(t, testwait.For(2*refreshEvery), "two refreshes", func() bool {
				return e.SB.Calls().Count("secretsmanager", "ListSecrets") >= lists+2
			})
			check("after two refreshes")
			if err := r.stop(t); err != nil {
				t.Fatal(err)
			}
		})
	}
}
