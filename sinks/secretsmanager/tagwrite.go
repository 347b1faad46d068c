package secretsmanager

import (
	"context"
	"errors"
	"fmt"
	"maps"

	"github.com/aws/aws-sdk-go-v2/aws"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/certferry/certferry/certs"
)

// Tagging is one write of a secret's tags: those that describe a stored version, state
// tags, or both, in one TagResource.
type Tagging struct {
	// Name is the certificate's name (TagName): a secret that does not exist is created
	// under it, without a value, to hold the tags, so that the state of a certificate
	// never stored survives restarts and reaches every runner. "" never creates one.
	Name string
	// Missing: the caller knows the secret does not exist (Inspect said so): it is
	// created at once, with Name, without a TagResource refused first.
	Missing bool
	// Bundle, when set, is the certificate of version Version: the tags that describe it
	// are written (with Profile and Directory; an empty Directory is not claimed).
	Bundle    *certs.Bundle
	Version   string
	Profile   string
	Directory string
	// State are state tags: keys start with TagPrefix and are none of the describing
	// tags; values are passed through SanitizeTagValue; an empty value clears the tag.
	State map[string]string
}

// WriteTags writes t to target.Secret in one call (TagResource; CreateSecret when the
// secret does not exist and t.Name is set).
func (s *Sink) WriteTags(ctx context.Context, target Target, t Tagging) error {
	if err := s.writeTags(ctx, target, t); err != nil {
		return fmt.Errorf("secretsmanager: tag %s: %w", target.Secret, err)
	}
	return nil
}

func (s *Sink) writeTags(ctx context.Context, target Target, t Tagging) error {
	tags, err := s.tagsOf(target, t)
	if err != nil {
		return err
	}
	return s.putTags(ctx, target, t.Name, t.Missing, tags)
}

// tagsOf is every tag t writes.
func (s *Sink) tagsOf(target Target, t Tagging) (map[string]string, error) {
	tags, err := checkState(t.State)
	if err != nil {
		return nil, err
	}
	if t.Bundle != nil {
		desc := s.tags(target, t.Bundle, StoreOptions{Profile: t.Profile, Directory: t.Directory}, t.Version)
		if t.Directory == "" {
			desc[TagDirectory] = "" // not known: not claimed
		}
		maps.Copy(tags, desc)
	}
	return tags, nil
}

// putTags writes tags in one TagResource; a missing secret is created for them when
// name is set (at once when missing says it is).
func (s *Sink) putTags(ctx context.Context, target Target, name string, missing bool, tags map[string]string) error {
	if len(tags) == 0 {
		return nil
	}
	if !missing || name == "" {
		_, err := s.api.TagResource(ctx, &sm.TagResourceInput{SecretId: aws.String(target.Secret), Tags: tagList(tags)})
		if err = classify(err); !errors.Is(err, ErrNotFound) || name == "" {
			return err
		}
	}
	all := map[string]string{}
	maps.Copy(all, s.opts.Tags)
	maps.Copy(all, target.Tags)
	maps.Copy(all, tags)
	all[TagName] = SanitizeTagValue(name)
	if _, err := s.create(ctx, target, nil, "", all); err != nil {
		if !isCode(err, "ResourceExistsException") {
			return fmt.Errorf("create for its tags: %w", err)
		}
		// Another runner created it in the meantime: tag it like any other.
		_, err = s.api.TagResource(ctx, &sm.TagResourceInput{SecretId: aws.String(target.Secret), Tags: tagList(tags)})
		return classify(err)
	}
	return nil
}

// SetState writes state tags to secret (lifecycle's records, for one): keys start
// with TagPrefix and are none of the sink's describing tags; values are passed through
// SanitizeTagValue; an empty value clears the tag.
func (s *Sink) SetState(ctx context.Context, secret string, tags map[string]string) error {
	if err := s.writeTags(ctx, Target{Secret: secret}, Tagging{State: tags}); err != nil {
		return fmt.Errorf("secretsmanager: set state %s: %w", secret, err)
	}
	return nil
}

// CheckTagging writes target's certferry:name tag with the value it already has (name,
// as the inventory or DescribeSecret read it), to learn whether this role may tag the
// secret at all. The call has no effect: a TagResource sets only the keys it names, and
// this one names one key with the value it holds, so no tag changes, no version is
// made, no value is read or written, and a concurrent writer of other tags is untouched.
// AWS authorizes it as any TagResource (it is also the cheapest one: one key). renew's
// preflight asks it before an order, so that a renewal whose state (its backoff, the
// challenge journal) could not be written is never ordered.
func (s *Sink) CheckTagging(ctx context.Context, target Target, name string) error {
	_, err := s.api.TagResource(ctx, &sm.TagResourceInput{SecretId: aws.String(target.Secret), Tags: tagList(map[string]string{TagName: name})})
	if err = classify(err); err != nil {
		return fmt.Errorf("secretsmanager: check tagging %s: %w", target.Secret, err)
	}
	return nil
}
