package acme

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/smithy-go"
)

// SecretsAPI is the part of *secretsmanager.Client that SecretsManagerStore uses.
type SecretsAPI interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
	CreateSecret(ctx context.Context, in *secretsmanager.CreateSecretInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.CreateSecretOutput, error)
	PutSecretValue(ctx context.Context, in *secretsmanager.PutSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error)
	UpdateSecretVersionStage(ctx context.Context, in *secretsmanager.UpdateSecretVersionStageInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.UpdateSecretVersionStageOutput, error)
}

var _ SecretsAPI = (*secretsmanager.Client)(nil)

// SecretsManagerStore keeps every account in one Secrets Manager secret, as JSON
// {"accounts": [{"directory", "kid", "email", "url", "key_pem"}, ...]}, one entry per
// (directory, EAB key id) (see docs/accounts.md).
//
// The form older versions wrote, one account as a bare object, is read as a list of
// one that belongs to its directory whatever binding is configured; the next write
// converts the secret in place.
//
// Every write is a compare-and-swap, so that two runners writing accounts of two CAs at
// once both land: the new value is put as a version labelled StageAccountPending only,
// then AWSCURRENT is moved to it with UpdateSecretVersionStage naming the version the
// write was derived from (RemoveFromVersionId). When another writer moved AWSCURRENT
// meanwhile, that move fails, and the write is derived again from the new current value.
// The version's ClientRequestToken is derived from the previous version and the new
// value, so a retried request never makes a second version. The first write is
// CreateSecret, which fails for all but one of two racing creators.
type SecretsManagerStore struct {
	api  SecretsAPI
	name string
}

var _ AccountStore = (*SecretsManagerStore)(nil)

// StageAccountPending labels a version of the account secret between its write and the
// compare-and-swap that makes it current.
const StageAccountPending = "CERTFERRY_ACCOUNT_PENDING"

// maxStoreCAS bounds the compare-and-swap attempts of one write.
const maxStoreCAS = 8

// NewSecretsManagerStore returns a store that keeps the accounts in the secret named
// secretName (a name or an ARN).
func NewSecretsManagerStore(api SecretsAPI, secretName string) *SecretsManagerStore {
	return &SecretsManagerStore{api: api, name: secretName}
}

// accountsDoc is the secret's JSON.
type accountsDoc struct {
	Accounts []storedAccount `json:"accounts"`
}

// read returns the current accounts and the version they came from; found is false
// when the secret does not exist.
func (s *SecretsManagerStore) read(ctx context.Context) (list []storedAccount, version string, found bool, err error) {
	list, version, _, found, err = s.readRaw(ctx)
	return list, version, found, err
}

// readRaw is read, also returning the value as stored.
func (s *SecretsManagerStore) readRaw(ctx context.Context) (list []storedAccount, version, raw string, found bool, err error) {
	out, err := s.api.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(s.name)})
	if err != nil {
		if _, ok := errors.AsType[*smtypes.ResourceNotFoundException](err); ok {
			return nil, "", "", false, nil
		}
		return nil, "", "", false, err
	}
	if out.SecretString == nil {
		return nil, "", "", false, errors.New("the secret has no SecretString")
	}
	list, err = parseAccounts([]byte(*out.SecretString))
	if err != nil {
		return nil, "", "", false, err
	}
	return list, aws.ToString(out.VersionId), *out.SecretString, true, nil
}

// parseAccounts reads both forms of the account secret.
func parseAccounts(b []byte) ([]storedAccount, error) {
	if len(b) > maxAccountDoc {
		return nil, fmt.Errorf("the value is %d bytes, more than %d", len(b), maxAccountDoc)
	}
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(b, &probe); err != nil {
		return nil, fmt.Errorf("not a JSON object: %w", err)
	}
	if _, ok := probe["accounts"]; ok {
		var doc accountsDoc
		if err := json.Unmarshal(b, &doc); err != nil {
			return nil, err
		}
		return doc.Accounts, nil
	}
	if _, ok := probe["directory"]; ok { // written by an older version: one account
		var st storedAccount
		if err := json.Unmarshal(b, &st); err != nil {
			return nil, err
		}
		st.KID = nil
		return []storedAccount{st}, nil
	}
	return nil, errors.New(`neither {"accounts": [...]} nor a single account: not an account secret`)
}

// Load implements AccountStore.
func (s *SecretsManagerStore) Load(ctx context.Context, directory, kid string) (*Account, error) {
	list, _, found, err := s.read(ctx)
	if err != nil {
		return nil, fmt.Errorf("acme: secrets manager store: load %s: %w", s.name, err)
	}
	if !found {
		return nil, ErrNoAccount
	}
	i := find(list, directory, kid)
	if i < 0 {
		return nil, ErrNoAccount
	}
	return fromStored(list[i], kid, "secrets manager store: secret "+s.name)
}

// List implements AccountStore.
func (s *SecretsManagerStore) List(ctx context.Context) ([]*Account, error) {
	list, _, _, err := s.read(ctx)
	if err != nil {
		return nil, fmt.Errorf("acme: secrets manager store: list %s: %w", s.name, err)
	}
	var out []*Account
	for _, st := range list {
		a, err := fromStored(st, "", "secrets manager store: secret "+s.name)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

// Create implements AccountStore.
func (s *SecretsManagerStore) Create(ctx context.Context, a *Account) error {
	if err := checkAccount(a); err != nil {
		return fmt.Errorf("acme: secrets manager store: create %s: %w", s.name, err)
	}
	err := s.write(ctx, func(list []storedAccount) ([]storedAccount, error) {
		i := find(list, a.Directory, a.KID)
		if i >= 0 && !list[i].Deactivated {
			return nil, ErrAccountExists
		}
		if i >= 0 {
			list = slices.Delete(list, i, i+1)
		}
		return append(list, toStored(a)), nil
	})
	if errors.Is(err, ErrAccountExists) {
		return ErrAccountExists
	}
	if err != nil {
		return fmt.Errorf("acme: secrets manager store: create %s: %w", s.name, err)
	}
	return nil
}

// Update implements AccountStore.
func (s *SecretsManagerStore) Update(ctx context.Context, a *Account) error {
	if err := checkAccount(a); err != nil {
		return fmt.Errorf("acme: secrets manager store: update %s: %w", s.name, err)
	}
	err := s.write(ctx, func(list []storedAccount) ([]storedAccount, error) {
		if i := find(list, a.Directory, a.KID); i >= 0 {
			list[i] = toStored(a) // a legacy entry takes the key id now
			return list, nil
		}
		return append(list, toStored(a)), nil
	})
	if err != nil {
		return fmt.Errorf("acme: secrets manager store: update %s: %w", s.name, err)
	}
	return nil
}

// UpdateIf implements AccountStore: the check runs inside the compare-and-swap, on the
// value the write is derived from.
func (s *SecretsManagerStore) UpdateIf(ctx context.Context, a *Account, check func(*Account) error) error {
	if err := checkAccount(a); err != nil {
		return fmt.Errorf("acme: secrets manager store: update %s: %w", s.name, err)
	}
	var refused error
	err := s.write(ctx, func(list []storedAccount) ([]storedAccount, error) {
		var cur *Account
		i := find(list, a.Directory, a.KID)
		if i >= 0 {
			c, err := fromStored(list[i], a.KID, "secrets manager store: secret "+s.name)
			if err != nil {
				return nil, err
			}
			cur = c
		}
		if refused = check(cur); refused != nil {
			return nil, refused
		}
		if i >= 0 {
			list[i] = toStored(a)
			return list, nil
		}
		return append(list, toStored(a)), nil
	})
	if refused != nil && errors.Is(err, refused) {
		return refused
	}
	if err != nil {
		return fmt.Errorf("acme: secrets manager store: update %s: %w", s.name, err)
	}
	return nil
}

// write applies change to the current accounts and stores the result with a
// compare-and-swap, deriving it again from the new current value when another writer
// won (see SecretsManagerStore).
func (s *SecretsManagerStore) write(ctx context.Context, change func([]storedAccount) ([]storedAccount, error)) error {
	emptySecret := false
	for attempt := 1; ; attempt++ {
		list, prev, raw, found, err := s.readRaw(ctx)
		if err != nil {
			return err
		}
		list, err = change(list)
		if err != nil {
			return err
		}
		body, err := json.Marshal(accountsDoc{Accounts: list})
		if err != nil {
			return err
		}
		if found && string(body) == raw {
			return nil // nothing changes: no version
		}
		sum := sha256.Sum256(append([]byte(prev+"\n"), body...))
		token := hex.EncodeToString(sum[:16]) // Secrets Manager wants 32 to 64 characters
		if !found && emptySecret {
			// The secret exists without a value (made by hand, or by infrastructure code):
			// the first value becomes AWSCURRENT by itself; there is nothing to swap.
			_, err = s.api.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{
				SecretId: aws.String(s.name), SecretString: aws.String(string(body)), ClientRequestToken: aws.String(token),
			})
			return err
		}
		if !found {
			_, err = s.api.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
				Name:               aws.String(s.name),
				SecretString:       aws.String(string(body)),
				ClientRequestToken: aws.String(token),
				Description:        aws.String("certferry ACME accounts: keys and URLs, one per CA"),
				Tags:               []smtypes.Tag{{Key: aws.String("certferry:kind"), Value: aws.String("acme-account")}},
			})
			if err == nil {
				return nil
			}
			if _, ok := errors.AsType[*smtypes.ResourceExistsException](err); !ok || attempt >= maxStoreCAS {
				return err
			}
			// Another runner created it first (merge into theirs), or it exists without
			// a value (found again empty, it gets its first value).
			emptySecret = true
			continue
		}
		put, err := s.api.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{
			SecretId:           aws.String(s.name),
			SecretString:       aws.String(string(body)),
			ClientRequestToken: aws.String(token),
			VersionStages:      []string{StageAccountPending},
		})
		if err != nil {
			return err
		}
		id := aws.ToString(put.VersionId)
		if id == prev || slices.Contains(put.VersionStages, "AWSCURRENT") {
			return nil
		}
		_, err = s.api.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{
			SecretId:            aws.String(s.name),
			VersionStage:        aws.String("AWSCURRENT"),
			MoveToVersionId:     aws.String(id),
			RemoveFromVersionId: aws.String(prev),
		})
		if err == nil {
			return nil
		}
		var ae smithy.APIError
		if !errors.As(err, &ae) || ae.ErrorCode() != "InvalidParameterException" || attempt >= maxStoreCAS {
			return fmt.Errorf("move AWSCURRENT to version %s: %w", id, err)
		}
		// Lost the compare-and-swap: AWSCURRENT moved since we read it. Our version stays
		// without AWSCURRENT (Secrets Manager deprecates it); derive the write again.
	}
}
