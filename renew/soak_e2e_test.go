package renew_test

import (
	"runtime"
	"testing"

	"github.com/certferry/certferry/internal/sandbox"
	"github.com/certferry/certferry/renew"
)

// soakPasses and soakWarmup: the idle passes of one Runner that TestIdlePassesHeapFlat
// runs (as a daemon runs them, one Runner for its life), and how many of them warm up
// (caches filled, the runtime's pools grown) before the heap is first measured.
const (
	soakWarmup = 100
	soakPasses = 600
)

// TestIdlePassesHeapFlat: a daemon's Runner passes over and over (nothing due: one
// ListSecrets and the plan) without its heap growing: after warm-up, the live heap
// stays within 1 MB over 500 more passes. A leak of a few hundred bytes a pass (a
// per-pass map never emptied, a goroutine left behind) shows. Not parallel: the heap is
// the whole test binary's.
func TestIdlePassesHeapFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("hundreds of passes")
	}
	e := newEnv(t, sandbox.Options{})
	a := e.App(t, e.Config(t, certsYAML(certYAML("web", "www.example.com"))))
	e.Pass(t, a, renew.Options{})
	live := func() uint64 {
		runtime.GC()
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	var base uint64
	for i := range soakPasses {
		if i == soakWarmup {
			base = live()
		}
		if _, err := a.Runner.Pass(t.Context(), renew.Options{}); err != nil {
			t.Fatalf("pass %d: %v", i, err)
		}
	}
	after := live()
	t.Logf("live heap after %d passes: %d KB; after %d more: %d KB", soakWarmup, base>>10, soakPasses-soakWarmup, after>>10)
	if after > base+1<<20 {
		t.Errorf("the live heap grew by %d KB over %d idle passes, more than 1 MB", (after-base)>>10, soakPasses-soakWarmup)
	}
}
