//go:build !race

package faults_test

import "testing"

func skipPebbleReplacesRace(*testing.T) {}
