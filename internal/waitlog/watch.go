package waitlog

import (
	"context"
	"net/http"
	"sync"
	"time"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go/middleware"
	"go.uber.org/zap"

	"github.com/certferry/certferry/internal/logfield"
)

// A single call that hangs (a CA's request cut off only after 90 s, an AWS operation the
// SDK retries three times with two minutes each) is as quiet as a poll loop would be
// without Wait. Watch reports it: once it has lasted CallAfter, then every CallEvery,
// until it returns.
const (
	CallAfter = 5 * time.Second
	CallEvery = 30 * time.Second
)

// Watch logs msg with fields at info level once the call has lasted after, then every
// every, until the returned stop is called. It starts no goroutine of its own until a
// report is due (a timer), so a fast call costs one timer.
func Watch(log *zap.Logger, after, every time.Duration, msg string, fields ...zap.Field) (stop func()) {
	if log == nil {
		return func() {}
	}
	start := time.Now()
	var (
		mu   sync.Mutex
		done bool
		t    *time.Timer
	)
	var report func()
	report = func() {
		mu.Lock()
		defer mu.Unlock()
		if done {
			return
		}
		log.Info(msg, append(fields, logfield.Duration("waited", time.Since(start).Round(time.Second)))...)
		t = time.AfterFunc(every, report)
	}
	mu.Lock()
	t = time.AfterFunc(after, report)
	mu.Unlock()
	return func() {
		mu.Lock()
		defer mu.Unlock()
		done = true
		t.Stop()
	}
}

// Transport wraps base so that a request that has no answer after `after` is reported
// (Watch, then every `every`) as "still waiting for an answer" from service, with the
// method, host and path. Callers pass CallAfter and CallEvery.
func Transport(base http.RoundTripper, log *zap.Logger, service string, after, every time.Duration) http.RoundTripper {
	return watchedTransport{base: base, log: log, service: service, after: after, every: every}
}

type watchedTransport struct {
	base         http.RoundTripper
	log          *zap.Logger
	service      string
	after, every time.Duration
}

func (w watchedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	stop := Watch(w.log, w.after, w.every, "still waiting for an answer from the "+w.service,
		zap.String("method", req.Method), zap.String("host", req.URL.Host), zap.String("path", req.URL.Path))
	defer stop()
	return w.base.RoundTrip(req)
}

// AWSOption is an aws.Config APIOptions entry that reports an AWS operation (all its
// attempts: it runs before the SDK's retry step) that has not returned after `after`,
// then every `every`, naming the service and the operation. Callers pass CallAfter and
// CallEvery.
func AWSOption(log *zap.Logger, after, every time.Duration) func(*middleware.Stack) error {
	return func(stack *middleware.Stack) error {
		return stack.Finalize.Add(middleware.FinalizeMiddlewareFunc("certferryWaitLog",
			func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
				stop := Watch(log, after, every, "still waiting for AWS to answer",
					zap.String("service", awsmiddleware.GetServiceID(ctx)), zap.String("operation", awsmiddleware.GetOperationName(ctx)))
				defer stop()
				return next.HandleFinalize(ctx, in)
			}), middleware.Before)
	}
}
