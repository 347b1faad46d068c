package renew

import (
	"errors"
	"fmt"
	"strings"

	"github.com/aws/smithy-go"
)

// storeNeedsHuman reports whether a failed store is one that retrying cannot fix (a role
// missing a permission, the secret's KMS key disabled or not usable by the role, the
// secret scheduled for deletion meanwhile), and says what a human has to do. Such a
// failure waits a day, as a CA's permanent refusal does: each retry after an ordinary
// backoff would order and issue again and throw the certificate away.
func storeNeedsHuman(err error) (what string, ok bool) {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return "", false
	}
	op := "the call"
	var oe *smithy.OperationError
	if errors.As(err, &oe) {
		op = strings.ToLower(oe.Service()) + ":" + oe.Operation()
		op = strings.ReplaceAll(op, "secrets manager:", "secretsmanager:")
	}
	switch ae.ErrorCode() {
	case "AccessDeniedException", "AccessDenied":
		return fmt.Sprintf("the role is not allowed %s on the secret: grant it (deploy/iam)", op), true
	case "KMSAccessDeniedException":
		return "the role may not use the secret's KMS key (kms:GenerateDataKey, kms:Decrypt through Secrets Manager): grant it in the key policy or the role (deploy/iam)", true
	case "KMSDisabledException", "KMSInvalidStateException":
		return "the secret's KMS key is disabled or pending deletion: enable it, or give the secret another key", true
	case "InvalidRequestException":
		if strings.Contains(strings.ToLower(ae.ErrorMessage()), "deletion") {
			return "the secret is scheduled for deletion: restore it (aws secretsmanager restore-secret) or name another secret", true
		}
	}
	return "", false
}
