//go:build !race

package renew_test

const raceEnabled = false
