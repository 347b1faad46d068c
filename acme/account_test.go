package acme_test

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/certferry/certferry/acme"
	"github.com/certferry/certferry/certs"
	"github.com/certferry/certferry/internal/sandbox/calls"
	"github.com/certferry/certferry/internal/sandbox/smsim"
	"github.com/certferry/certferry/sinks/secretsmanager"
)

const (
	testDir = "https://ca.example/dir"
	testKey = "-----BEGIN EC " + "PRIVATE KEY-----\nMHcCAQEEIDUMMY\n-----END EC " + "PRIVATE KEY-----\n" // a dummy, split so no scanner takes it for key material
)

// newSMStore is the Secrets Manager account store on a stand-in, for the tests that run
// a client against both stores.
func newSMStore(t *testing.T, name string) (*secretsmanager.AccountStore, *sm.Client) {
	t.Helper()
	srv := httptest.NewServer(smsim.New(smsim.Options{Calls: calls.New()}))
	t.Cleanup(srv.Close)
	client := sm.New(sm.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(srv.URL),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDSANDBOX", "sandbox-secret", ""),
		HTTPClient:   srv.Client(),
	})
	return secretsmanager.NewAccountStore(client, name), client
}

func TestAccountNeverPrintsItsKey(t *testing.T) {
	t.Parallel()
	k := certs.NewPrivateKeyPEM([]byte(testKey))
	a := acme.Account{Directory: testDir, Key: k}
	j, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{
		k.String(), fmt.Sprint(k), fmt.Sprintf("%s %v %x %q %#v %+v", k, k, k, k, k, k),
		fmt.Sprintf("%v %+v %#v", a, a, a), string(j),
	} {
		if strings.Contains(s, "PRIVATE") || strings.Contains(s, "MHcC") {
			t.Errorf("key material printed: %s", s)
		}
	}
}
