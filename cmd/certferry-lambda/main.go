// Command certferry-lambda is certferry's AWS Lambda entry point: every invocation runs
// one pass (inventory, plan, orders, DNS-01, store) over the configured certificates and
// returns the pass summary as JSON.
//
// Configuration: CERTFERRY_CONFIG (see EnvConfig) names an SSM parameter, a Secrets
// Manager secret, a file, or holds the YAML itself; unset, certferry.yaml next to the
// bootstrap is read. The event is {"force": bool, "only": [names], "dry_run": bool}.
// Every pass logs its summary and prints CloudWatch Embedded Metric Format lines to
// stdout (per certificate: expiry, days left, ready; per pass: the failing count). While
// any certificate is failing or expired, every invocation then returns an error naming
// them, so the function's Errors metric counts each run until it is fixed.
//
// Nothing is kept on the local disk: the ACME account and the certificates live in
// Secrets Manager, and configurations that ask for files are refused. The pass stops
// starting new work a safety margin (CERTFERRY_SAFETY_MARGIN, default 60s) before the
// invocation's deadline, so TXT records are always removed in time.
//
// This package must never import the sandbox or test helpers; a test checks the
// binary's dependencies.
package main

import (
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/certferry/certferry/hooks"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	// aws-lambda-go prints each error payload with the standard logger: without a
	// timestamp prefix that line stays one JSON object, like every other line.
	log.SetFlags(0)
	level := zap.NewAtomicLevelAt(zap.InfoLevel)
	logger := newLogger(os.Stderr, level).With(zap.String("version", version))

	opts, err := optionsFromEnv(os.LookupEnv, executableDir())
	if err != nil {
		// Reported on every invocation rather than crash-looping the init phase.
		logger.Error("bad environment", zap.Error(err))
		lambda.Start(func() error { return err })
		return
	}
	opts.Logger, opts.Level = logger, level
	opts.Metrics = os.Stdout // CloudWatch EMF lines; the logs go to stderr
	opts.App.Version = version
	opts.App.HookEnv = hooks.PassThroughEnv(os.Environ()) // the runtime's AWS_REGION, TZ, ...; never its credentials
	logger.Info("certferry-lambda starting", zap.Stringer("config", opts.Source), zap.Duration("safety_margin", opts.Margin))
	lambda.Start(newHandler(opts))
}

// optionsFromEnv reads the function's environment.
func optionsFromEnv(getenv func(string) (string, bool), dir string) (HandlerOptions, error) {
	var opts HandlerOptions
	v, _ := getenv(EnvConfig)
	src, err := parseSource(v, dir)
	if err != nil {
		return opts, err
	}
	opts.Source = src
	opts.Margin = DefaultSafetyMargin
	if m, ok := getenv(EnvSafetyMargin); ok && m != "" {
		d, err := time.ParseDuration(m)
		if err != nil || d <= 0 {
			return opts, fmt.Errorf("%s: %q: want a positive duration such as 60s", EnvSafetyMargin, m)
		}
		opts.Margin = d
	}
	if m, ok := getenv(EnvMinOrderTime); ok && m != "" {
		d, err := time.ParseDuration(m)
		if err != nil || d <= 0 {
			return opts, fmt.Errorf("%s: %q: want a positive duration such as 2m", EnvMinOrderTime, m)
		}
		opts.App.MinOrderTime = d
	}
	return opts, nil
}

// executableDir is where the bootstrap lives (/var/task on Lambda, LAMBDA_TASK_ROOT).
func executableDir() string {
	exe, err := os.Executable()
	if err == nil {
		if r, err := filepath.EvalSymlinks(exe); err == nil {
			exe = r
		}
		return filepath.Dir(exe)
	}
	if d := os.Getenv("LAMBDA_TASK_ROOT"); d != "" {
		return d
	}
	return "."
}

// newLogger logs JSON, one object a line, to w: what CloudWatch Logs and Logs Insights
// read best.
func newLogger(w io.Writer, level zap.AtomicLevel) *zap.Logger {
	ec := zap.NewProductionEncoderConfig()
	ec.TimeKey = "time"
	ec.EncodeTime = zapcore.ISO8601TimeEncoder
	return zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(ec), zapcore.AddSync(w), level))
}
