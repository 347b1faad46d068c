//go:build race

package renew_test

import "testing"

// raceEnabled: Pebble v2.10.3 itself has data races (concurrent newAccount of one key),
// which the race detector reports against whichever test is running.
const raceEnabled = true

// skipPebbleReplacesRace skips, under the race detector only, a test that orders a second
// replacement of one certificate: Pebble v2.10.3 reads an order's IsReplaced without its
// lock (wfe.validateReplacementOrder) while its asynchronous finalize writes it
// (db.UpdateReplacedOrder), and the detector fails every test running at that moment.
// `make test` runs these tests again without -race, so they always run.
func skipPebbleReplacesRace(t *testing.T) {
	t.Helper()
	t.Skip("Pebble v2.10.3 races between finalize and a later replaces check (inside pebble); run without -race by make test")
}
