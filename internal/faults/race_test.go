//go:build race

package faults_test

import "testing"

// skipPebbleReplacesRace skips, under the race detector only, a test in which two orders
// replace the same certificate: Pebble v2.10.3 reads an order's IsReplaced without its
// lock while its asynchronous finalize writes it, and the detector fails every test
// running at that moment. `make test` runs these tests again without -race.
func skipPebbleReplacesRace(t *testing.T) {
	t.Helper()
	t.Skip("Pebble v2.10.3 races between finalize and a later replaces check (inside pebble); run without -race by make test")
}
