package secretsmanager

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/certferry/certferry/acme"
	"github.com/certferry/certferry/internal/accountstore"
)

// AccountAPI is the part of *sm.Client that AccountStore uses.
type AccountAPI interface {
	GetSecretValue(ctx context.Context, in *sm.GetSecretValueInput, opts ...func(*sm.Options)) (*sm.GetSecretValueOutput, error)
	CreateSecret(ctx context.Context, in *sm.CreateSecretInput, opts ...func(*sm.Options)) (*sm.CreateSecretOutput, error)
	PutSecretValue(ctx context.Context, in *sm.PutSecretValueInput, opts ...func(*sm.Options)) (*sm.PutSecretValueOutput, error)
	UpdateSecretVersionStage(ctx context.Context, in *sm.UpdateSecretVersionStageInput, opts ...func(*sm.Options)) (*sm.UpdateSecretVersionStageOutput, error)
}

var _ AccountAPI = (*sm.Client)(nil)

// AccountStore keeps every account in one Secrets Manager secret, as JSON
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
type AccountStore struct {
	api  AccountAPI
	name string
}

var _ acme.AccountStore = (*AccountStore)(nil)

// StageAccountPending labels a version of the account secret between its write and the
// compare-and-swap that makes it current.
const StageAccountPending = "CERTFERRY_ACCOUNT_PENDING"

// maxStoreCAS bounds the compare-and-swap attempts of one write.
const maxStoreCAS = 8

// NewAccountStore returns a store that keeps the accounts in the secret named
// secretName (a name or an ARN).
func NewAccountStore(api AccountAPI, secretName string) *AccountStore {
	return &AccountStore{api: api, name: secretName}
}

// accountsDoc is the secret's JSON.
type accountsDoc struct {
	Accounts []accountstore.Stored `json:"accounts"`
}

// read returns the current accounts and the version they came from; found is false
// when the secret does not exist.
func (s *AccountStore) read(ctx context.Context) (list []accountstore.Stored, version string, found bool, err error) {
	list, version, _, found, err = s.readRaw(ctx)
	return list, version, found, err
}

// readRaw is read, also returning the value as stored.
func (s *AccountStore) readRaw(ctx context.Context) (list []accountstore.Stored, version, raw string, found bool, err error) {
	// AWSCURRENT by name: AWS answers it by default, but a stand-in that answered another
	// version would make the next write's compare-and-swap start from the wrong one.
	out, err := s.api.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String(s.name), VersionStage: aws.String("AWSCURRENT")})
	if err != nil {
		if _, ok := errors.AsType[*types.ResourceNotFoundException](err); ok {
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
func parseAccounts(b []byte) ([]accountstore.Stored, error) {
	if len(b) > accountstore.MaxSize {
		return nil, fmt.Errorf("the value is %d bytes, more than %d", len(b), accountstore.MaxSize)
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
		var st accountstore.Stored
		if err := json.Unmarshal(b, &st); err != nil {
			return nil, err
		}
		st.KID = nil
		return []accountstore.Stored{st}, nil
	}
	return nil, errors.New(`neither {"accounts": [...]} nor a single account: not an account secret`)
}

// Load implements acme.AccountStore.
func (s *AccountStore) Load(ctx context.Context, directory, kid string) (*acme.Account, error) {
	list, _, found, err := s.read(ctx)
	if err != nil {
		return nil, fmt.Errorf("secretsmanager: account store: load %s: %w", s.name, err)
	}
	if !found {
		return nil, acme.ErrNoAccount
	}
	i := accountstore.Find(list, directory, kid)
	if i < 0 {
		return nil, acme.ErrNoAccount
	}
	return list[i].Account(kid, "secretsmanager: account store: secret "+s.name)
}

// List implements acme.AccountStore.
func (s *AccountStore) List(ctx context.Context) ([]*acme.Account, error) {
	list, _, _, err := s.read(ctx)
	if err != nil {
		return nil, fmt.Errorf("secretsmanager: account store: list %s: %w", s.name, err)
	}
	var out []*acme.Account
	for _, st := range list {
		a, err := st.Account("", "secretsmanager: account store: secret "+s.name)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

// Create implements acme.AccountStore.
func (s *AccountStore) Create(ctx context.Context, a *acme.Account) error {
	if err := accountstore.Check(a); err != nil {
		return fmt.Errorf("secretsmanager: account store: create %s: %w", s.name, err)
	}
	err := s.write(ctx, func(list []accountstore.Stored) ([]accountstore.Stored, error) {
		i := accountstore.Find(list, a.Directory, a.KID)
		if i >= 0 && !list[i].Deactivated {
			return nil, acme.ErrAccountExists
		}
		if i >= 0 {
			// A superseded account (the CA forgot it) is kept for the record beside its
			// replacement, the latest one only; one deactivated by certferry goes.
			keep, key := list[i].DeactivatedReason != "", list[i].KeyPEM
			list = slices.DeleteFunc(list, func(s accountstore.Stored) bool {
				_, exact := s.Matches(a.Directory, a.KID)
				return exact && s.Deactivated && (!keep || s.KeyPEM != key)
			})
		}
		return append(list, accountstore.ToStored(a)), nil
	})
	if errors.Is(err, acme.ErrAccountExists) {
		return acme.ErrAccountExists
	}
	if err != nil {
		return fmt.Errorf("secretsmanager: account store: create %s: %w", s.name, err)
	}
	return nil
}

// Update implements acme.AccountStore.
func (s *AccountStore) Update(ctx context.Context, a *acme.Account) error {
	if err := accountstore.Check(a); err != nil {
		return fmt.Errorf("secretsmanager: account store: update %s: %w", s.name, err)
	}
	err := s.write(ctx, func(list []accountstore.Stored) ([]accountstore.Stored, error) {
		if i := accountstore.Find(list, a.Directory, a.KID); i >= 0 {
			list[i] = accountstore.ToStored(a) // a legacy entry takes the key id now
			return list, nil
		}
		return append(list, accountstore.ToStored(a)), nil
	})
	if err != nil {
		return fmt.Errorf("secretsmanager: account store: update %s: %w", s.name, err)
	}
	return nil
}

// UpdateIf implements acme.AccountStore: the check runs inside the compare-and-swap, on the
// value the write is derived from.
func (s *AccountStore) UpdateIf(ctx context.Context, a *acme.Account, check func(*acme.Account) error) error {
	if err := accountstore.Check(a); err != nil {
		return fmt.Errorf("secretsmanager: account store: update %s: %w", s.name, err)
	}
	var refused error
	err := s.write(ctx, func(list []accountstore.Stored) ([]accountstore.Stored, error) {
		var cur *acme.Account
		i := accountstore.Find(list, a.Directory, a.KID)
		if i >= 0 {
			c, err := list[i].Account(a.KID, "secretsmanager: account store: secret "+s.name)
			if err != nil {
				return nil, err
			}
			cur = c
		}
		if refused = check(cur); refused != nil {
			return nil, refused
		}
		if i >= 0 {
			list[i] = accountstore.ToStored(a)
			return list, nil
		}
		return append(list, accountstore.ToStored(a)), nil
	})
	if refused != nil && errors.Is(err, refused) {
		return refused
	}
	if err != nil {
		return fmt.Errorf("secretsmanager: account store: update %s: %w", s.name, err)
	}
	return nil
}

// write applies change to the current accounts and stores the result with a
// compare-and-swap, deriving it again from the new current value when another writer
// won (see AccountStore).
func (s *AccountStore) write(ctx context.Context, change func([]accountstore.Stored) ([]accountstore.Stored, error)) error {
	emptySecret := false
	for attempt := 1; ; attempt++ {
		list, prev, raw, found, err := s.readRaw(ctx)
		if err != nil {
			return err
		}
		if list, err = change(list); err != nil {
			return err
		}
		b, err := json.Marshal(accountsDoc{Accounts: list})
		if err != nil {
			return err
		}
		body := string(b)
		if found && body == raw {
			return nil // nothing changes: no version
		}
		sum := sha256.Sum256([]byte(prev + "\n" + body))
		token := hex.EncodeToString(sum[:16]) // Secrets Manager wants 32 to 64 characters
		switch {
		case !found && emptySecret:
			// The secret exists without a value (made by hand, or by infrastructure code):
			// the first value becomes AWSCURRENT by itself; there is nothing to swap.
			_, err = s.api.PutSecretValue(ctx, &sm.PutSecretValueInput{
				SecretId: aws.String(s.name), SecretString: aws.String(body), ClientRequestToken: aws.String(token),
			})
			return err
		case !found:
			err = s.create(ctx, body, token)
			if _, ok := errors.AsType[*types.ResourceExistsException](err); !ok || attempt >= maxStoreCAS {
				return err
			}
			// Another runner created it first (merge into theirs), or it exists without
			// a value (found again empty, it gets its first value).
			emptySecret = true
		default:
			err = s.swap(ctx, body, token, prev)
			if !errors.Is(err, errSwapLost) || attempt >= maxStoreCAS {
				return err
			}
			// Lost the compare-and-swap: AWSCURRENT moved since we read it. Our version
			// stays without AWSCURRENT (Secrets Manager deprecates it); derive the write
			// again.
		}
	}
}

// create makes the secret with its first value.
func (s *AccountStore) create(ctx context.Context, body, token string) error {
	_, err := s.api.CreateSecret(ctx, &sm.CreateSecretInput{
		Name:               aws.String(s.name),
		SecretString:       aws.String(body),
		ClientRequestToken: aws.String(token),
		Description:        aws.String("certferry ACME accounts: keys and URLs, one per CA"),
		Tags:               []types.Tag{{Key: aws.String(TagKind), Value: aws.String(KindAccount)}},
	})
	return err
}

// swap puts body as a version labelled StageAccountPending and makes it current if
// AWSCURRENT is still on prev; the error matches errSwapLost when it is not.
func (s *AccountStore) swap(ctx context.Context, body, token, prev string) error {
	put, err := s.api.PutSecretValue(ctx, &sm.PutSecretValueInput{
		SecretId:           aws.String(s.name),
		SecretString:       aws.String(body),
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
	if err := swapCurrent(ctx, s.api, s.name, id, prev); err != nil {
		return fmt.Errorf("move AWSCURRENT to version %s: %w", id, err)
	}
	return nil
}
