package config

import (
	"strings"
	"testing"
	"time"
)

func TestParseLimit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want Limit
		err  string
	}{
		{in: "300/3h", want: Limit{300, 3 * time.Hour}},
		{in: " 50 / 7d ", want: Limit{50, 7 * 24 * time.Hour}},
		{in: "5/168h", want: Limit{5, 168 * time.Hour}},
		{in: "20/30s", want: Limit{20, 30 * time.Second}},
		{in: "1/1d12h", want: Limit{1, 36 * time.Hour}},
		{in: "none", want: Limit{}},
		{in: "300", err: `"300": write N/DURATION (e.g. 50/168h or 300/3h), or none`},
		{in: "/3h", err: `"/3h": write N/DURATION (e.g. 50/168h or 300/3h), or none`},
		{in: "300/", err: `"300/": write N/DURATION (e.g. 50/168h or 300/3h), or none`},
		{in: "-1/3h", err: `"-1/3h": write N/DURATION (e.g. 50/168h or 300/3h), or none`},
		{in: "+1/3h", err: `"+1/3h": write N/DURATION (e.g. 50/168h or 300/3h), or none`},
		{in: "1.5/3h", err: `"1.5/3h": write N/DURATION (e.g. 50/168h or 300/3h), or none`},
		{in: "300/3 hours", err: `"300/3 hours": write N/DURATION (e.g. 50/168h or 300/3h), or none`},
		{in: "300/3h/2", err: `"300/3h/2": write N/DURATION (e.g. 50/168h or 300/3h), or none`},
		{in: "0/3h", err: `"0/3h": the count must be between 1 and 1000000`},
		{in: "99999999999999999999/3h", err: `"99999999999999999999/3h": the count must be between 1 and 1000000`},
		{in: "1000001/3h", err: `"1000001/3h": the count must be between 1 and 1000000`},
		{in: "5/0s", err: `"5/0s": the window must be more than 0 and at most 366d`},
		{in: "5/-1h", err: `"5/-1h": the window must be more than 0 and at most 366d`},
		{in: "5/367d", err: `"5/367d": the window must be more than 0 and at most 366d`},
		{in: "", err: `"": write N/DURATION (e.g. 50/168h or 300/3h), or none`},
	}
	for _, tt := range tests {
		got, err := ParseLimit(tt.in)
		switch {
		case tt.err != "" && (err == nil || err.Error() != tt.err):
			t.Errorf("ParseLimit(%q) = %v, %v; want error %s", tt.in, got, err, tt.err)
		case tt.err == "" && (err != nil || got != tt.want):
			t.Errorf("ParseLimit(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

// TestLimitsDefault: the Let's Encrypt directories get Let's Encrypt's limits where the
// file sets none; "none" turns one off; other CAs get none unless configured.
func TestLimitsDefault(t *testing.T) {
	t.Parallel()
	const certs = "certificates: [{name: www, domains: [www.example.org], sinks: {secretsmanager: {secret: certs/www}}}]\n"
	tests := []struct {
		name, acme string
		want       Limits
	}{
		{"letsencrypt", "acme: {email: ops@example.org}\n", LetsEncryptLimits},
		{"staging", "acme: {email: ops@example.org, directory: letsencrypt-staging}\n", LetsEncryptLimits},
		{"other CA", "acme: {email: ops@example.org, directory: \"https://ca.example.org/dir\"}\n", Limits{}},
		{"other CA configured", "acme: {email: ops@example.org, directory: \"https://ca.example.org/dir\", limits: {per_registered_domain: 20/30s}}\n",
			Limits{PerRegisteredDomain: Limit{20, 30 * time.Second}}},
		{"override and none", "acme: {email: ops@example.org, limits: {new_orders: 30/60s, duplicates: none}}\n",
			Limits{NewOrders: Limit{30, time.Minute}, PerRegisteredDomain: LetsEncryptLimits.PerRegisteredDomain}},
	}
	for _, tt := range tests {
		c, err := Parse([]byte(tt.acme+certs), nil)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if c.ACME.Limits != tt.want {
			t.Errorf("%s: limits %+v, want %+v", tt.name, c.ACME.Limits, tt.want)
		}
		if err := c.Validate(); err != nil {
			t.Errorf("%s: Validate: %v", tt.name, err)
		}
	}
}

func TestValidateLimits(t *testing.T) {
	t.Parallel()
	c, err := Parse([]byte("acme: {email: ops@example.org}\ncertificates: [{name: www, domains: [www.example.org], sinks: {secretsmanager: {secret: certs/www}}}]\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	c.ACME.Limits.Duplicates = Limit{N: 0, Window: time.Hour}
	err = c.Validate()
	if err == nil || !strings.Contains(err.Error(), "acme.limits.duplicates: 0/1h: the count must be between 1 and 1000000") {
		t.Fatalf("Validate: %v", err)
	}
}

// FuzzParseLimit: ParseLimit never panics; what it accepts is in range and reads back the
// same from its String.
func FuzzParseLimit(f *testing.F) {
	for _, s := range []string{"300/3h", "50/168h", "5/7d", "none", "20/30s", "1/1d12h", "0/1h", "1/-1h", "9/99999999999h", " 1 / 2m ", "1/+3h", "1/d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l, err := ParseLimit(s)
		if err != nil {
			if !strings.Contains(err.Error(), ": ") {
				t.Fatalf("error without a reason: %v", err)
			}
			return
		}
		if l.IsZero() {
			return
		}
		if l.N < 1 || l.N > MaxLimitN || l.Window <= 0 || l.Window > MaxLimitWindow {
			t.Fatalf("ParseLimit(%q) = %+v: out of range", s, l)
		}
		again, err := ParseLimit(l.String())
		if err != nil || again != l {
			t.Fatalf("ParseLimit(%q) = %+v; its String %q reads back as %+v, %v", s, l, l.String(), again, err)
		}
	})
}
