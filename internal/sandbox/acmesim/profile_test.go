package acmesim_test

import (
	"strings"
	"testing"
	"time"

	"github.com/go-acme/lego/v4/certificate"

	"github.com/certferry/certferry/internal/sandbox/acmesim"
)

// TestUnnamedProfile: an order naming no profile gets the default profile every time
// (Pebble alone picks one at random: a 6-day certificate with an empty subject could
// appear by surprise), and a random one only when RandomProfile asks for it.
func TestUnnamedProfile(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		opts     acmesim.Options
		validity []time.Duration // any of these
		cn       bool
		orders   int
	}{
		{"default", acmesim.Options{AlwaysValid: true}, []time.Duration{acmesim.DefaultCertValidity}, true, 6},
		{"named default", acmesim.Options{AlwaysValid: true, DefaultProfile: acmesim.ProfileShortLived}, []time.Duration{acmesim.ShortLivedValidity}, false, 2},
		{"random", acmesim.Options{AlwaysValid: true, RandomProfile: true}, []time.Duration{acmesim.DefaultCertValidity, acmesim.ShortLivedValidity}, false, 2}, // tlsserver is 90 days too
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			client := newLego(t, startCA(t, tt.opts))
			// Six orders: Pebble's own choice among three profiles would differ from
			// "default" at least once with probability 1-(1/3)^6 > 99.8%.
			for range tt.orders {
				res, err := client.Certificate.Obtain(certificate.ObtainRequest{Domains: []string{"p.example.com"}, Bundle: true})
				if err != nil {
					t.Fatalf("Obtain: %v", err)
				}
				leaf, _ := leafOf(t, res.Certificate)
				got := leaf.NotAfter.Sub(leaf.NotBefore) + time.Second
				ok := false
				for _, v := range tt.validity {
					ok = ok || got == v
				}
				if !ok {
					t.Errorf("validity = %s, want one of %v", got, tt.validity)
				}
				if tt.cn && leaf.Subject.CommonName != "p.example.com" {
					t.Errorf("CN = %q, want p.example.com", leaf.Subject.CommonName)
				}
			}
		})
	}
}

func TestDefaultProfileOptions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opts acmesim.Options
		want string
	}{
		{"unknown", acmesim.Options{DefaultProfile: "classic"}, `acmesim: DefaultProfile "classic" is not one of the CA's profiles`},
		{"both", acmesim.Options{DefaultProfile: "default", RandomProfile: true}, "exclude each other"},
		{"ambiguous", acmesim.Options{Profiles: map[string]acmesim.Profile{"a": {Validity: time.Hour}, "b": {Validity: time.Hour}}}, "2 Profiles and no DefaultProfile"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := acmesim.Start(t.Context(), tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Start: %v, want %q", err, tt.want)
			}
		})
	}
}
