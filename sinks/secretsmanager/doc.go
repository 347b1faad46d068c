// Package secretsmanager stores certificate bundles in AWS Secrets Manager (contract 1 in
// DESIGN.md): one secret per certificate, one new version per renewal, AWSCURRENT on the
// newest certificate and AWSPREVIOUS on the one before, so a rollback is one
// update-secret-version-stage.
//
// Tags on each secret describe its current certificate (certferry:not-after,
// certferry:domains-hash, ...), so Inventory reads 100 certificates per ListSecrets call
// without reading any secret value. Writes use a ClientRequestToken derived from the
// certificate, so a retried Store is a no-op and never a second version.
//
// The sink never logs secret values, and its errors never contain them.
package secretsmanager
