package secretsmanager

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// errSwapLost: AWSCURRENT moved since the write read it, so the compare-and-swap that
// would have made the write current was refused.
var errSwapLost = errors.New("AWSCURRENT moved since it was read")

// stager is the call of the compare-and-swap.
type stager interface {
	UpdateSecretVersionStage(ctx context.Context, in *sm.UpdateSecretVersionStageInput, optFns ...func(*sm.Options)) (*sm.UpdateSecretVersionStageOutput, error)
}

// swapCurrent is the compare-and-swap of every write of this package, certificates and
// accounts alike: it moves AWSCURRENT of secret to version id only if it is still on
// prev, the version the write was derived from (RemoveFromVersionId). prev "" (the
// secret had no AWSCURRENT) makes the move unconditional. When another writer moved
// AWSCURRENT meanwhile, Secrets Manager refuses with InvalidParameterException and the
// error matches errSwapLost: the caller reads again and derives its write again.
func swapCurrent(ctx context.Context, api stager, secret, id, prev string) error {
	in := &sm.UpdateSecretVersionStageInput{
		SecretId: aws.String(secret), VersionStage: aws.String("AWSCURRENT"), MoveToVersionId: aws.String(id),
	}
	if prev != "" {
		in.RemoveFromVersionId = aws.String(prev)
	}
	_, err := api.UpdateSecretVersionStage(ctx, in)
	if err != nil && isCode(err, "InvalidParameterException") {
		return fmt.Errorf("%w: %w", errSwapLost, err)
	}
	return err
}
