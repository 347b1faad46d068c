//go:build !race

package renew_test

import "testing"

const raceEnabled = false

func skipPebbleReplacesRace(*testing.T) {}
