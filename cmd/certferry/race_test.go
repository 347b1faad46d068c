//go:build race

package main

// raceEnabled: Pebble v2.10.3 itself has data races (concurrent newAccount of one key),
// which the race detector reports against whichever test is running: a test that starts
// several runners at once skips under -race, and `make test` runs it again without.
const raceEnabled = true
