package config

import (
	"encoding/base64"
	"errors"
	"strings"
)

// WebhookSecretPrefix marks a webhook secret written the Standard Webhooks way: the
// prefix, then the key in base64 (what receivers' libraries generate and accept).
const WebhookSecretPrefix = "whsec_"

// WebhookKey is the HMAC key of a webhook secret: the base64-decoded rest of a
// "whsec_<base64>" secret, else the secret's own bytes. Its errors never quote the
// secret.
func WebhookKey(secret string) ([]byte, error) {
	rest, ok := strings.CutPrefix(secret, WebhookSecretPrefix)
	if !ok {
		if secret == "" {
			return nil, errors.New("empty")
		}
		return []byte(secret), nil
	}
	key, err := base64.StdEncoding.DecodeString(rest)
	if err != nil {
		// Receivers' libraries print it padded; a copy that lost its padding still decodes.
		if key, err = base64.RawStdEncoding.DecodeString(rest); err != nil {
			return nil, errors.New("starts with " + WebhookSecretPrefix + " but the rest is not base64 (value not shown)")
		}
	}
	if len(key) == 0 {
		return nil, errors.New(WebhookSecretPrefix + " with no key after it")
	}
	return key, nil
}
