package route53

import "testing"

func TestAliasName(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"example.org":                    "_acme-challenge.example.org.",
		"Acme.Example.org.":              "_acme-challenge.acme.example.org.",
		"_acme-challenge.example.org":    "_acme-challenge.example.org.",
		"*.example.org":                  "_acme-challenge.example.org.",
		" _acme-challenge.x.example.net": "_acme-challenge.x.example.net.",
	} {
		if got := aliasName(in); got != want {
			t.Errorf("aliasName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCertDNSRecord(t *testing.T) {
	t.Parallel()
	c := CertDNS{Alias: "example.org", NoFollow: true, ZoneIDs: map[string]string{"www.example.com": "ZWWW"}}
	tests := []struct{ fqdn, zone, want string }{
		{"_acme-challenge.www.example.com.", "ZCERT", "ZWWW"}, // the name's pin wins
		{"_acme-challenge.WWW.example.com", "", "ZWWW"},
		{"_acme-challenge.api.example.com.", "ZCERT", "ZCERT"}, // the certificate's
		{"_acme-challenge.api.example.com.", "", ""},
	}
	for _, tt := range tests {
		r := c.Record(tt.fqdn, "v", tt.zone)
		if r.ZoneID != tt.want || r.Alias != "example.org" || !r.NoFollow || r.FQDN != tt.fqdn || r.Value != "v" {
			t.Errorf("Record(%q, %q) = %+v, want zone %q", tt.fqdn, tt.zone, r, tt.want)
		}
	}
}

func TestTargetName(t *testing.T) {
	t.Parallel()
	if got := targetName("_acme-challenge.www.example.com", "x.example.org."); got != "_acme-challenge.www.example.com (at x.example.org)" {
		t.Errorf("delegated: %q", got)
	}
	if got := targetName("_acme-challenge.www.example.com.", "_acme-challenge.www.example.com."); got != "_acme-challenge.www.example.com" {
		t.Errorf("in place: %q", got)
	}
}
