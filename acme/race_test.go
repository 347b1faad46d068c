//go:build race

package acme_test

// raceEnabled: Pebble v2.10.3 itself has data races (concurrent newAccount of one key;
// its asynchronous finalize racing with a later newOrder's replaces check; a keyChange
// writing the account (db.MemoryStore.ChangeAccountKey) while another request marshals it), which the
// race detector reports against whichever test is running.
const raceEnabled = true
