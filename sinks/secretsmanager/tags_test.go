package secretsmanager_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	smsink "github.com/certferry/certferry/sinks/secretsmanager"
)

type smTag = types.Tag

func TestEncodeDomains(t *testing.T) {
	t.Parallel()
	many := make([]string, 40)
	for i := range many {
		many[i] = fmt.Sprintf("host%02d.example.com", i)
	}
	tests := []struct {
		name      string
		in        []string
		want      string
		truncated bool
	}{
		{"plain", []string{"www.example.com", "example.com"}, "www.example.com example.com", false},
		{"wildcard", []string{"*.example.com", "example.com"}, "@.example.com example.com", false},
		{"none", nil, "", false},
		{"too many", many, strings.Join(many[:13], " ") + " +27", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := smsink.EncodeDomains(tt.in)
			if got != tt.want || len(got) > 256 {
				t.Fatalf("EncodeDomains = %q (%d chars), want %q", got, len(got), tt.want)
			}
			if smsink.SanitizeTagValue(got) != got {
				t.Fatalf("not a valid tag value: %q", got)
			}
			back, trunc := smsink.DecodeDomains(got)
			if trunc != tt.truncated || (!trunc && strings.Join(back, ",") != strings.Join(tt.in, ",")) {
				t.Fatalf("DecodeDomains = %q, %v", back, trunc)
			}
		})
	}
	// Lengths around the limit never exceed it.
	for n := 200; n <= 300; n++ {
		d := []string{strings.Repeat("a", n/2), strings.Repeat("b", n/2), "c.example.com"}
		if got := smsink.EncodeDomains(d); len(got) > 256 {
			t.Fatalf("n=%d: %d chars", n, len(got))
		}
	}
}

func TestSanitizeTagValue(t *testing.T) {
	t.Parallel()
	if got := smsink.SanitizeTagValue(`a,b*"c" é:/=+-@_.`); got != `a_b__c_ é:/=+-@_.` {
		t.Errorf("got %q", got)
	}
	if got := smsink.SanitizeTagValue(strings.Repeat("x", 300)); len(got) != 256 {
		t.Errorf("len %d", len(got))
	}
}

// CheckTagRoom counts the tags that are not certferry's, on the secret and from the
// configuration (a key in both once), against the room certferry's own leave.
func TestCheckTagRoom(t *testing.T) {
	t.Parallel()
	room := smsink.OtherTagsRoom()
	if room != smsink.MaxTags-30 {
		t.Errorf("room for other tags %d, want %d (certferry may write 30 keys)", room, smsink.MaxTags-30)
	}
	others := func(n int) map[string]string {
		m := map[string]string{smsink.TagName: "web", smsink.TagFailures: ""}
		for i := range n {
			m[fmt.Sprintf("team:%d", i)] = "x"
		}
		return m
	}
	for _, tc := range []struct {
		name       string
		tags, conf map[string]string
		want       string
	}{
		{"at the limit", others(room), nil, ""},
		{"configured keys the secret holds count once", others(room), map[string]string{"team:0": "y"}, ""},
		{"one over", others(room + 1), nil, "carries 21 tags that are not certferry's, at most 20 leave room for certferry's 30 under Secrets Manager's limit of 50: remove 1 of them"},
		{"one over with the configuration", others(room), map[string]string{"cost-center": "42"}, "remove 1 of them"},
		{"a secret to be created", nil, others(room + 2), "remove 2 of them"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := smsink.CheckTagRoom("web", tc.tags, tc.conf)
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Errorf("CheckTagRoom: %v, want %q", err, tc.want)
			}
		})
	}
}
