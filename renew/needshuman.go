package renew

import (
	"errors"
	"fmt"
	"strings"

	"github.com/aws/smithy-go"
)

// storeRefusedPrefix starts the error of a store refused for good (fail), and so the
// certificate's recorded last error while it waits its day: a later run reads from it
// that the failure needs a human (Result.NeedsHuman).
const storeRefusedPrefix = "it needs a human: "

// storeNeedsHuman reports whether a failed store is one that retrying cannot fix (a role
// missing a permission, the secret's KMS key disabled or not usable by the role, the
// secret scheduled for deletion meanwhile), and says what a human has to do. Such a
// failure waits a day, as a CA's permanent refusal does: each retry after an ordinary
// backoff would order and issue again and throw the certificate away. secret, when set,
// is named.
func storeNeedsHuman(err error, secret string) (what string, ok bool) {
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
	on := "the secret"
	if secret != "" {
		on = fmt.Sprintf("the secret %q", secret)
	}
	switch ae.ErrorCode() {
	case "AccessDeniedException", "AccessDenied":
		return fmt.Sprintf("the role is not allowed %s on %s: grant it (deploy/iam)", op, on), true
	case "KMSAccessDeniedException":
		return fmt.Sprintf("the role may not use the KMS key of %s (kms:GenerateDataKey, kms:Decrypt through Secrets Manager): grant it in the key policy or the role (deploy/iam)", on), true
	case "KMSDisabledException", "KMSInvalidStateException":
		return fmt.Sprintf("the KMS key of %s is disabled or pending deletion: enable it, or give the secret another key", on), true
	case "InvalidRequestException":
		if strings.Contains(strings.ToLower(ae.ErrorMessage()), "deletion") {
			return fmt.Sprintf("%s is scheduled for deletion: restore it (aws secretsmanager restore-secret) or name another secret", on), true
		}
	}
	return "", false
}

// unverifiedError is a certificate the CA issued that does not verify against the roots
// certferry checks with (acme.issuer_roots, or the system's): the roots are wrong (the
// TLS roots named instead, another CA's) or the host's clock is, so the next order's
// certificate would not verify either. It waits a day, as storeNeedsHuman's failures do.
type unverifiedError struct{ err error }

func (e *unverifiedError) Error() string { return "verify issued certificate: " + e.err.Error() }
func (e *unverifiedError) Unwrap() error { return e.err }
