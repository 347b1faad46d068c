// Package e2e holds the end-to-end tests of DNS-01 beyond one zone (tests only):
// _acme-challenge delegated by CNAME (through the Route 53 API and through DNS),
// aliases, zones in other AWS accounts written through their roles, pinned zones.
// They run a whole pass on the sandbox through internal/app, as certferry renew does.
package e2e
