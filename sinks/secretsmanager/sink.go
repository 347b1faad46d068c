package secretsmanager

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/smithy-go"
	"go.uber.org/zap"

	"github.com/certferry/certferry/certs"
)

// API is the part of *secretsmanager.Client the sink uses.
type API interface {
	CreateSecret(ctx context.Context, in *sm.CreateSecretInput, optFns ...func(*sm.Options)) (*sm.CreateSecretOutput, error)
	PutSecretValue(ctx context.Context, in *sm.PutSecretValueInput, optFns ...func(*sm.Options)) (*sm.PutSecretValueOutput, error)
	GetSecretValue(ctx context.Context, in *sm.GetSecretValueInput, optFns ...func(*sm.Options)) (*sm.GetSecretValueOutput, error)
	DescribeSecret(ctx context.Context, in *sm.DescribeSecretInput, optFns ...func(*sm.Options)) (*sm.DescribeSecretOutput, error)
	ListSecrets(ctx context.Context, in *sm.ListSecretsInput, optFns ...func(*sm.Options)) (*sm.ListSecretsOutput, error)
	TagResource(ctx context.Context, in *sm.TagResourceInput, optFns ...func(*sm.Options)) (*sm.TagResourceOutput, error)
	UpdateSecretVersionStage(ctx context.Context, in *sm.UpdateSecretVersionStageInput, optFns ...func(*sm.Options)) (*sm.UpdateSecretVersionStageOutput, error)
}

var _ API = (*sm.Client)(nil)

// Errors callers tell apart with errors.Is.
var (
	// ErrNotFound: the secret, or its AWSCURRENT version, does not exist.
	ErrNotFound = errors.New("secret not found")
	// ErrWouldShorten: the stored certificate expires later than the one to store.
	ErrWouldShorten = errors.New("stored certificate expires later")
	// ErrCorruptStored: the stored value is not a valid stored secret (docs/secret-format.md) (not JSON, a
	// missing field, a key that does not match its certificate).
	ErrCorruptStored = errors.New("stored value is not a valid certificate secret")
	// ErrAccessDenied: IAM refused the call.
	ErrAccessDenied = errors.New("access denied")
	// ErrConflict: this certificate is already stored as a version with another value.
	ErrConflict = errors.New("certificate already stored with a different value")
	// ErrVersionQuota: Secrets Manager refused the new version (LimitExceededException)
	// on every attempt; the versions already stored are untouched.
	ErrVersionQuota = errors.New("secret version quota exceeded")
	// ErrLostRace: another runner stored a certificate for the same secret while this
	// one was obtaining its own, and it is as good: it is kept, ours is not written.
	ErrLostRace = errors.New("lost the race: another runner stored an equivalent certificate")
)

// StagePending labels a version between its write and the compare-and-swap that moves
// AWSCURRENT to it. Found on a version that is not AWSCURRENT, it marks a write that was
// interrupted (or lost a race).
const StagePending = "CERTFERRY_PENDING"

// maxCAS bounds the compare-and-swap attempts of one Store.
const maxCAS = 3

// Winner is the certificate another runner stored when this one lost the race.
type Winner struct {
	VersionID string
	Serial    string
	NotAfter  time.Time
}

// LostRaceError is returned by Store when another runner stored an equivalent
// certificate first; it matches ErrLostRace. The winner's version stays AWSCURRENT.
type LostRaceError struct {
	Secret string
	Winner Winner
}

func (e *LostRaceError) Error() string {
	return fmt.Sprintf("%s: version %s (serial %s) was stored by another runner and is kept", ErrLostRace, e.Winner.VersionID, e.Winner.Serial)
}

// Is makes errors.Is(err, ErrLostRace) true.
func (e *LostRaceError) Is(target error) bool { return target == ErrLostRace }

// WouldShortenError carries the two expiry times; it matches ErrWouldShorten.
type WouldShortenError struct {
	Stored, New time.Time
}

func (e *WouldShortenError) Error() string {
	return fmt.Sprintf("stored certificate expires %s, later than the new one (%s); use force to replace it",
		e.Stored.UTC().Format(time.RFC3339), e.New.UTC().Format(time.RFC3339))
}

// Is makes errors.Is(err, ErrWouldShorten) true.
func (e *WouldShortenError) Is(target error) bool { return target == ErrWouldShorten }

// Options configures a Sink.
type Options struct {
	// Tags are added to every secret the sink writes (a target's own Tags win).
	Tags map[string]string
	// MaxAttempts bounds the writes of one version refused with LimitExceededException
	// (the version quota). Default 3.
	MaxAttempts int
	// RetryDelay is the first delay between those attempts; it doubles. Default 1s.
	RetryDelay time.Duration
	// Now is the clock (to compare the remaining lifetimes of racing writers'
	// certificates); nil is time.Now.
	Now func() time.Time
}

// Sink stores bundles in Secrets Manager. It is safe for concurrent use; two Stores to
// the same secret at once are not coordinated beyond what Secrets Manager itself does.
type Sink struct {
	api  API
	log  *zap.Logger
	opts Options
}

// New returns a Sink calling api and logging to logger (nil for none).
func New(api API, logger *zap.Logger, opts Options) *Sink {
	if logger == nil {
		logger = zap.NewNop()
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = 3
	}
	if opts.RetryDelay <= 0 {
		opts.RetryDelay = time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Sink{api: api, log: logger.Named("secretsmanager"), opts: opts}
}

// Target is where one certificate goes.
type Target struct {
	Secret      string            // name or ARN
	KMSKeyID    string            // optional, used when creating the secret
	Description string            // optional, used when creating the secret
	Tags        map[string]string // extra tags on the secret
}

// StoreOptions changes how Store guards the stored certificate.
type StoreOptions struct {
	// Force replaces a stored certificate that expires later, or a stored value that is
	// not a valid certificate secret (it stays reachable as AWSPREVIOUS).
	Force bool
	// Profile is the ACME profile the certificate was ordered with, for the tags.
	Profile string
	// Directory is the ACME directory that issued the certificate, for the tags.
	Directory string
	// AllowShorter lets a certificate that expires earlier replace the stored one: a
	// deliberate change (profile, names, key type, CA) asked for it. Unlike Force it keeps
	// every other guard.
	AllowShorter bool
	// State tags are written with the certificate's tags (the scheduler clearing its
	// backoff state on success), with SetState's rules: keys start with TagPrefix,
	// values are sanitized, an empty value clears the tag.
	State map[string]string
	// Known, when not nil, is what the caller already learnt of the secret (Inspect, or
	// an inventory entry's Inspection): Save then makes no DescribeSecret of its own.
	Known *Inspection
	// Expect, when not nil, is the AWSCURRENT version id ("" for none) the caller saw
	// when it decided to obtain the certificate. If AWSCURRENT moved since, another
	// runner stored a certificate meanwhile: when that one is as good, Store keeps it and
	// returns a *LostRaceError instead of writing (Force does not override this).
	Expect *string
}

// Stored describes one stored certificate, from the secret's tags alone.
type Stored struct {
	Name             string // certferry:name, the certificate's name in the configuration
	Secret           string // secret name
	ARN              string
	Domains          []string
	DomainsTruncated bool // the domains tag was cut at 256 characters; compare DomainsHash
	DomainsHash      string
	KeyType          string
	Profile          string
	NotBefore        time.Time
	NotAfter         time.Time
	Serial           string
	ARIID            string // RFC 9773 identifier, for the next order's "replaces"
	Directory        string // the ACME directory that issued it ("" when not recorded)
	VersionID        string // certferry:version, the version the tags describe
	CurrentVersionID string // the version that holds AWSCURRENT ("" if unknown)
	KMSKeyID         string // the secret's KMS key, as the secret names it ("": the AWS managed key)
	// PendingVersionID is a version still labelled StagePending that is not AWSCURRENT: a
	// write whose promotion was interrupted ("" if none).
	PendingVersionID string
	// Unfinished: certferry wrote the AWSCURRENT version (it still holds StagePending)
	// and its tags were never written (a runner stopped between the write and its tag
	// write, made after the hooks): its on_renew hooks may not have run.
	Unfinished bool
	// TagsCurrent reports that the tags describe the AWSCURRENT version. When false
	// (someone wrote the secret outside certferry, or tagging failed after a write), read
	// the value with Get before trusting the other fields.
	TagsCurrent bool
	// Tags holds every tag of the secret, the scheduler's state tags included.
	Tags map[string]string
}

// Token returns the ClientRequestToken of a certificate's write: the lowercase hex
// SHA-256 of the leaf's DER (64 characters). The version id is the token, so a retried
// write is recognised and never makes a second version.
func Token(b *certs.Bundle) string {
	sum := sha256.Sum256(b.Leaf.Raw)
	return hex.EncodeToString(sum[:])
}

// Inventory lists every secret tagged certferry:name, keyed by secret name, from
// ListSecrets alone (100 secrets per call, no GetSecretValue).
func (s *Sink) Inventory(ctx context.Context) (map[string]Stored, error) {
	out := map[string]Stored{}
	p := sm.NewListSecretsPaginator(s.api, &sm.ListSecretsInput{
		Filters:    []types.Filter{{Key: types.FilterNameStringTypeTagKey, Values: []string{TagName}}},
		MaxResults: aws.Int32(100),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("secretsmanager: inventory: %w", classify(err))
		}
		for _, e := range page.SecretList {
			tags := tagMap(e.Tags)
			if _, ok := tags[TagName]; !ok { // a prefix match of the filter
				continue
			}
			st := storedFromTags(aws.ToString(e.Name), aws.ToString(e.ARN), tags, e.SecretVersionsToStages)
			st.KMSKeyID = aws.ToString(e.KmsKeyId)
			out[st.Secret] = st
		}
	}
	return out, nil
}

// Lookup finds the entry of an Inventory for secret as a configuration names it: by
// name (the Inventory's key), by full ARN, or by partial ARN (the full ARN without the
// hyphen and six random characters Secrets Manager appends). Use it rather than
// indexing the map: a secret configured by ARN is not found under its name.
func Lookup(inv map[string]Stored, secret string) (Stored, bool) {
	if st, ok := inv[secret]; ok {
		return st, true
	}
	if !strings.HasPrefix(secret, "arn:") {
		return Stored{}, false
	}
	for _, st := range inv {
		if st.ARN == secret {
			return st, true
		}
	}
	for _, st := range inv {
		if rest, ok := strings.CutPrefix(st.ARN, secret+"-"); ok && len(rest) == 6 {
			return st, true
		}
	}
	return Stored{}, false
}

// GetStage reads the version of secret that holds stage (for example StagePending). A
// missing secret or version matches ErrNotFound; a value that does not parse matches
// ErrCorruptStored.
func (s *Sink) GetStage(ctx context.Context, secret, stage string) (*certs.Bundle, string, error) {
	b, id, err := s.getStage(ctx, secret, stage)
	if err != nil {
		return nil, "", fmt.Errorf("secretsmanager: get %s (%s): %w", secret, stage, err)
	}
	return b, id, nil
}

// Get reads the AWSCURRENT version of secret. A missing secret or version matches
// ErrNotFound; a value that does not parse matches ErrCorruptStored.
func (s *Sink) Get(ctx context.Context, secret string) (*certs.Bundle, string, error) {
	b, id, err := s.get(ctx, secret)
	if err != nil {
		return nil, "", fmt.Errorf("secretsmanager: get %s: %w", secret, err)
	}
	return b, id, nil
}

func (s *Sink) get(ctx context.Context, secret string) (*certs.Bundle, string, error) {
	return s.getStage(ctx, secret, "AWSCURRENT")
}

func (s *Sink) getStage(ctx context.Context, secret, stage string) (*certs.Bundle, string, error) {
	out, err := s.api.GetSecretValue(ctx, &sm.GetSecretValueInput{
		SecretId: aws.String(secret), VersionStage: aws.String(stage),
	})
	if err != nil {
		return nil, "", classify(err)
	}
	if out.SecretString == nil {
		return nil, "", fmt.Errorf("%w: binary secret", ErrCorruptStored)
	}
	if n := len(*out.SecretString); n > certs.MaxSecretSize {
		// Secrets Manager stores no larger value; a stand-in that does is not trusted
		// with more parsing than a certificate secret can need.
		return nil, "", fmt.Errorf("%w: %d bytes, more than a secret holds (%d)", ErrCorruptStored, n, certs.MaxSecretSize)
	}
	b, err := certs.ParseSecret([]byte(*out.SecretString))
	if err != nil {
		return nil, "", fmt.Errorf("%w: %w", ErrCorruptStored, err)
	}
	return b, aws.ToString(out.VersionId), nil
}

// Inspection is what Inspect learnt of a target secret before any order.
type Inspection struct {
	Exists   bool
	ARN      string
	Deleting bool   // scheduled for deletion (DeletedDate set)
	HasValue bool   // an AWSCURRENT version exists
	Current  string // the version that holds AWSCURRENT ("" when none)
	Tags     map[string]string
	Name     string // certferry:name, the certificate certferry stored in it ("" when none)
	Kind     string // certferry:kind ("acme-account" for the ACME account's secret)
	KMSKeyID string // the secret's KMS key, as the secret names it ("": the AWS managed key)
}

// Inspect describes target.Secret, before any order, without reading its value: a
// missing secret is fine (Store creates it), a refusal is an error matching
// ErrAccessDenied.
func (s *Sink) Inspect(ctx context.Context, target Target) (Inspection, error) {
	out, err := s.api.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: aws.String(target.Secret)})
	if err != nil {
		err = classify(err)
		if errors.Is(err, ErrNotFound) {
			return Inspection{}, nil
		}
		return Inspection{}, fmt.Errorf("secretsmanager: inspect %s: %w", target.Secret, err)
	}
	tags, current := tagMap(out.Tags), holder(out.VersionIdsToStages, "AWSCURRENT")
	return Inspection{
		Exists: true, ARN: aws.ToString(out.ARN), Deleting: out.DeletedDate != nil,
		HasValue: current != "", Current: current, Tags: tags,
		Name: tags[TagName], Kind: tags[TagKind], KMSKeyID: aws.ToString(out.KmsKeyId),
	}, nil
}

// Inspection is what an inventory entry tells of its secret, as Inspect would: the
// inventory lists no secret scheduled for deletion. A write that trusts it (Save's
// StoreOptions.Known) makes no DescribeSecret: the compare-and-swap catches a secret
// that moved since.
func (st Stored) Inspection() Inspection {
	return Inspection{Exists: true, ARN: st.ARN, HasValue: st.CurrentVersionID != "", Current: st.CurrentVersionID,
		Tags: st.Tags, Name: st.Name, Kind: st.Tags[TagKind], KMSKeyID: st.KMSKeyID}
}

// Preflight checks, before any order, that the sink can reach target.Secret: a missing
// secret is fine (Store creates it), a refusal is an error matching ErrAccessDenied.
func (s *Sink) Preflight(ctx context.Context, target Target) error {
	_, err := s.Inspect(ctx, target)
	return err
}

func holder(stages map[string][]string, stage string) string {
	for id, ss := range stages {
		if slices.Contains(ss, stage) {
			return id
		}
	}
	return ""
}

// tagMap reads a secret's tags; an empty value is no tag (tags.go).
func tagMap(tags []types.Tag) map[string]string {
	m := make(map[string]string, len(tags))
	for _, t := range tags {
		if v := aws.ToString(t.Value); v != "" {
			m[aws.ToString(t.Key)] = v
		}
	}
	return m
}

func tagList(m map[string]string) []types.Tag {
	out := make([]types.Tag, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, types.Tag{Key: aws.String(k), Value: aws.String(m[k])})
	}
	return out
}

// classify wraps AWS errors so that errors.Is matches ErrNotFound and ErrAccessDenied;
// the AWS error stays in the chain for errors.As.
func classify(err error) error {
	if err == nil {
		return nil
	}
	switch {
	case isCode(err, "ResourceNotFoundException"):
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	case isCode(err, "AccessDeniedException"), isCode(err, "AccessDenied"):
		return fmt.Errorf("%w: %w", ErrAccessDenied, err)
	}
	return err
}

func isCode(err error, code string) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == code
}
