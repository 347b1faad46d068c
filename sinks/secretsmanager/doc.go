// Package secretsmanager stores certificate bundles in AWS Secrets Manager
// (docs/secret-format.md describes the value, the tags and the versions): one secret per
// certificate, one new version per renewal, AWSCURRENT on the newest certificate and
// AWSPREVIOUS on the one before, so a rollback is one update-secret-version-stage.
//
// Tags on each secret describe its current certificate (certferry:not-after,
// certferry:domains-hash, ...), so Inventory reads 100 certificates per ListSecrets call
// without reading any secret value. Every tag, how it is written and how it is read, is
// in tags.go: no other package spells a certferry: tag. Writes use a ClientRequestToken
// derived from the certificate, so a retried Store is a no-op and never a second version.
// Save writes the value alone and WriteTags the tags, each in as few calls as it can
// (one TagResource both sets and clears tags), so a caller writes each once per pass.
//
// Concurrent runners: a write is a compare-and-swap. The new version is put with the
// StagePending label only, then UpdateSecretVersionStage moves AWSCURRENT to it with
// RemoveFromVersionId set to the version read before the write, which Secrets Manager
// refuses if AWSCURRENT moved meanwhile. The loser re-reads: when the winner's
// certificate is as good (same names and key type, at least 9/10 of the remaining
// lifetime), it is kept and Store returns a *LostRaceError; otherwise the swap is retried
// against the new version, under the usual guards. StoreOptions.Expect extends the same
// check back to when the caller planned the renewal, so a runner that finishes after the
// winner's write is complete does not replace it either. Both runners may still have
// ordered a certificate: avoiding the second order needs a lease taken before ordering,
// and tags cannot be one (TagResource is a blind last-writer-wins write, with no
// condition), so certferry relies on the issuance guard and this swap instead.
//
// PutSecretValue refused with LimitExceededException (the version quota) is retried
// Options.MaxAttempts times (each through the client's own retryer, which counts the code
// as throttling: 3 x 3 requests with the SDK's defaults), then fails with ErrVersionQuota; the stored versions are
// untouched.
//
// The sink never logs secret values, and its errors never contain them.
package secretsmanager
