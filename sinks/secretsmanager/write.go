package secretsmanager

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"go.uber.org/zap"

	"github.com/certferry/certferry/certs"
)

// Store writes b to target.Secret and tags it: Save, then WriteTags. It returns the
// version id, which is Token(b).
//
// Guards, all skipped by opts.Force: a stored certificate that expires later is not
// replaced (ErrWouldShorten); a stored value that is not a valid certificate secret is
// not overwritten (ErrCorruptStored), unless its certificate and key both parse but do
// not match and opts.AllowShorter is set. Both read the stored value, never the tags.
//
// Storing the certificate that is already current is a no-op apart from refreshing the
// tags. Verifying the chain is the caller's job; the key was checked against the
// certificate when the bundle was built.
func (s *Sink) Store(ctx context.Context, target Target, b *certs.Bundle, opts StoreOptions) (string, error) {
	if b != nil && b.Leaf != nil {
		if _, err := b.MarshalSecret(); err != nil {
			return "", fmt.Errorf("secretsmanager: put %s: %w", target.Secret, err) // before any call
		}
	}
	if opts.Known == nil {
		in, err := s.Inspect(ctx, target)
		if err != nil {
			return "", fmt.Errorf("secretsmanager: put %s: %w", target.Secret, err)
		}
		opts.Known = &in
	}
	saved, err := s.Save(ctx, target, b, opts)
	if err != nil || saved.Tagged {
		return saved.VersionID, err
	}
	fail := func(err error) (string, error) {
		return "", fmt.Errorf("secretsmanager: put %s: version %s stored, tags not updated: %w", target.Secret, saved.VersionID, err)
	}
	tags, err := s.tagsOf(target, Tagging{Bundle: b, Version: saved.VersionID, Profile: opts.Profile, Directory: opts.Directory, State: opts.State})
	if err != nil {
		return fail(err)
	}
	for k, v := range tags {
		if opts.Known.Tags[k] == v { // an empty value is no tag: clearing an absent one is a no-op
			delete(tags, k)
		}
	}
	if err := s.putTags(ctx, target, "", false, tags); err != nil {
		return fail(err)
	}
	return saved.VersionID, nil
}

// Saved is where Save put a certificate.
type Saved struct {
	VersionID string
	ARN       string // the secret's ARN (hooks pass it on as CERTFERRY_SECRET_ARN)
	// Tagged: the write created the secret, with the tags that describe b and the
	// StoreOptions.State tags.
	Tagged bool
}

// Save writes b as the current version of target.Secret, with the guards of Store: a
// secret that does not exist is created with the value and its tags, in one call;
// otherwise the value is put under StagePending and AWSCURRENT is moved to it by
// compare-and-swap (docs/secret-format.md). Save writes no tags to a secret that exists:
// the caller writes them with WriteTags, once it knows all it records (renew: after the
// hooks, in one call); Store does both.
//
// StagePending stays on the new current version until the next write moves it. On
// AWSCURRENT, with tags that describe another version, it marks a write whose tags were
// never written (Stored.Unfinished); on a version that is neither AWSCURRENT nor
// AWSPREVIOUS, a write that was never promoted (Stored.PendingVersionID).
func (s *Sink) Save(ctx context.Context, target Target, b *certs.Bundle, opts StoreOptions) (Saved, error) {
	saved, err := s.save(ctx, target, b, opts)
	if err != nil {
		return Saved{}, fmt.Errorf("secretsmanager: put %s: %w", target.Secret, err)
	}
	s.log.Info("stored certificate", zap.String("cert", b.Name), zap.String("secret", target.Secret),
		zap.String("version", saved.VersionID), zap.Time("not_after", b.NotAfter), zap.String("serial", b.Serial))
	return saved, nil
}

func (s *Sink) save(ctx context.Context, target Target, b *certs.Bundle, opts StoreOptions) (Saved, error) {
	if b == nil || b.Leaf == nil || b.Key.IsZero() {
		return Saved{}, errors.New("incomplete bundle")
	}
	data, err := b.MarshalSecret()
	if err != nil {
		return Saved{}, err
	}
	value, token := string(data), Token(b)
	state, err := checkState(opts.State)
	if err != nil {
		return Saved{}, err
	}
	in := opts.Known
	if in == nil {
		got, err := s.Inspect(ctx, target)
		if err != nil {
			return Saved{}, err
		}
		in = &got
	}
	// raced: the secret moved since the caller decided to write (another runner): a
	// certificate it stored that is as good as ours is kept, never clobbered.
	raced := false
	if !in.Exists {
		tags := s.tags(target, b, opts, token)
		maps.Copy(tags, state)
		saved, err := s.create(ctx, target, &value, token, tags)
		if err == nil || !isCode(err, "ResourceExistsException") {
			return saved, err
		}
		// Another runner created it meanwhile: continue as an update, knowing we raced.
		raced = true
		got, err := s.Inspect(ctx, target)
		if err != nil {
			return Saved{}, err
		}
		in = &got
	}
	return s.put(ctx, target, b, value, *in, opts, raced)
}

// put writes b's value as a new version of a secret that exists (as in tells) and
// promotes it.
func (s *Sink) put(ctx context.Context, target Target, b *certs.Bundle, value string, in Inspection, opts StoreOptions, raced bool) (Saved, error) {
	token, current := Token(b), in.Current
	if current == token {
		// Already stored (a retry, or a second runner with the same certificate).
		return Saved{VersionID: token, ARN: in.ARN}, nil
	}
	if opts.Expect != nil && *opts.Expect != current {
		raced = true
	}
	if raced && current != "" {
		if won, ok := s.winner(ctx, target.Secret, current, b); ok {
			s.lostRace(b, target.Secret, won)
			return Saved{}, &LostRaceError{Secret: target.Secret, Winner: won}
		}
	}
	if current != "" && !opts.Force {
		if err := s.guard(ctx, target.Secret, b, opts.AllowShorter); err != nil {
			return Saved{}, err
		}
	}
	// The new version is written with StagePending only, then AWSCURRENT is moved to it
	// with a compare-and-swap (RemoveFromVersionId = the version read above): a runner
	// that raced us and lost never moves AWSCURRENT off the winner. The first version of
	// a secret is AWSCURRENT at once.
	put, err := s.putRetry(ctx, &sm.PutSecretValueInput{
		SecretId: aws.String(target.Secret), SecretString: aws.String(value), ClientRequestToken: aws.String(token),
		VersionStages: []string{StagePending},
	})
	if err != nil {
		if isCode(err, "ResourceExistsException") {
			return Saved{}, fmt.Errorf("%w: version %s", ErrConflict, token)
		}
		return Saved{}, err
	}
	if !slices.Contains(put.VersionStages, "AWSCURRENT") {
		if err := s.promote(ctx, target, b, put, current, opts); err != nil {
			return Saved{}, err
		}
	}
	return Saved{VersionID: aws.ToString(put.VersionId), ARN: aws.ToString(put.ARN)}, nil
}

// promote moves AWSCURRENT to the version put wrote, by compare-and-swap from current.
// A lost swap is read again and retried (maxCAS times) under the same guards, unless
// the winner's certificate is as good as b.
func (s *Sink) promote(ctx context.Context, target Target, b *certs.Bundle, put *sm.PutSecretValueOutput, current string, opts StoreOptions) error {
	id := aws.ToString(put.VersionId)
	for attempt := 1; ; attempt++ {
		err := swapCurrent(ctx, s.api, target.Secret, id, current)
		if err == nil {
			return nil
		}
		if !errors.Is(err, errSwapLost) {
			// Perhaps interrupted: the label stays for a later pass to finish the write.
			return fmt.Errorf("move AWSCURRENT to %s: %w", id, classify(err))
		}
		if attempt >= maxCAS {
			// Given up, not interrupted: a label left would read as a write to finish.
			s.unpendPut(ctx, target.Secret, put)
			return fmt.Errorf("move AWSCURRENT to %s: %w", id, classify(err))
		}
		// Lost the compare-and-swap: AWSCURRENT moved since we read it.
		in, err := s.Inspect(ctx, target)
		if err != nil {
			return fmt.Errorf("move AWSCURRENT to %s: %w", id, err)
		}
		if current = in.Current; current == id {
			return nil
		}
		if won, ok := s.winner(ctx, target.Secret, current, b); ok {
			s.lostRace(b, target.Secret, won)
			s.unpendPut(ctx, target.Secret, put)
			return &LostRaceError{Secret: target.Secret, Winner: won}
		}
		if current != "" && !opts.Force {
			if err := s.guard(ctx, target.Secret, b, opts.AllowShorter); err != nil {
				// A deliberate refusal, not an interrupted write: the label goes.
				s.unpendPut(ctx, target.Secret, put)
				return err
			}
		}
	}
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
func (s *Sink) guard(ctx context.Context, secret string, b *certs.Bundle, allowShorter bool) error {
	// The value itself, never the tags: a hand-edited tag must not let a shorter
	// certificate replace a longer one, nor block a good one.
	old, _, err := s.getStage(ctx, secret, "AWSCURRENT")
	if mismatch := (*certs.KeyMismatchError)(nil); errors.As(err, &mismatch) && allowShorter {
		// A certificate stored with another key cannot be served: the caller, which
		// allows a shorter one only to replace such a value or on a change, replaces it.
		return nil
	}
	if err != nil {
		return err // ErrCorruptStored, or the read's own failure
	}
	stored := old.NotAfter
	if !allowShorter && b.NotAfter.Before(stored) {
		return &WouldShortenError{Stored: stored, New: b.NotAfter}
	}
	return nil
}

// create creates target.Secret with tags (the empty ones left out) and, unless value
// is nil, its first version.
func (s *Sink) create(ctx context.Context, target Target, value *string, token string, tags map[string]string) (Saved, error) {
	set := map[string]string{}
	for k, v := range tags {
		if v != "" {
			set[k] = v
		}
	}
	in := &sm.CreateSecretInput{Name: aws.String(target.Secret), SecretString: value, Tags: tagList(set)}
	if value != nil {
		in.ClientRequestToken = aws.String(token)
	}
	if target.KMSKeyID != "" {
		in.KmsKeyId = aws.String(target.KMSKeyID)
	}
	if target.Description != "" {
		in.Description = aws.String(target.Description)
	}
	out, err := s.api.CreateSecret(ctx, in)
	if err != nil {
		return Saved{}, classify(err)
	}
	return Saved{VersionID: aws.ToString(out.VersionId), ARN: aws.ToString(out.ARN), Tagged: true}, nil
}
