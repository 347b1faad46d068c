package hooks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/certferry/certferry/config"
)

// Bounds on what an exec hook's output costs: each line is cut at maxLineBytes, and after
// maxStreamBytes of one stream the rest is counted and dropped.
const (
	maxLineBytes   = 1024
	maxStreamBytes = 64 << 10
	// waitDelay is how long Run waits for the output pipes after the hook's process exited
	// (or was killed): a background child that keeps them open must not hold the pass.
	waitDelay = 2 * time.Second
)

// Exec runs a program: an argv without a shell, in its own process group, with the event in
// CERTFERRY_* environment variables. On timeout the whole group is killed (SIGKILL to the
// negative process group ID), so a script's children do not outlive it. It runs in "/" with
// only Deps.BaseEnv (cmd passes PassThroughEnv of its own environment), the hook's env map
// from the configuration and the CERTFERRY_* variables (never the daemon's whole
// environment, which may hold AWS credentials). Its stdout
// and stderr go to the log line by line, bounded (1 KiB a line, 64 KiB a stream). A child it
// leaves running in the background after a successful exit is left alone (a hook may start a
// daemon); Run stops waiting for its output after 2 seconds.
type Exec struct {
	argv    []string
	timeout time.Duration
	baseEnv []string // Deps.BaseEnv with the hook's env map applied
	log     *zap.Logger
	name    string
}

var _ Hook = (*Exec)(nil)

func newExec(h config.Hook, d Deps) (*Exec, error) {
	if len(h.Exec) == 0 || h.Exec[0] == "" {
		return nil, errors.New("exec: argv is empty")
	}
	// Only the program: the arguments may hold a token (config expands ${VAR} in them), and
	// the name goes to logs, the /metrics label and the run summary.
	name := "exec:" + h.Exec[0]
	return &Exec{
		argv:    append([]string(nil), h.Exec...),
		timeout: timeoutOr(h.Timeout, config.DefaultExecTimeout),
		baseEnv: mergeEnv(d.BaseEnv, h.Env),
		log:     d.Logger.Named("hooks").With(zap.String("hook", name)),
		name:    name,
	}, nil
}

// Name returns "exec:" followed by the program (argv[0]); the arguments are never part of it.
func (e *Exec) Name() string { return e.name }

// Env returns the environment the hook runs with for ev: the base environment with the
// hook's env map applied (its values replace the base's), then CERTFERRY_NAME,
// CERTFERRY_DOMAINS (comma-joined), CERTFERRY_SECRET_ARN, CERTFERRY_VERSION_ID,
// CERTFERRY_NOT_AFTER (RFC 3339, UTC), CERTFERRY_EVENT ("renew" or "failure") and, for
// failures, CERTFERRY_ERROR. config reserves the CERTFERRY_* names, so every name appears
// once.
func (e *Exec) Env(ev Event) []string {
	env := append([]string(nil), e.baseEnv...)
	env = append(env,
		"CERTFERRY_NAME="+ev.Name,
		"CERTFERRY_DOMAINS="+strings.Join(ev.Domains, ","),
		"CERTFERRY_SECRET_ARN="+ev.SecretARN,
		"CERTFERRY_VERSION_ID="+ev.VersionID,
		"CERTFERRY_NOT_AFTER="+rfc3339(ev.NotAfter),
		"CERTFERRY_EVENT="+ev.Kind,
	)
	if ev.Kind == KindFailure || ev.Error != "" {
		env = append(env, "CERTFERRY_ERROR="+ev.Error)
	}
	return env
}

func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// ExitError is an exec hook's non-zero exit.
type ExitError struct {
	Code     int    // exit status, or -1 when killed by a signal
	Signal   string // the signal's name when killed by one
	LastLine string // the last line the hook wrote to stderr (or stdout), cut to 256 bytes
}

func (e *ExitError) Error() string {
	s := fmt.Sprintf("exit status %d", e.Code)
	if e.Signal != "" {
		s = "killed by " + e.Signal
	}
	if e.LastLine != "" {
		s += ": " + e.LastLine
	}
	return s
}

// Run starts the program and waits for it, bounded by the hook's timeout and ctx.
func (e *Exec) Run(ctx context.Context, ev Event) error {
	ctx, cancel := context.WithTimeout(ctx, e.timeout)
	defer cancel()
	log := e.log.With(zap.String("cert", ev.Name), zap.String("event", ev.Kind))

	cmd := exec.CommandContext(ctx, e.argv[0], e.argv[1:]...)
	cmd.Env = e.Env(ev)
	cmd.Dir = "/"
	cmd.SysProcAttr = procAttr()
	cmd.Cancel = func() error {
		// The process group ID is the leader's PID (Setpgid with Pgid 0).
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	cmd.WaitDelay = waitDelay
	stdout := &lineLog{log: log, stream: "stdout"}
	stderr := &lineLog{log: log, stream: "stderr"}
	cmd.Stdout, cmd.Stderr = stdout, stderr

	start := time.Now()
	err := cmd.Run()
	stdout.flush()
	stderr.flush()
	dur := time.Since(start)

	if err != nil && ctx.Err() != nil {
		// Killed by cmd.Cancel: make sure nothing of the group survives, even if the leader
		// had already exited when the deadline came.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			log.Warn("hook timed out, process group killed", zap.Duration("timeout", e.timeout))
			return fmt.Errorf("hooks: %s: timed out after %s: %w", e.name, e.timeout, ctx.Err())
		}
		return fmt.Errorf("hooks: %s: %w", e.name, ctx.Err())
	}
	var xe *exec.ExitError
	switch {
	case err == nil, errors.Is(err, exec.ErrWaitDelay):
		if err != nil {
			log.Warn("hook exited but a background process kept its output open", zap.Duration("wait_delay", waitDelay))
		}
		log.Info("hook succeeded", zap.Duration("duration", dur))
		return nil
	case errors.As(err, &xe):
		ee := &ExitError{Code: xe.ExitCode(), LastLine: stderr.last()}
		if ee.LastLine == "" {
			ee.LastLine = stdout.last()
		}
		if ws, ok := xe.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			ee.Signal = ws.Signal().String()
		}
		log.Warn("hook failed", zap.Int("exit_code", ee.Code), zap.Duration("duration", dur))
		return fmt.Errorf("hooks: %s: %w", e.name, ee)
	default:
		return fmt.Errorf("hooks: %s: start: %w", e.name, err)
	}
}

// lineLog is an io.Writer that logs each line written to it, bounded in size. os/exec copies
// each stream from one goroutine; the mutex covers flush and last from Run.
type lineLog struct {
	log     *zap.Logger
	stream  string
	mu      sync.Mutex
	buf     []byte
	total   int
	dropped int
	lastLn  string
	inKey   bool // inside a PEM private key block: its lines are withheld
	cut     cutMarkers
}

// cutMarkers is what the part of the current line cut past maxLineBytes held of a private
// key's BEGIN and END lines: a long line that ends in a key's BEGIN line (a
// progress line the hook left without a newline, then cat privkey.pem) must open the
// withheld block as a whole line would, or the key's base64 is logged line by line. tail
// is the line's last bytes before the next cut part, so a marker split by the cut or
// between two writes is found.
type cutMarkers struct {
	begin, end, key bool
	tail            []byte
}

// markerTail is one byte less than the longest marker searched ("PRIVATE KEY").
const markerTail = len(keyMarker) - 1

func (c *cutMarkers) add(kept, cut []byte) {
	if c.tail == nil {
		c.tail = append([]byte{}, kept[max(len(kept)-markerTail, 0):]...)
	}
	w := append(c.tail, cut...)
	c.begin = c.begin || bytes.Contains(w, []byte("-----BEGIN"))
	c.end = c.end || bytes.Contains(w, []byte("-----END"))
	c.key = c.key || bytes.Contains(w, []byte(keyMarker))
	c.tail = append(c.tail[:0], w[max(len(w)-markerTail, 0):]...)
}

// append adds seg to the current line, keeping maxLineBytes+1 bytes of it and noting the
// markers in the rest.
func (l *lineLog) append(seg []byte) {
	keep := min(len(seg), max(maxLineBytes+1-len(l.buf), 0))
	l.buf = append(l.buf, seg[:keep]...)
	if keep < len(seg) {
		l.cut.add(l.buf, seg[keep:])
	}
}

// keyMarker is what every PEM private key's BEGIN and END lines hold (PKCS #1, PKCS #8,
// SEC 1, encrypted, OpenSSH); redactedKeyLine is logged in their place.
const (
	keyMarker       = "PRIVATE KEY"
	redactedKeyLine = "[REDACTED: the hook printed private key material]"
)

func (l *lineLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := len(p)
	if room := maxStreamBytes - l.total; len(p) > room {
		l.dropped += len(p) - max(room, 0)
		p = p[:max(room, 0)]
	}
	l.total += len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			l.append(p)
			break
		}
		l.append(p[:i])
		l.emit()
		p = p[i+1:]
	}
	return n, nil
}

func (l *lineLog) emit() {
	whole := string(l.buf) // the markers count in all of it, and in what was cut
	line := strings.TrimRight(whole, "\r")
	if len(l.buf) > maxLineBytes {
		line = string(l.buf[:maxLineBytes]) + "...(cut)"
	}
	c := l.cut
	l.buf, l.cut = l.buf[:0], cutMarkers{}
	hasKey := c.key || strings.Contains(whole, keyMarker)
	hasBegin := c.begin || strings.Contains(whole, "-----BEGIN")
	hasEnd := c.end || strings.Contains(whole, "-----END")
	// A hook that prints key material (cat privkey.pem, an aws CLI call that reads the
	// secret) must not put it in certferry's log: a PEM private key block is withheld from
	// its BEGIN line to its END line, and any other line naming a private key (a secret's
	// JSON, with its newlines escaped) is replaced whole.
	switch {
	case l.inKey:
		if hasEnd && hasKey {
			l.inKey = false
		}
		return
	case hasKey:
		l.inKey = hasBegin && !hasEnd
		line = redactedKeyLine
	}
	l.log.Info("hook output", zap.String("stream", l.stream), zap.String("line", line))
	if strings.TrimSpace(line) != "" {
		l.lastLn = line
	}
}

func (l *lineLog) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.buf) > 0 {
		l.emit()
	}
	if l.dropped > 0 {
		l.log.Warn("hook output cut", zap.String("stream", l.stream), zap.Int("dropped_bytes", l.dropped))
	}
}

func (l *lineLog) last() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.lastLn) > 256 {
		return l.lastLn[:256] + "..."
	}
	return l.lastLn
}
