package lease

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Keep renews the lease every heartbeat, in a goroutine, until stop is called. The
// returned context is ctx, cancelled when the lease is lost, with a cause that wraps
// ErrLost (context.Cause): another runner took it over, or it could not be renewed
// before it expired. A renewal that fails otherwise (a throttle, a timeout) is tried
// again on the next beat; a heartbeat of a third of the duration leaves room for two
// such failures. stop waits for the goroutine and is safe to call more than once.
func (l *Lease) Keep(ctx context.Context) (kept context.Context, stop func()) {
	kctx, cancel := context.WithCancelCause(ctx)
	quit := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(l.m.opts.Heartbeat)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-kctx.Done():
				return
			case <-t.C:
			}
			err := l.Renew(kctx)
			switch {
			case err == nil, kctx.Err() != nil:
			case errors.Is(err, ErrLost):
				cancel(err)
				return
			case !l.m.opts.Now().Before(l.Expires()):
				cancel(fmt.Errorf("lease: %s: not renewed before it expired (%w): %w", l.key, ErrLost, err))
				return
			}
		}
	}()
	var once sync.Once
	return kctx, func() {
		once.Do(func() {
			close(quit)
			<-done
			cancel(context.Canceled)
		})
	}
}
