package acme

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
)

// SecretsAPI is the part of *secretsmanager.Client that SecretsManagerStore uses.
type SecretsAPI interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
	CreateSecret(ctx context.Context, in *secretsmanager.CreateSecretInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.CreateSecretOutput, error)
	PutSecretValue(ctx context.Context, in *secretsmanager.PutSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error)
}

var _ SecretsAPI = (*secretsmanager.Client)(nil)

// SecretsManagerStore keeps one account in one Secrets Manager secret, as JSON
// {"directory", "email", "url", "key_pem"} (contract 2). Use one secret per
// (directory, email): Load of a secret that holds another pair's account fails with an
// error naming both pairs.
//
// Create is CreateSecret, which fails with ResourceExistsException when the secret
// exists: that is the create-only step that makes two runners agree on one key.
// Update is PutSecretValue with a ClientRequestToken derived from the content, so a
// retried write never makes a second version.
type SecretsManagerStore struct {
	api  SecretsAPI
	name string
}

var _ AccountStore = (*SecretsManagerStore)(nil)

// NewSecretsManagerStore returns a store that keeps the account in the secret named
// secretName (a name or an ARN).
func NewSecretsManagerStore(api SecretsAPI, secretName string) *SecretsManagerStore {
	return &SecretsManagerStore{api: api, name: secretName}
}

// Load implements AccountStore.
func (s *SecretsManagerStore) Load(ctx context.Context, directory, email string) (*Account, error) {
	out, err := s.api.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(s.name)})
	if err != nil {
		if _, ok := errors.AsType[*smtypes.ResourceNotFoundException](err); ok {
			return nil, ErrNoAccount
		}
		return nil, fmt.Errorf("acme: secrets manager store: load %s: %w", s.name, err)
	}
	if out.SecretString == nil {
		return nil, fmt.Errorf("acme: secrets manager store: load %s: the secret has no SecretString", s.name)
	}
	var st storedAccount
	if err := json.Unmarshal([]byte(*out.SecretString), &st); err != nil {
		return nil, fmt.Errorf("acme: secrets manager store: load %s: %w", s.name, err)
	}
	return fromStored(st, directory, email, "secrets manager store: secret "+s.name)
}

// Create implements AccountStore.
func (s *SecretsManagerStore) Create(ctx context.Context, a *Account) error {
	if err := checkAccount(a); err != nil {
		return fmt.Errorf("acme: secrets manager store: create %s: %w", s.name, err)
	}
	body, token, err := secretBody(a)
	if err != nil {
		return fmt.Errorf("acme: secrets manager store: create %s: %w", s.name, err)
	}
	_, err = s.api.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name:               aws.String(s.name),
		SecretString:       aws.String(body),
		ClientRequestToken: aws.String(token),
		Description:        aws.String("certferry ACME account key and URL"),
		Tags:               []smtypes.Tag{{Key: aws.String("certferry:kind"), Value: aws.String("acme-account")}},
	})
	if err != nil {
		if _, ok := errors.AsType[*smtypes.ResourceExistsException](err); ok {
			return ErrAccountExists
		}
		return fmt.Errorf("acme: secrets manager store: create %s: %w", s.name, err)
	}
	return nil
}

// Update implements AccountStore.
func (s *SecretsManagerStore) Update(ctx context.Context, a *Account) error {
	if err := checkAccount(a); err != nil {
		return fmt.Errorf("acme: secrets manager store: update %s: %w", s.name, err)
	}
	body, token, err := secretBody(a)
	if err != nil {
		return fmt.Errorf("acme: secrets manager store: update %s: %w", s.name, err)
	}
	_, err = s.api.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{
		SecretId:           aws.String(s.name),
		SecretString:       aws.String(body),
		ClientRequestToken: aws.String(token),
	})
	if err != nil {
		return fmt.Errorf("acme: secrets manager store: update %s: %w", s.name, err)
	}
	return nil
}

// secretBody returns the secret's JSON and a ClientRequestToken derived from it (32 hex
// digits; Secrets Manager wants 32 to 64 characters).
func secretBody(a *Account) (body, token string, err error) {
	b, err := json.Marshal(toStored(a))
	if err != nil {
		return "", "", err
	}
	sum := sha256.Sum256(b)
	return string(b), hex.EncodeToString(sum[:16]), nil
}
