package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/certferry/certferry/renew"
)

// kmsAPI is the part of the KMS client the preflight uses.
type kmsAPI interface {
	DescribeKey(ctx context.Context, in *kms.DescribeKeyInput, optFns ...func(*kms.Options)) (*kms.DescribeKeyOutput, error)
}

// kmsKeys tells the preflight the state of a secret's KMS key (kms:DescribeKey: no side
// effect).
type kmsKeys struct{ api kmsAPI }

var _ renew.KeyStates = kmsKeys{}

func (k kmsKeys) KeyState(ctx context.Context, keyID string) (string, error) {
	out, err := k.api.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(keyID)})
	if err == nil && out.KeyMetadata == nil {
		err = errors.New("no key metadata in the answer")
	}
	if err != nil {
		return "", fmt.Errorf("kms: describe key %s: %w", keyID, err)
	}
	return string(out.KeyMetadata.KeyState), nil
}
