package daemon_test

import (
	"time"

	"github.com/certferry/certferry/daemon"
	"github.com/certferry/certferry/internal/e2etest"
	"github.com/certferry/certferry/internal/sandbox"
	"github.com/certferry/certferry/internal/testwait"
)

// The bounds of the waits in these tests, each derived from the setting it waits on
// (internal/testwait says why).

// period is the schedule of everySecond and e2eConfig: "@every 1s".
const period = time.Second

// step bounds a wait on the daemon's own work with a fake Runner and no timer to hit:
// the start-up pass, READY and STATUS on the notify socket, a reload refused without
// reading (a FIFO, a broken file) or applied once its read returns, STOPPING.
var step = testwait.For(0)

// fakePasses bounds the wait for n scheduled passes of a fake Runner on period.
func fakePasses(n int) time.Duration { return testwait.For(time.Duration(n) * period) }

// reloadFails bounds the wait for a reload stuck in its read or build to fail at
// timeout (its Options.ReloadTimeout).
func reloadFails(timeout time.Duration) time.Duration { return testwait.For(timeout) }

// sandboxPasses bounds the wait for n passes of the real Runner against a sandbox
// started with opts on period: each waits for its tick, then takes at most
// e2etest.PassBound.
func sandboxPasses(opts sandbox.Options, n int) time.Duration {
	return time.Duration(n) * (testwait.For(period) + e2etest.PassBound(opts))
}

// beforeFirstWait bounds what a pass does before its first Route 53 wait (the order, the
// TXT record published): a pass against a sandbox whose changes are INSYNC at once.
var beforeFirstWait = sandboxPasses(sandbox.Options{}, 1)

// stopCleanup bounds the clean-up of a stopped pass (record deletes, no INSYNC wait):
// less than a whole pass against a sandbox whose changes are INSYNC at once.
var stopCleanup = e2etest.PassBound(sandbox.Options{})

// stopBound bounds the wait for Run to return after its context ends: by contract
// within its StopTimeout (TestStopBound checks it; the longest here is the default)
// plus the HTTP server's shutdown, then a step of work.
var stopBound = daemon.DefaultStopTimeout + httpShutdown + step

// httpShutdown is the bound Run gives its HTTP server's shutdown.
const httpShutdown = 5 * time.Second
