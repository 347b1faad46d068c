package acmesim_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	legoacme "github.com/go-acme/lego/v4/acme"
	"github.com/go-acme/lego/v4/acme/api"

	"github.com/certferry/certferry/internal/sandbox/acmesim"
	"github.com/certferry/certferry/internal/testwait"
)

// TestConcurrentOrdersNoDeadlock drives one CA with what several ACME clients do at once
// (new orders, authorization and order polls, challenges, finalizations, deactivations)
// and fails when no request completes for testwait.For(0): Pebble's store and its
// objects' locks deadlock under this load unless acmesim orders them (see lockorder.go).
func TestConcurrentOrdersNoDeadlock(t *testing.T) {
	t.Parallel()
	ca := startCA(t, acmesim.Options{AlwaysValid: true})
	const workers, rounds = 32, 12

	var progress atomic.Int64
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	cores := make([]*api.Core, workers)
	for w := range cores {
		cores[w] = newAPIClient(t, ca)
	}
	for w, core := range cores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- stressWorker(core, w, rounds, &progress)
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()

	// A request takes a step of work; a deadlock stops them all.
	tick := time.NewTicker(testwait.For(0))
	defer tick.Stop()
	last := int64(-1)
	for {
		select {
		case <-done:
			close(errs)
			for err := range errs {
				if err != nil {
					t.Error(err)
				}
			}
			return
		case <-tick.C:
			n := progress.Load()
			if n == last {
				var buf bytes.Buffer
				_ = pprof.Lookup("goroutine").WriteTo(&buf, 2)
				t.Fatalf("no ACME request completed for %s after %d: Pebble is deadlocked\n%s", testwait.For(0), n, buf.String())
			}
			last = n
		}
	}
}

// newAPIClient registers an account and returns lego's ACME API client for it.
func newAPIClient(t *testing.T, ca *acmesim.CA) *api.Core {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	anon, err := api.New(ca.HTTPClient(), "acmesim-test", ca.DirectoryURL(), "", key)
	if err != nil {
		t.Fatal(err)
	}
	acct, err := anon.Accounts.New(legoacme.Account{TermsOfServiceAgreed: true})
	if err != nil {
		t.Fatalf("new account: %v", err)
	}
	core, err := api.New(ca.HTTPClient(), "acmesim-test", ca.DirectoryURL(), acct.Location, key)
	if err != nil {
		t.Fatal(err)
	}
	return core
}

// stressWorker runs rounds orders of three names; every third order is abandoned and
// its authorizations deactivated, the others are finalized.
func stressWorker(core *api.Core, w, rounds int, progress *atomic.Int64) error {
	certKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	for r := range rounds {
		names := []string{fmt.Sprintf("a%d-%d.example.com", w, r), fmt.Sprintf("b%d-%d.example.com", w, r), fmt.Sprintf("c%d-%d.example.com", w, r)}
		o, err := core.Orders.New(names)
		if err != nil {
			return fmt.Errorf("worker %d: new order: %w", w, err)
		}
		progress.Add(1)
		for _, az := range o.Authorizations {
			a, err := core.Authorizations.Get(az)
			if err != nil {
				return fmt.Errorf("worker %d: get authorization: %w", w, err)
			}
			progress.Add(1)
			for _, ch := range a.Challenges {
				if ch.Type == "dns-01" {
					if _, err := core.Challenges.New(ch.URL); err != nil {
						return fmt.Errorf("worker %d: accept challenge: %w", w, err)
					}
					progress.Add(1)
				}
			}
		}
		if err := pollOrder(core, o, "ready", progress); err != nil {
			return fmt.Errorf("worker %d: %w", w, err)
		}
		if r%3 == 2 {
			for _, az := range o.Authorizations {
				if err := core.Authorizations.Deactivate(az); err != nil {
					return fmt.Errorf("worker %d: deactivate authorization: %w", w, err)
				}
				progress.Add(1)
			}
			continue
		}
		csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{DNSNames: names}, certKey)
		if err != nil {
			return err
		}
		if _, err := core.Orders.UpdateForCSR(o.Finalize, csr); err != nil {
			return fmt.Errorf("worker %d: finalize: %w", w, err)
		}
		progress.Add(1)
		if err := pollOrder(core, o, "valid", progress); err != nil {
			return fmt.Errorf("worker %d: %w", w, err)
		}
	}
	return nil
}

// maxPolls bounds the polls of one order: AlwaysValid validates at once, so an order
// still short of the status after this many reads of it and its authorizations is stuck.
const maxPolls = 2000

// pollOrder reads the order and its authorizations, without pause (to meet the other
// workers' requests), until the order has status want.
func pollOrder(core *api.Core, o legoacme.ExtendedOrder, want string, progress *atomic.Int64) error {
	for range maxPolls {
		got, err := core.Orders.Get(o.Location)
		if err != nil {
			return fmt.Errorf("get order: %w", err)
		}
		progress.Add(1)
		if got.Status == want {
			return nil
		}
		if got.Status == "invalid" {
			return fmt.Errorf("order %s invalid, want %s", o.Location, want)
		}
		for _, az := range o.Authorizations {
			if _, err := core.Authorizations.Get(az); err != nil {
				return fmt.Errorf("get authorization: %w", err)
			}
			progress.Add(1)
		}
	}
	return errors.New("order " + o.Location + " never reached " + want)
}

// TestChallengeOfSettledAuthorizationRefused: Pebble never releases a challenge's read
// lock when it shows an authorization that is no longer pending, so accepting that
// challenge afterwards would wait for ever (and take the CA with it at the next read of
// the authorization); acmesim answers it with a malformed problem instead.
func TestChallengeOfSettledAuthorizationRefused(t *testing.T) {
	t.Parallel()
	ca := startCA(t, acmesim.Options{AlwaysValid: true})
	core := newAPIClient(t, ca)
	o, err := core.Orders.New([]string{"settled.example.com"})
	if err != nil {
		t.Fatalf("new order: %v", err)
	}
	az := o.Authorizations[0]
	a, err := core.Authorizations.Get(az)
	if err != nil || len(a.Challenges) == 0 {
		t.Fatalf("get authorization: %v (%d challenges)", err, len(a.Challenges))
	}
	if err := core.Authorizations.Deactivate(az); err != nil {
		t.Fatalf("deactivate: %v", err)
	}
	// Showing the deactivated authorization leaves its challenges read-locked.
	if _, err := core.Authorizations.Get(az); err != nil {
		t.Fatalf("get authorization: %v", err)
	}
	answered := make(chan error, 1)
	go func() {
		_, err := core.Challenges.New(a.Challenges[0].URL)
		answered <- err
	}()
	select {
	case err := <-answered:
		var prob *legoacme.ProblemDetails
		if !errors.As(err, &prob) || prob.Type != "urn:ietf:params:acme:error:malformed" {
			t.Fatalf("accept challenge of a deactivated authorization: %v, want a malformed problem", err)
		}
	case <-time.After(testwait.For(0)):
		t.Fatalf("accept challenge of a deactivated authorization: no answer in %s", testwait.For(0))
	}
	// The CA still answers.
	if _, err := core.Orders.Get(o.Location); err != nil {
		t.Fatalf("get order: %v", err)
	}
}
