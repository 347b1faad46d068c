package renew

import (
	"context"
	"fmt"
	"strings"

	"go.uber.org/zap"
)

// KeyStates tells the state of a KMS key (kms:DescribeKey): Enabled, Disabled,
// PendingDeletion, ...
type KeyStates interface {
	KeyState(ctx context.Context, keyID string) (string, error)
}

// keyUnusable checks, before an order, the customer managed KMS key that c's secret is
// encrypted with (keyID, as the secret names it; "" for the AWS managed key): a key
// disabled or pending deletion makes every write of the secret fail, so an order would
// only be thrown away. It needs a human, and the error names the key and its state. A
// key whose state cannot be read (kms:DescribeKey not granted, KMS not answering) is
// not refused: the store's own refusal still says what is wrong (docs/architecture.md).
func (r *Runner) keyUnusable(ctx context.Context, c Cert, keyID string) error {
	if r.deps.Keys == nil || keyID == "" || strings.HasSuffix(keyID, "alias/aws/secretsmanager") {
		return nil
	}
	state, err := r.deps.Keys.KeyState(ctx, keyID)
	if err != nil {
		r.log.Warn("the state of the secret's KMS key cannot be read; not checked before the order",
			zap.String("cert", c.Name), zap.String("kms_key", keyID), zap.Error(err))
		return nil
	}
	switch state {
	case "Disabled", "PendingDeletion", "PendingReplicaDeletion", "PendingImport", "Unavailable":
		return fmt.Errorf(storeRefusedPrefix+"sinks.secretsmanager.secret %q is encrypted with KMS key %s, which is %s: enable it (or cancel its deletion), or give the secret another key",
			c.Secret.Secret, keyID, state)
	}
	return nil
}
