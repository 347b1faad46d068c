// Package faults holds certferry's cross-component fault scenarios (issue 7): end-to-end
// tests that run real passes (internal/app, renew, the Route 53 provider, the Secrets
// Manager sink, hooks) against the sandbox while a fault is injected, and check that
// nothing is lost: AWSCURRENT holds a valid certificate whose key matches, no
// _acme-challenge record is left, no issued certificate is thrown away when it could be
// kept, the CA is not asked again for nothing, and no log line carries key material.
//
// The package has no code of its own: everything is in its tests.
package faults
