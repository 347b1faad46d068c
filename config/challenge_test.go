package config

import (
	"testing"
	"time"
)

func TestChallengeInherited(t *testing.T) {
	t.Parallel()
	c, err := Parse([]byte(`
acme: { email: ops@example-corp.net }
challenge: dns-persist-01
persist_until: 90d
certificates:
  - name: a
    domains: [a.example.org]
    sinks: { secretsmanager: { secret: certs/a } }
  - name: b
    domains: [b.example.org]
    challenge: dns-01
    sinks: { secretsmanager: { secret: certs/b } }
  - name: c
    domains: ["*.c.example.org", c.example.org]
    persist_until: 30d
    sinks: { secretsmanager: { secret: certs/c } }
`), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []struct {
		challenge string
		until     time.Duration
	}{
		{ChallengeDNSPersist01, 90 * 24 * time.Hour},
		{ChallengeDNS01, 90 * 24 * time.Hour},
		{ChallengeDNSPersist01, 30 * 24 * time.Hour},
	} {
		if got := c.Certificates[i]; got.Challenge != want.challenge || got.PersistUntil != want.until {
			t.Errorf("certificate %s: challenge %q, persist_until %s; want %q, %s", got.Name, got.Challenge, got.PersistUntil, want.challenge, want.until)
		}
	}
	if len(c.Warnings) != 0 {
		t.Errorf("warnings: %q", c.Warnings)
	}
}
