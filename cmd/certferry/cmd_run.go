package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"go.uber.org/zap"

	"github.com/certferry/certferry/internal/app"
	"github.com/certferry/certferry/renew"
	"github.com/certferry/certferry/scheduler"
)

// cmdRun is the daemon: a pass at start-up, then one at every scheduled time, until
// SIGINT/SIGTERM. A signal cancels the pass in flight, whose TXT records are still
// removed under a fresh context; a second signal forces the exit.
func cmdRun(ctx context.Context, args []string, _, stderr io.Writer) int {
	fs := newFlagSet("run", "[--config F]", stderr)
	cfgPath := fs.String("config", defaultConfigPath(), "configuration file")
	logLevel := fs.String("log-level", "", "debug, info, warn or error (default: the configuration's log.level)")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		fmt.Fprintf(stderr, "certferry run: %v\n", err)
		return exitUsage
	}
	level := *logLevel
	if level == "" {
		level = cfg.Log.Level
	}
	log, err := newLogger(stderr, level, cfg.Log.Format)
	if err != nil {
		fmt.Fprintf(stderr, "certferry run: %v\n", err)
		return exitUsage
	}
	defer func() { _ = log.Sync() }()
	spec := cfg.Schedule.Cron
	if spec == "" {
		host, _ := os.Hostname()
		spec = scheduler.DefaultSpec(host + cfg.ACME.Email)
	}
	sched, err := scheduler.ParseSchedule(spec, cfg.Schedule.Jitter, nil)
	if err != nil {
		fmt.Fprintf(stderr, "certferry run: %v\n", err)
		return exitUsage
	}
	a, err := app.New(ctx, cfg, log, app.Options{Version: version})
	if err != nil {
		fmt.Fprintf(stderr, "certferry run: %v\n", err)
		return exitUsage
	}
	log.Info("daemon started", zap.String("schedule", spec), zap.Int("certificates", len(cfg.Certificates)))
	scheduler.Loop(ctx, sched, true, nil, func(ctx context.Context) {
		sum, err := a.Runner.Pass(ctx, renew.Options{})
		switch {
		case err != nil:
			log.Error("pass failed", zap.Error(err))
		case sum.Failed() > 0:
			log.Error("pass finished with failures", zap.Int("failed", sum.Failed()))
		}
	})
	log.Info("daemon stopped")
	return exitOK
}
