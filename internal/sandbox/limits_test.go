package sandbox_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-acme/lego/v4/acme"
	"github.com/go-acme/lego/v4/acme/api"

	"github.com/certferry/certferry/internal/sandbox"
	"github.com/certferry/certferry/internal/sandbox/limitsim"
)

// newAccount registers an account with the sandbox's CA and returns a client signing
// with it.
func newAccount(t *testing.T, sb *sandbox.Sandbox) *api.Core {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	core, err := api.New(sb.CA().HTTPClient(), "limits-test", sb.Info().ACMEDirectory, "", key)
	if err != nil {
		t.Fatal(err)
	}
	acct, err := core.Accounts.New(acme.Account{TermsOfServiceAgreed: true})
	if err != nil {
		t.Fatal(err)
	}
	core, err = api.New(sb.CA().HTTPClient(), "limits-test", sb.Info().ACMEDirectory, acct.Location, key)
	if err != nil {
		t.Fatal(err)
	}
	return core
}

// TestLimitsEnforced: the CA refuses new orders over a limit with rateLimited, a
// Retry-After of when the window frees and Let's Encrypt's text, and counts each refusal
// as acme.RateLimited; a refused order counts against nothing.
func TestLimitsEnforced(t *testing.T) {
	t.Parallel()
	const window = time.Hour
	sb := start(t, sandbox.Options{Limits: limitsim.Limits{
		NewOrders: limitsim.Limit{N: 3, Window: window},
		PerDomain: limitsim.Limit{N: 2, Window: window},
	}})
	a, b := newAccount(t, sb), newAccount(t, sb)
	order := func(core *api.Core, names ...string) error {
		_, err := core.Orders.New(names)
		return err
	}
	for _, names := range [][]string{{"a.example.com"}, {"b.example.com", "www.b.example.com"}} {
		if err := order(a, names...); err != nil {
			t.Fatalf("order %v: %v", names, err)
		}
	}
	assertLimited := func(err error, detail string) {
		t.Helper()
		var rl *acme.RateLimitedError
		if !errors.As(err, &rl) {
			t.Fatalf("err = %v, want rateLimited", err)
		}
		secs, perr := strconv.Atoi(rl.RetryAfter)
		if perr != nil || secs < 1 || time.Duration(secs)*time.Second > window {
			t.Errorf("Retry-After %q, want seconds up to the window", rl.RetryAfter)
		}
		if rl.HTTPStatus != 429 || !strings.HasPrefix(rl.Detail, detail) || !strings.Contains(rl.Detail, "see https://letsencrypt.org/docs/rate-limits/") {
			t.Errorf("problem %d %q, want 429 %q...", rl.HTTPStatus, rl.Detail, detail)
		}
	}
	// The domain's limit is global: another account meets it too.
	assertLimited(order(b, "c.example.com"), `too many certificates (2) already issued for "example.com" in the last 1h0m0s`)
	if err := order(a, "a.example.org"); err != nil {
		t.Fatalf("another registered domain: %v", err)
	}
	assertLimited(order(a, "b.example.net"), "too many new orders (3) from this account in the last 1h0m0s")
	if err := order(b, "b.example.net"); err != nil {
		t.Fatalf("another account: %v", err)
	}
	if got := sb.Calls().Count("acme", "RateLimited"); got != 2 {
		t.Errorf("acme.RateLimited = %d, want 2", got)
	}
	if got := sb.Calls().Count("acme", "NewOrder"); got != 6 {
		t.Errorf("acme.NewOrder = %d, want 6", got)
	}
}
