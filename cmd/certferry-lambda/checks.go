package main

import (
	"errors"
	"strings"

	"github.com/certferry/certferry/config"
	"github.com/certferry/certferry/internal/app"
)

// ConfigError is a configuration the Lambda cannot run: unreadable, invalid, or asking
// for local state that does not survive an invocation.
type ConfigError struct{ err error }

func (e *ConfigError) Error() string { return e.err.Error() }
func (e *ConfigError) Unwrap() error { return e.err }

// lambdaProblems lists what a valid configuration asks for that a Lambda cannot keep
// (app.LambdaProblems; `certferry validate --lambda` reports the same).
func lambdaProblems(cfg *config.Config) error {
	return errors.Join(app.LambdaProblems(cfg)...)
}

// ScheduleError refuses a pass whose schedule cannot keep a stored certificate valid.
type ScheduleError struct{ Problems []string }

func (e *ScheduleError) Error() string {
	return "certferry: refusing the pass: " + strings.Join(e.Problems, "; ")
}
