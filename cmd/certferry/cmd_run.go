package main

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/certferry/certferry/config"
	"github.com/certferry/certferry/daemon"
	"github.com/certferry/certferry/internal/app"
	"github.com/certferry/certferry/internal/fileread"
	"github.com/certferry/certferry/internal/logging"
	"github.com/certferry/certferry/metrics"
	"github.com/certferry/certferry/renew"
	"github.com/certferry/certferry/scheduler"
)

const runSynopsis = "[--config F] [--unhealthy-after DUR] [--log-level L] [--log-format F]"

// cmdRun is the daemon (package daemon): a pass at start-up, then on the schedule;
// /metrics and /healthz on the configured listen address; SIGHUP reloads the
// configuration (a bad one is logged and the old one kept); SIGINT/SIGTERM cancel the
// pass in flight, whose TXT records are still removed, and exit 0; a second signal
// forces the exit (main). Under systemd (Type=notify) it reports READY, STATUS,
// RELOADING, STOPPING and WATCHDOG through $NOTIFY_SOCKET.
func cmdRun(ctx context.Context, args []string, _, stderr io.Writer) int {
	fs := newFlagSet("run", runSynopsis, stderr)
	fs.Usage = usageWith(fs, stderr, "run", runSynopsis,
		`The daemon: a pass at start-up, then one on the configuration's schedule, each
renewing only what is due. Schedule left out: twice a day, at a minute and hour derived
from this machine's ID (/etc/machine-id, else the host name), so hosts spread over the
day. Serves /metrics and /healthz on listen
(default 127.0.0.1:9464). SIGHUP re-reads the configuration (a bad one is logged and the
running one kept); SIGTERM or SIGINT cancels the pass in flight, removes its DNS-01
records and exits 0; a second signal exits at once. Under systemd (Type=notify) it
reports READY, STATUS, RELOADING, STOPPING and the watchdog.

Exit codes:
  0  stopped by a signal
  2  bad configuration or usage at start-up
  3  could not start (no AWS region or credentials, listen address in use)`)
	cfgPath := configFlag(fs)
	logs := logging.AddFlags(fs, "")
	maxAge := fs.Duration("unhealthy-after", daemon.DefaultMaxPassAge, "/healthz fails when no pass has succeeded for this long (a warning at start when shorter than the schedule's longest wait between passes)")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if *maxAge < time.Minute {
		fmt.Fprintf(stderr, "certferry run: --unhealthy-after %s: must be at least 1m (how long without a successful pass before /healthz fails; default %s)\n", *maxAge, daemon.DefaultMaxPassAge)
		return exitUsage
	}
	// The logger is built from the configuration read at start-up; a reload keeps it.
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		fmt.Fprintf(stderr, "certferry run: %v\n", err)
		return exitUsage
	}
	log, err := logs.Logger(stderr, &cfg.Log)
	if err != nil {
		fmt.Fprintf(stderr, "certferry run: %v\n", err)
		return exitUsage
	}
	defer func() { _ = log.Sync() }()
	if w := healthGapWarning(cfg, *maxAge, time.Now()); w != "" {
		fmt.Fprintf(stderr, "certferry run: warning: %s\n", w)
	}

	opts := runOptions(*cfgPath, cfg, log, nil)
	opts.MaxPassAge = *maxAge
	opts.NotifySocket = os.Getenv("NOTIFY_SOCKET")
	opts.WatchdogInterval = watchdogInterval(os.Getenv("WATCHDOG_USEC"), os.Getenv("WATCHDOG_PID"))
	err = daemon.Run(ctx, opts)
	switch {
	case errors.Is(err, daemon.ErrConfig):
		log.Error("certferry run: cannot start", zap.Error(err))
		fmt.Fprintf(stderr, "certferry run: %v\n", err)
		return exitUsage
	case err != nil:
		log.Error("certferry run", zap.Error(err))
		return exitUnknown
	}
	return exitOK
}

// runOptions is how `certferry run` wires the daemon for the configuration cfg read from
// cfgPath at start-up: one metrics set and one renew.Memory for the process's life, each
// Runner built by buildRunner. now is the clock of the daemon and of its passes (nil: the
// real one; the soak test, TestDaemonSoak, passes the clock it moves).
func runOptions(cfgPath string, cfg *config.Config, log *zap.Logger, now func() time.Time) daemon.Options {
	m := metrics.New()
	mem := renew.NewMemory()
	first := true
	return daemon.Options{
		ConfigPath: cfgPath,
		Load: func(path string) (*config.Config, error) {
			if first { // already read by cmdRun
				first = false
				return cfg, nil
			}
			return loadConfig(path)
		},
		Build: func(ctx context.Context, cfg *config.Config) (daemon.Runner, error) {
			return buildRunner(ctx, cfg, log, m, mem, now)
		},
		Logger:  log,
		HostID:  hostID(machineIDFile),
		Metrics: m,
		Now:     now,
	}
}

// buildRunner builds a pass from cfg with internal/app, counting AWS requests in m. Every
// Runner shares mem, so a reload loses no certificate issued but not yet stored.
func buildRunner(ctx context.Context, cfg *config.Config, log *zap.Logger, m *metrics.Metrics, mem *renew.Memory, now func() time.Time) (daemon.Runner, error) {
	awsCfg, err := app.LoadAWS(ctx, cfg.AWS)
	if err != nil {
		return nil, err
	}
	awsCfg.APIOptions = append(awsCfg.APIOptions, m.AWSAPIOption)
	a, err := app.New(ctx, cfg, log, app.Options{AWS: &awsCfg, Version: version, OnACMERequest: m.ObserveACMERequest, OnHook: m.ObserveHook, HookEnv: hookEnv(), Memory: mem,
		CleanupTimeout: daemon.CleanupTimeout, Now: now})
	if err != nil {
		return nil, err
	}
	return idleRunner{a.Runner}, nil
}

// idleRunner hands a pass's garbage back to the system as soon as the pass is over: the
// daemon idles for hours between passes, and the runtime's background scavenger would
// keep about 4 MB of it resident meanwhile (measured by make bench).
type idleRunner struct{ *renew.Runner }

func (r idleRunner) Pass(ctx context.Context, opts renew.Options) (*renew.Summary, error) {
	defer debug.FreeOSMemory()
	return r.Runner.Pass(ctx, opts)
}

// watchdogInterval is half of $WATCHDOG_USEC when it is meant for this process.
func watchdogInterval(usec, pid string) time.Duration {
	if usec == "" {
		return 0
	}
	if pid != "" && pid != strconv.Itoa(os.Getpid()) {
		return 0
	}
	n, err := strconv.ParseInt(usec, 10, 64)
	if err != nil || n <= 0 {
		return 0
	}
	return time.Duration(n) * time.Microsecond / 2
}

// machineIDFile is systemd's machine ID, unique per installation (an AMI's instances each
// get their own at first boot), unlike host names, which fleets often share a pattern of.
const machineIDFile = "/etc/machine-id"

// hostID seeds the default schedule: the machine ID in path when it is one (32
// hexadecimal digits, not all zero, as systemd writes it), else the host name. Only its
// hash is used (scheduler.DefaultSpec), never the ID itself. "uninitialized" (an image
// not booted yet, a container without systemd), an empty file or any other text is no
// machine ID: every such host would otherwise share one schedule. The file is read
// with fileread, so a FIFO or a device there cannot hold up the start.
func hostID(path string) string {
	if b, err := fileread.Regular(path, 256); err == nil { // 33 bytes; bounded all the same
		if id := strings.TrimSpace(string(b)); machineID(id) {
			return id
		}
	}
	host, _ := os.Hostname()
	return host
}

// machineID reports whether id is a machine ID (machine-id(5)).
func machineID(id string) bool {
	if len(id) != 32 || strings.Trim(id, "0") == "" {
		return false
	}
	_, err := hex.DecodeString(id)
	return err == nil
}

// healthGapWarning says when --unhealthy-after is shorter than the longest wait between two
// scheduled passes, jitter included: /healthz would then fail between passes that all went
// well (a weekly cron under the default 36h). Checked at start only; an empty schedule (the
// default, twice a day) fits the default.
func healthGapWarning(cfg *config.Config, maxAge time.Duration, now time.Time) string {
	if cfg.Schedule.Cron == "" {
		return ""
	}
	spec, err := scheduler.ParseCron(cfg.Schedule.Cron)
	if err != nil {
		return "" // the configuration's own check says why
	}
	gap := scheduler.LongestGap(spec, now) + cfg.Schedule.Jitter
	if gap <= maxAge {
		return ""
	}
	return fmt.Sprintf("--unhealthy-after %s is shorter than the longest wait between two scheduled passes (%s, jitter included): /healthz fails between passes that went well; raise it above that", maxAge, gap)
}
