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
	UntagResource(ctx context.Context, in *sm.UntagResourceInput, optFns ...func(*sm.Options)) (*sm.UntagResourceOutput, error)
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
	// backoff state on success), with SetState's rules: keys start with "certferry:",
	// values are sanitized, an empty value removes the tag.
	State map[string]string
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
	// PendingVersionID is a version still labelled StagePending that is not AWSCURRENT: a
	// write whose promotion was interrupted ("" if none).
	PendingVersionID string
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
	Name     string // certferry:name, the certificate certferry stored in it ("" when none)
	Kind     string // certferry:kind ("acme-account" for the ACME account's secret)
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
	tags := tagMap(out.Tags)
	return Inspection{
		Exists: true, ARN: aws.ToString(out.ARN), Deleting: out.DeletedDate != nil,
		HasValue: holder(out.VersionIdsToStages, "AWSCURRENT") != "",
		Name:     tags[TagName], Kind: tags[TagKind],
	}, nil
}

// Preflight checks, before any order, that the sink can reach target.Secret: a missing
// secret is fine (Store creates it), a refusal is an error matching ErrAccessDenied.
func (s *Sink) Preflight(ctx context.Context, target Target) error {
	_, err := s.Inspect(ctx, target)
	return err
}

// Retag rewrites the tags that describe the current version from its value b: tags are
// a cache of the value, repaired when they were found not to match it.
func (s *Sink) Retag(ctx context.Context, target Target, b *certs.Bundle, version string, opts StoreOptions) error {
	out, err := s.api.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: aws.String(target.Secret)})
	if err != nil {
		return fmt.Errorf("secretsmanager: retag %s: %w", target.Secret, classify(err))
	}
	if holder(out.VersionIdsToStages, "AWSCURRENT") != version {
		return nil // moved on since it was read: the writer tags it
	}
	var unset []string
	if opts.Directory == "" {
		unset = append(unset, TagDirectory) // not known: not claimed
	}
	if err := s.retag(ctx, target.Secret, tagMap(out.Tags), s.tags(target, b, opts, version), unset); err != nil {
		return fmt.Errorf("secretsmanager: retag %s: %w", target.Secret, err)
	}
	return nil
}

// SetState tags secret with tags (the scheduler's backoff state). Keys must start with
// "certferry:" and must not be one of the sink's own keys; values are passed through
// SanitizeTagValue; an empty value removes the tag.
func (s *Sink) SetState(ctx context.Context, secret string, tags map[string]string) error {
	if err := s.setState(ctx, secret, tags); err != nil {
		return fmt.Errorf("secretsmanager: set state %s: %w", secret, err)
	}
	return nil
}

func (s *Sink) setState(ctx context.Context, secret string, tags map[string]string) error {
	setMap, remove, err := splitState(tags)
	if err != nil {
		return err
	}
	set := tagList(setMap)
	if len(set) > 0 {
		if _, err := s.api.TagResource(ctx, &sm.TagResourceInput{SecretId: aws.String(secret), Tags: set}); err != nil {
			return classify(err)
		}
	}
	if len(remove) > 0 {
		if _, err := s.api.UntagResource(ctx, &sm.UntagResourceInput{SecretId: aws.String(secret), TagKeys: remove}); err != nil {
			return classify(err)
		}
	}
	return nil
}

// splitState validates state tags and splits them into tags to set (sanitized) and keys
// to remove.
func splitState(tags map[string]string) (set map[string]string, remove []string, err error) {
	set = map[string]string{}
	for _, k := range slices.Sorted(maps.Keys(tags)) {
		if !strings.HasPrefix(k, TagPrefix) || len(k) > maxTagKey {
			return nil, nil, fmt.Errorf("state tag key %q: want a %q prefix and at most %d characters", k, TagPrefix, maxTagKey)
		}
		if ownTag(k) {
			return nil, nil, fmt.Errorf("state tag key %q is written by Store", k)
		}
		if tags[k] == "" {
			remove = append(remove, k)
		} else {
			set[k] = SanitizeTagValue(tags[k])
		}
	}
	return set, remove, nil
}

func ownTag(k string) bool {
	switch k {
	case TagName, TagDomains, TagDomainsHash, TagNotAfter, TagNotBefore, TagSerial, TagKeyType, TagProfile, TagVersion, TagARIID, TagDirectory, TagSum:
		return true
	}
	return false
}

// Store writes b to target.Secret: CreateSecret when the secret does not exist,
// otherwise PutSecretValue (AWSCURRENT moves to the new version, AWSPREVIOUS keeps the
// old one), then the tags. It returns the version id, which is Token(b).
//
// Guards, all skipped by opts.Force: a stored certificate that expires later is not
// replaced (ErrWouldShorten); a stored value that is not a valid certificate secret is
// not overwritten (ErrCorruptStored). The stored expiry comes from the tags; the value
// is read only when the tags do not describe the current version.
//
// Storing the certificate that is already current is a no-op apart from refreshing
// tags that differ. Verifying the chain is the caller's job; the key was checked against
// the certificate when the bundle was built.
func (s *Sink) Store(ctx context.Context, target Target, b *certs.Bundle, opts StoreOptions) (string, error) {
	saved, err := s.Save(ctx, target, b, opts)
	return saved.VersionID, err
}

// Saved is where Save put a certificate.
type Saved struct {
	VersionID string
	ARN       string // the secret's ARN (hooks pass it on as CERTFERRY_SECRET_ARN)
}

// Save is Store, also returning the secret's ARN (known from the create or describe call
// the write makes anyway).
func (s *Sink) Save(ctx context.Context, target Target, b *certs.Bundle, opts StoreOptions) (Saved, error) {
	var arn string
	id, err := s.store(ctx, target, b, opts, &arn)
	if err != nil {
		return Saved{}, fmt.Errorf("secretsmanager: put %s: %w", target.Secret, err)
	}
	s.log.Info("stored certificate", zap.String("cert", b.Name), zap.String("secret", target.Secret),
		zap.String("version", id), zap.Time("not_after", b.NotAfter), zap.String("serial", b.Serial))
	return Saved{VersionID: id, ARN: arn}, nil
}

func (s *Sink) store(ctx context.Context, target Target, b *certs.Bundle, opts StoreOptions, arn *string) (string, error) {
	if b == nil || b.Leaf == nil || b.Key.IsZero() {
		return "", errors.New("incomplete bundle")
	}
	data, err := b.MarshalSecret()
	if err != nil {
		return "", err
	}
	value := string(data)
	token := Token(b)
	state, unset, err := splitState(opts.State)
	if err != nil {
		return "", err
	}
	tags := s.tags(target, b, opts, token)
	maps.Copy(tags, state)

	// raced: the secret moved since the caller decided to write (another runner): a
	// certificate it stored that is as good as ours is kept, never clobbered.
	raced := false
	desc, err := s.api.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: aws.String(target.Secret)})
	if err != nil {
		if err = classify(err); !errors.Is(err, ErrNotFound) {
			return "", err
		}
		created, cerr := s.create(ctx, target, value, token, tags, arn)
		if cerr == nil || !isCode(cerr, "ResourceExistsException") {
			return created, cerr
		}
		// Another runner created it meanwhile: continue as an update, knowing we raced.
		raced = true
		if desc, err = s.api.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: aws.String(target.Secret)}); err != nil {
			return "", classify(err)
		}
	}
	*arn = aws.ToString(desc.ARN)
	current := holder(desc.VersionIdsToStages, "AWSCURRENT")
	have := tagMap(desc.Tags)
	if current == token {
		// Already stored (a retry, or a second runner with the same certificate).
		return token, s.retag(ctx, target.Secret, have, tags, unset)
	}
	if opts.Expect != nil && *opts.Expect != current {
		raced = true
	}
	if raced && current != "" {
		if won, ok := s.winner(ctx, target.Secret, current, b); ok {
			s.lostRace(b, target.Secret, won)
			return "", &LostRaceError{Secret: target.Secret, Winner: won}
		}
	}
	if current != "" && !opts.Force {
		if err := s.guard(ctx, target.Secret, have, current, b, opts.AllowShorter); err != nil {
			return "", err
		}
	}
	// The new version is written with StagePending only, then AWSCURRENT is moved to it
	// with a compare-and-swap (RemoveFromVersionId = the version read above): a runner
	// that raced us and lost never moves AWSCURRENT off the winner.
	put, err := s.putRetry(ctx, &sm.PutSecretValueInput{
		SecretId: aws.String(target.Secret), SecretString: aws.String(value), ClientRequestToken: aws.String(token),
		VersionStages: []string{StagePending},
	})
	if err != nil {
		if isCode(err, "ResourceExistsException") {
			return "", fmt.Errorf("%w: version %s", ErrConflict, token)
		}
		return "", err
	}
	id := aws.ToString(put.VersionId)
	if !slices.Contains(put.VersionStages, "AWSCURRENT") {
		for attempt := 1; ; attempt++ {
			err := swapCurrent(ctx, s.api, target.Secret, id, current)
			if err == nil {
				break
			}
			if !errors.Is(err, errSwapLost) {
				// Perhaps interrupted: the label stays for a later pass to finish the write.
				return "", fmt.Errorf("move AWSCURRENT to %s: %w", id, classify(err))
			}
			if attempt >= maxCAS {
				// Given up, not interrupted: a label left would read as a write to finish.
				s.unpendPut(ctx, target.Secret, put)
				return "", fmt.Errorf("move AWSCURRENT to %s: %w", id, classify(err))
			}
			// Lost the compare-and-swap: AWSCURRENT moved since we read it.
			if desc, err = s.api.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: aws.String(target.Secret)}); err != nil {
				return "", fmt.Errorf("move AWSCURRENT to %s: %w", id, classify(err))
			}
			current, have = holder(desc.VersionIdsToStages, "AWSCURRENT"), tagMap(desc.Tags)
			if current == id {
				break
			}
			if won, ok := s.winner(ctx, target.Secret, current, b); ok {
				s.lostRace(b, target.Secret, won)
				s.unpendPut(ctx, target.Secret, put)
				return "", &LostRaceError{Secret: target.Secret, Winner: won}
			}
			if current != "" && !opts.Force {
				if err := s.guard(ctx, target.Secret, have, current, b, opts.AllowShorter); err != nil {
					// A deliberate refusal, not an interrupted write: the label goes.
					s.unpendPut(ctx, target.Secret, put)
					return "", err
				}
			}
		}
	}
	// The promotion is done: the label goes, so that a StagePending on a version other
	// than AWSCURRENT always means an interrupted write.
	s.unpendPut(ctx, target.Secret, put)
	tags[TagVersion] = id
	if err := s.retag(ctx, target.Secret, have, tags, unset); err != nil {
		return "", fmt.Errorf("version %s stored, tags not updated: %w", id, err)
	}
	return id, nil
}

// unpend removes StagePending from version id (best effort: a label left behind only
// costs a label).
func (s *Sink) unpend(ctx context.Context, secret, id string) {
	if _, err := s.api.UpdateSecretVersionStage(ctx, &sm.UpdateSecretVersionStageInput{
		SecretId: aws.String(secret), VersionStage: aws.String(StagePending), RemoveFromVersionId: aws.String(id),
	}); err != nil {
		s.log.Warn("could not remove the pending label", zap.String("secret", secret), zap.String("version", id), zap.Error(classify(err)))
	}
}

// unpendPut removes StagePending from the version put wrote, when it holds the label.
func (s *Sink) unpendPut(ctx context.Context, secret string, put *sm.PutSecretValueOutput) {
	if slices.Contains(put.VersionStages, StagePending) {
		s.unpend(ctx, secret, aws.ToString(put.VersionId))
	}
}

// putRetry is PutSecretValue, retried on LimitExceededException (the secret's version
// quota, or the write rate) up to Options.MaxAttempts times with a doubling delay.
// Every attempt carries the same token, so a retry never makes a second version.
func (s *Sink) putRetry(ctx context.Context, in *sm.PutSecretValueInput) (*sm.PutSecretValueOutput, error) {
	delay := s.opts.RetryDelay
	for attempt := 1; ; attempt++ {
		out, err := s.api.PutSecretValue(ctx, in)
		if err == nil {
			return out, nil
		}
		if !isCode(err, "LimitExceededException") {
			return nil, classify(err)
		}
		if attempt >= s.opts.MaxAttempts {
			return nil, fmt.Errorf("%w: gave up after %d attempts: %w", ErrVersionQuota, attempt, err)
		}
		s.log.Warn("version quota: retrying", zap.String("secret", aws.ToString(in.SecretId)), zap.Int("attempt", attempt+1), zap.Duration("delay", delay))
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("%w: %w", ErrVersionQuota, errors.Join(err, ctx.Err()))
		case <-t.C:
		}
		delay *= 2
	}
}

// winner reports whether the certificate at version current, written by another runner
// while we were obtaining b, is as good as b: a valid secret for the same names and key
// type with at least nine tenths of b's remaining lifetime.
func (s *Sink) winner(ctx context.Context, secret, current string, b *certs.Bundle) (Winner, bool) {
	out, err := s.api.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String(secret), VersionId: aws.String(current)})
	if err != nil || out.SecretString == nil {
		return Winner{}, false
	}
	w, err := certs.ParseSecret([]byte(*out.SecretString))
	if err != nil || w.DomainsHash() != b.DomainsHash() || w.KeyType != b.KeyType {
		return Winner{}, false
	}
	now := s.opts.Now()
	if w.NotAfter.Sub(now) < b.NotAfter.Sub(now)*9/10 {
		return Winner{}, false
	}
	return Winner{VersionID: current, Serial: w.Serial, NotAfter: w.NotAfter}, true
}

func (s *Sink) lostRace(b *certs.Bundle, secret string, w Winner) {
	s.log.Warn("lost the race: another runner stored a certificate as good; it is kept and ours is dropped",
		zap.String("cert", b.Name), zap.String("secret", secret), zap.String("serial", b.Serial),
		zap.String("winner_version", w.VersionID), zap.String("winner_serial", w.Serial), zap.Time("winner_not_after", w.NotAfter))
}

// guard refuses to replace the current version when it expires later than b, or when
// its value is not a valid certificate secret.
func (s *Sink) guard(ctx context.Context, secret string, _ map[string]string, current string, b *certs.Bundle, allowShorter bool) error {
	// The value itself, never the tags: a hand-edited tag must not let a shorter
	// certificate replace a longer one, nor block a good one.
	old, _, err := s.getStage(ctx, secret, "AWSCURRENT")
	if err != nil {
		return err // ErrCorruptStored, or the read's own failure
	}
	stored := old.NotAfter
	if !allowShorter && b.NotAfter.Before(stored) {
		return &WouldShortenError{Stored: stored, New: b.NotAfter}
	}
	return nil
}

func (s *Sink) create(ctx context.Context, target Target, value, token string, tags map[string]string, arn *string) (string, error) {
	in := &sm.CreateSecretInput{
		Name: aws.String(target.Secret), SecretString: aws.String(value), ClientRequestToken: aws.String(token),
		Tags: tagList(tags),
	}
	if target.KMSKeyID != "" {
		in.KmsKeyId = aws.String(target.KMSKeyID)
	}
	if target.Description != "" {
		in.Description = aws.String(target.Description)
	}
	out, err := s.api.CreateSecret(ctx, in)
	if err != nil {
		return "", err
	}
	*arn = aws.ToString(out.ARN)
	return aws.ToString(out.VersionId), nil
}

// retag writes the tags of want that differ from have, and removes the keys of unset
// that have holds.
func (s *Sink) retag(ctx context.Context, secret string, have, want map[string]string, unset []string) error {
	var diff []types.Tag
	for _, k := range slices.Sorted(maps.Keys(want)) {
		if v, ok := have[k]; !ok || v != want[k] {
			diff = append(diff, types.Tag{Key: aws.String(k), Value: aws.String(want[k])})
		}
	}
	if len(diff) > 0 {
		if _, err := s.api.TagResource(ctx, &sm.TagResourceInput{SecretId: aws.String(secret), Tags: diff}); err != nil {
			return classify(err)
		}
	}
	var drop []string
	for _, k := range unset {
		if _, ok := have[k]; ok {
			drop = append(drop, k)
		}
	}
	if len(drop) > 0 {
		if _, err := s.api.UntagResource(ctx, &sm.UntagResourceInput{SecretId: aws.String(secret), TagKeys: drop}); err != nil {
			return classify(err)
		}
	}
	return nil
}

func (s *Sink) tags(target Target, b *certs.Bundle, opts StoreOptions, version string) map[string]string {
	m := map[string]string{}
	maps.Copy(m, s.opts.Tags)
	maps.Copy(m, target.Tags)
	maps.Copy(m, map[string]string{
		TagName:        SanitizeTagValue(b.Name),
		TagDomains:     EncodeDomains(b.Domains),
		TagDomainsHash: b.DomainsHash(),
		TagNotAfter:    b.NotAfter.UTC().Format(time.RFC3339),
		TagNotBefore:   b.NotBefore.UTC().Format(time.RFC3339),
		TagSerial:      b.Serial,
		TagKeyType:     b.KeyType,
		TagProfile:     SanitizeTagValue(opts.Profile),
		TagVersion:     version,
		TagARIID:       SanitizeTagValue(b.ARIID),
	})
	if opts.Directory != "" {
		m[TagDirectory] = SanitizeTagValue(opts.Directory)
	}
	m[TagSum] = tagSum(m)
	return m
}

// sumTags are the tags TagSum covers.
var sumTags = []string{TagVersion, TagDomainsHash, TagNotAfter, TagNotBefore, TagSerial, TagKeyType, TagProfile, TagARIID, TagDirectory}

// TagSumOf is the TagSum value that binds tags (the ones Store writes) to their
// version; a tool that writes certferry's tags itself must write it too.
func TagSumOf(tags map[string]string) string { return tagSum(tags) }

// tagSum is the TagSum value of tags: 16 hex digits of SHA-256 over the covered tags.
func tagSum(tags map[string]string) string {
	h := sha256.New()
	for _, k := range sumTags {
		fmt.Fprintf(h, "%s=%s\n", k, tags[k])
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}

func storedFromTags(name, arn string, tags map[string]string, stages map[string][]string) Stored {
	st := Stored{
		Name: tags[TagName], Secret: name, ARN: arn,
		DomainsHash: tags[TagDomainsHash], KeyType: tags[TagKeyType], Profile: tags[TagProfile],
		Serial: tags[TagSerial], ARIID: tags[TagARIID], VersionID: tags[TagVersion], Tags: tags,
		CurrentVersionID: holder(stages, "AWSCURRENT"),
	}
	if p := holder(stages, StagePending); p != st.CurrentVersionID {
		st.PendingVersionID = p
	}
	st.Domains, st.DomainsTruncated = DecodeDomains(tags[TagDomains])
	st.NotAfter, _ = time.Parse(time.RFC3339, tags[TagNotAfter])
	st.NotBefore, _ = time.Parse(time.RFC3339, tags[TagNotBefore])
	st.Directory = tags[TagDirectory]
	st.TagsCurrent = st.VersionID != "" && st.VersionID == st.CurrentVersionID && !st.NotAfter.IsZero() &&
		tags[TagSum] == tagSum(tags) && plausible(st.NotBefore, st.NotAfter)
	return st
}

// maxLifetime is longer than any publicly trusted certificate may live (398 days).
const maxLifetime = 400 * 24 * time.Hour

// plausible reports whether a validity period read from tags could be a certificate's.
func plausible(notBefore, notAfter time.Time) bool {
	return !notBefore.IsZero() && notAfter.After(notBefore) && notAfter.Sub(notBefore) <= maxLifetime
}

func holder(stages map[string][]string, stage string) string {
	for id, ss := range stages {
		if slices.Contains(ss, stage) {
			return id
		}
	}
	return ""
}

func tagMap(tags []types.Tag) map[string]string {
	m := make(map[string]string, len(tags))
	for _, t := range tags {
		m[aws.ToString(t.Key)] = aws.ToString(t.Value)
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

// SetStateOrCreate is SetState for a certificate that may have no secret yet (it failed
// before it was ever stored): a missing secret is created without a value, with the
// target's KMS key, description and tags, so that the backoff state survives restarts and
// reaches every runner. Store later puts the first value into it.
func (s *Sink) SetStateOrCreate(ctx context.Context, target Target, name string, tags map[string]string) error {
	err := s.setState(ctx, target.Secret, tags)
	if !errors.Is(err, ErrNotFound) {
		if err != nil {
			return fmt.Errorf("secretsmanager: set state %s: %w", target.Secret, err)
		}
		return nil
	}
	set, _, err := splitState(tags)
	if err != nil {
		return fmt.Errorf("secretsmanager: set state %s: %w", target.Secret, err)
	}
	all := map[string]string{}
	maps.Copy(all, s.opts.Tags)
	maps.Copy(all, target.Tags)
	maps.Copy(all, set)
	all[TagName] = SanitizeTagValue(name)
	in := &sm.CreateSecretInput{Name: aws.String(target.Secret), Tags: tagList(all)}
	if target.KMSKeyID != "" {
		in.KmsKeyId = aws.String(target.KMSKeyID)
	}
	if target.Description != "" {
		in.Description = aws.String(target.Description)
	}
	if _, err := s.api.CreateSecret(ctx, in); err != nil {
		if err = classify(err); isCode(err, "ResourceExistsException") {
			// Another runner created it in the meantime: tag it like any other.
			return s.SetState(ctx, target.Secret, tags)
		}
		return fmt.Errorf("secretsmanager: create %s for its state: %w", target.Secret, err)
	}
	return nil
}
