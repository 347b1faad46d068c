package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"
)

// Overall bounds of the one-shot commands (--timeout): a command run by hand, from cron
// or from a script must end even when an AWS call hangs (the SDK allows three attempts
// of two minutes each) or the CA does not answer. A command that only reads gets what
// status gets; one that writes at the CA or in AWS gets room for its real work, measured
// in seconds, behind a slow answer or a CA's Retry-After.
const (
	defaultReadTimeout  = defaultStatusTimeout // status, account show, persist plan
	defaultWriteTimeout = 5 * time.Minute      // revoke, retire, account update/rollover/deactivate
	// defaultOrderTimeout is revoke --renew's and persist apply's: they wait for Route 53
	// to report a change INSYNC, and --renew for a whole order, which renew bounds by its
	// order timeout (20 minutes by default) after an INSYNC wait (10).
	defaultOrderTimeout = 35 * time.Minute
)

// timeoutFlag adds --timeout to fs. Its zero default stands for the command's own,
// which help describes ("5m; 30m with --renew").
func timeoutFlag(fs *flag.FlagSet, help string) *time.Duration {
	return fs.Duration("timeout", 0, "give up (exit 3) when the command has not finished within this long (a hung AWS or CA call); default "+help)
}

// errTimeout is the cause of a command's context when --timeout ended it.
type errTimeout struct {
	cmd string
	d   time.Duration
}

func (e errTimeout) Error() string {
	return fmt.Sprintf("certferry %s: not done within --timeout %s", e.cmd, e.d)
}

// withTimeout bounds ctx by the --timeout given (d; def when it was not given). ok is
// false, with the reason on stderr, for a --timeout of 0 or less.
func withTimeout(ctx context.Context, fs *flag.FlagSet, cmd string, d, def time.Duration, stderr io.Writer) (context.Context, context.CancelFunc, bool) {
	if !flagSet(fs, "timeout") {
		d = def
	} else if d <= 0 {
		fmt.Fprintf(stderr, "certferry %s: --timeout %s: must be more than 0\n", cmd, d)
		return ctx, func() {}, false
	}
	ctx, cancel := context.WithTimeoutCause(ctx, d, errTimeout{cmd: cmd, d: d})
	return ctx, cancel, true
}

// bound is withTimeout for a command whose exit code is its named result: finish,
// deferred with that result, releases the context and maps the code (timedOut).
func bound(ctx context.Context, fs *flag.FlagSet, cmd string, d, def time.Duration, stderr io.Writer) (context.Context, func(*int), bool) {
	bctx, cancel, ok := withTimeout(ctx, fs, cmd, d, def, stderr)
	if !ok {
		return ctx, nil, false
	}
	return bctx, func(code *int) { cancel(); *code = timedOut(bctx, *code, stderr) }, true
}

// timedOut is the exit code of a command whose work returned code: exit 3 when its
// --timeout ended it, with a line that says so after the error (printed by the command,
// naming the call that did not answer), whatever code the failed call mapped to.
func timedOut(ctx context.Context, code int, stderr io.Writer) int {
	var e errTimeout
	if code == exitOK || !errors.As(context.Cause(ctx), &e) {
		return code
	}
	fmt.Fprintf(stderr, "%v: gave up waiting on the call named above (exit 3); what it had done before that call stands\n", e)
	return exitUnknown
}
