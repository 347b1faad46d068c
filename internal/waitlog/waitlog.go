// Package waitlog reports, at info level, a wait that lasts: what is waited on, how long
// so far and until when. A pass can spend minutes waiting for Route 53 or the CA, and
// an operator watching the log at its default level should see why it is quiet.
package waitlog

import (
	"time"

	"go.uber.org/zap"

	"github.com/certferry/certferry/internal/logfield"
)

// Defaults: the first report once a wait has lasted After, then one every Every.
const (
	After = 5 * time.Second
	Every = 15 * time.Second
)

// Wait is one wait. Its zero value logs nothing; make it with New.
type Wait struct {
	log      *zap.Logger
	msg      string
	start    time.Time
	deadline time.Time // zero: none
	now      func() time.Time
	next     time.Time
}

// New starts a wait described by msg (say what is waited on: "waiting for Route 53 to
// report the change INSYNC"). deadline may be zero; now nil means time.Now.
func New(log *zap.Logger, msg string, deadline time.Time, now func() time.Time) *Wait {
	if now == nil {
		now = time.Now
	}
	start := now()
	return &Wait{log: log, msg: msg, start: start, deadline: deadline, now: now, next: start.Add(After)}
}

// Before is called before each pause of d: it logs when the wait, with this pause, will
// have lasted After or more and the last report is Every old. It returns whether it
// logged.
func (w *Wait) Before(d time.Duration, fields ...zap.Field) bool {
	if w == nil || w.log == nil {
		return false
	}
	now := w.now()
	if now.Add(d).Before(w.next) {
		return false
	}
	fs := append(fields, logfield.Duration("waited", now.Sub(w.start)), logfield.Duration("next_check_in", d))
	if !w.deadline.IsZero() {
		fs = append(fs, zap.Time("deadline", w.deadline), logfield.Duration("deadline_in", w.deadline.Sub(now).Round(time.Second)))
	}
	w.log.Info(w.msg, fs...)
	w.next = now.Add(Every)
	return true
}
