// Package testwait is the one place the suite's waits come from. A test that waits for
// something derives its bound from what it waits on (a schedule period, a hook's
// timeout, the sandbox's Route 53 delay) with For, never from a guess at how fast the
// machine is: the suite runs on loaded 2-core machines, with the race detector, beside
// other suites, and must never flake. A real hang still fails within minutes, and
// `go test -timeout` is the backstop.
//
// Only tests import it.
package testwait

import "time"

// Factor is how many times its expected duration a test lets an awaited thing take.
const Factor = 30

// Step is the expected duration of work that waits on no timer and no remote peer: a
// few goroutine hand-offs, a metric update, a datagram on a local socket, parsing a
// bounded document, starting a local process and its listener. It is generous for
// that work on an idle machine; Factor covers the load.
const Step = time.Second

// For bounds a wait on something expected to take d by its settings (timers, schedule
// periods, a timeout it must hit) plus a step of work, times Factor.
func For(d time.Duration) time.Duration { return Factor * (d + Step) }
