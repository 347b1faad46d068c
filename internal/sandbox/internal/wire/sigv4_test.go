package wire

import (
	"net/http"
	"strings"
	"testing"
)

func TestAccessKeyID(t *testing.T) {
	t.Parallel()
	tests := []struct{ auth, query, want string }{
		{"AWS4-HMAC-SHA256 Credential=ASIAEXAMPLE/20261201/us-east-1/route53/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc", "", "ASIAEXAMPLE"},
		{"AWS4-HMAC-SHA256 SignedHeaders=host, Credential=AKID2/20261201/us-east-1/sts/aws4_request, Signature=abc", "", "AKID2"},
		{"", "X-Amz-Credential=AKIDQUERY%2F20261201%2Fus-east-1%2Fs3%2Faws4_request", "AKIDQUERY"},
		{"Bearer token", "", ""},
		{"", "", ""},
	}
	for _, tt := range tests {
		r, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1/?"+tt.query, nil)
		if tt.auth != "" {
			r.Header.Set("Authorization", tt.auth)
		}
		if got := AccessKeyID(r); got != tt.want {
			t.Errorf("AccessKeyID(%q, %q) = %q, want %q", tt.auth, tt.query, got, tt.want)
		}
	}
}

func FuzzAccessKeyID(f *testing.F) {
	f.Add("AWS4-HMAC-SHA256 Credential=AKID/20261201/us-east-1/route53/aws4_request, Signature=x")
	f.Add("AWS4-HMAC-SHA256 ,,,Credential=")
	f.Fuzz(func(t *testing.T, auth string) {
		r, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1/", nil)
		r.Header["Authorization"] = []string{auth}
		if id := AccessKeyID(r); strings.Contains(id, "/") || len(id) > len(auth) {
			t.Fatalf("AccessKeyID(%q) = %q", auth, id)
		}
	})
}
