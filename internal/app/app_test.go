package app_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	awssm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/certferry/certferry/config"
	"github.com/certferry/certferry/internal/app"
	"github.com/certferry/certferry/internal/sandbox"
	"github.com/certferry/certferry/internal/testwait"
)

// TestLoadAWSWithCABundle: with AWS_CA_BUNDLE set (common on corporate hosts) the SDK
// adds the bundle to its own BuildableClient and fails the load with any other client;
// LoadAWS must work, and the client it builds must reach the endpoint.
//
// Not parallel: it sets environment variables.
func TestLoadAWSWithCABundle(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), testwait.For(0)) // local listeners and Pebble: a step
	defer cancel()
	sb, err := sandbox.Start(ctx, sandbox.Options{Dir: filepath.Join(t.TempDir(), "ca")})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	info := sb.Info()
	t.Setenv("AWS_CA_BUNDLE", info.IssuerRoots) // any PEM bundle
	t.Setenv("AWS_ACCESS_KEY_ID", sandbox.Credentials)
	t.Setenv("AWS_SECRET_ACCESS_KEY", sandbox.Credentials)
	t.Setenv("AWS_CONFIG_FILE", os.DevNull)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_PROFILE", "")

	cfg, err := app.LoadAWS(ctx, config.AWS{Region: info.Region, EndpointURL: info.AWSEndpoint})
	if err != nil {
		t.Fatalf("LoadAWS: %v", err)
	}
	if _, err := awssm.NewFromConfig(cfg).ListSecrets(ctx, &awssm.ListSecretsInput{}); err != nil {
		t.Fatalf("ListSecrets: %v", err)
	}
	if n := sb.Calls().Count("secretsmanager", "ListSecrets"); n != 1 {
		t.Errorf("ListSecrets reached the sandbox %d times, want 1", n)
	}

	t.Setenv("AWS_CA_BUNDLE", filepath.Join(t.TempDir(), "missing.pem"))
	if _, err := app.LoadAWS(ctx, config.AWS{Region: info.Region}); err == nil {
		t.Error("LoadAWS with a missing AWS_CA_BUNDLE: no error")
	}
}
