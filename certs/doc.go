// Package certs holds the certificate bundle that every certferry package passes around,
// and the codec of the stored secret (docs/secret-format.md).
//
// A Bundle carries its private key as a PrivateKeyPEM, a type that prints, logs and
// marshals as "[REDACTED]" by every route (fmt, encoding/json, encoding.TextMarshaler,
// zap) so key material can never reach a log line or an error by accident; only
// PrivateKeyPEM.Bytes returns the PEM. The one deliberate exception is
// Bundle.MarshalSecret, which produces the value written to Secrets Manager.
//
// Errors of this package never contain key material nor the raw text of a stored
// secret: JSON errors give a byte offset, key errors a fixed description, and a PEM
// block of the wrong type in the certificate field is reported by position, not type.
// (Certificate parse errors from crypto/x509 may quote a certificate field; those are
// public.)
package certs
