// Package faults holds certferry's fault scenarios, the one home for them: end-to-end
// tests that run real passes (internal/app, renew, acme, the Route 53 provider, the
// Secrets Manager sink, hooks) against the sandbox while a fault is injected (the CA:
// acme_test.go; Route 53, Secrets Manager, hooks: the other files), and check that
// nothing is lost: AWSCURRENT holds a valid certificate whose key matches, no
// _acme-challenge record is left, no issued certificate is thrown away when it could be
// kept, the CA is not asked again for nothing, and no log line carries key material.
//
// The package has no code of its own: everything is in its tests.
package faults
