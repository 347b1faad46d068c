//go:build race

package renew_test

// raceEnabled: Pebble v2.10.3 itself has data races (concurrent newAccount of one key),
// which the race detector reports against whichever test is running.
const raceEnabled = true
