package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/certferry/certferry/config"
)

// ConfigError is a configuration the Lambda cannot run: unreadable, invalid, or asking
// for local state that does not survive an invocation.
type ConfigError struct{ err error }

func (e *ConfigError) Error() string { return e.err.Error() }
func (e *ConfigError) Unwrap() error { return e.err }

// lambdaProblems lists what a valid configuration asks for that a Lambda cannot keep:
// nothing under /tmp survives, so the ACME account must live in Secrets Manager and
// certificates cannot be kept (nor inventoried) as files.
func lambdaProblems(cfg *config.Config) error {
	var errs []error
	if cfg.ACME.AccountStore.Kind == config.AccountStoreFile {
		errs = append(errs, fmt.Errorf("acme.account_store: %q keeps the ACME account on the Lambda's local disk, which does not survive the invocation (every cold start would register a new account): use account_store: secretsmanager", cfg.ACME.AccountStore.String()))
	}
	for i, c := range cfg.Certificates {
		if c.Sinks.File != nil {
			errs = append(errs, fmt.Errorf("certificates[%d].sinks.file (%s): a Lambda's disk does not survive the invocation; store the certificate in Secrets Manager only (sinks.secretsmanager)", i, c.Name))
		}
	}
	return errors.Join(errs...)
}

// ScheduleError refuses a pass whose schedule cannot keep a stored certificate valid.
type ScheduleError struct{ Problems []string }

func (e *ScheduleError) Error() string {
	return "certferry: refusing the pass: " + strings.Join(e.Problems, "; ")
}
