package secretsmanager_test

import (
	"context"
	"testing"
	"time"

	smsink "github.com/certferry/certferry/sinks/secretsmanager"
)

// TestLookup: a secret configured by name, full ARN or partial ARN finds its entry in
// the Inventory (keyed by name); anything else does not.
func TestLookup(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	for _, name := range []string{"certs/web", "certs/web-ab", "certs/api"} {
		if _, err := e.sink.Store(ctx, smsink.Target{Secret: name}, e.bundle(t, name, time.Now().Add(60*day)), smsink.StoreOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	inv, err := e.sink.Inventory(ctx)
	if err != nil {
		t.Fatal(err)
	}
	arn := inv["certs/web"].ARN
	if len(arn) < 7 || arn[len(arn)-7] != '-' {
		t.Fatalf("ARN %q has no random suffix", arn)
	}
	partial := arn[:len(arn)-7]
	for _, tc := range []struct {
		secret, want string
	}{
		{"certs/web", "certs/web"},
		{arn, "certs/web"},
		{partial, "certs/web"},
		{inv["certs/web-ab"].ARN, "certs/web-ab"},
		{inv["certs/web-ab"].ARN[:len(inv["certs/web-ab"].ARN)-7], "certs/web-ab"},
		{"certs/missing", ""},
		{partial + "-x", ""},           // not a six-character suffix
		{partial[:len(partial)-1], ""}, // a prefix of the name
		{arn + "X", ""},
	} {
		st, ok := smsink.Lookup(inv, tc.secret)
		if ok != (tc.want != "") || st.Secret != tc.want {
			t.Errorf("Lookup(%q) = %q, %v; want %q", tc.secret, st.Secret, ok, tc.want)
		}
	}
}
