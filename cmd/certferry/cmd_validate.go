package main

import (
	"context"
	"fmt"
	"io"

	"github.com/certferry/certferry/internal/app"
	"github.com/certferry/certferry/internal/logging"
)

// cmdValidate checks a configuration file and touches nothing: no AWS call, no ACME
// request, no file written.
func cmdValidate(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("validate", "[--config F] [--log-level L] [--log-format F]", stderr)
	cfgPath := fs.String("config", defaultConfigPath(), "configuration file")
	// validate logs nothing; the flags are accepted (and checked) as on every command, so
	// a script can pass the same flags to each.
	logging.AddFlags(fs, "")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		fmt.Fprintf(stderr, "%v\n", err)
		return exitUsage
	}
	for _, w := range append(cfg.Warnings, app.ScheduleWarnings(cfg)...) {
		fmt.Fprintf(stderr, "warning: %s\n", w)
	}
	names := 0
	for _, c := range cfg.Certificates {
		names += len(c.Domains)
	}
	fmt.Fprintf(stdout, "%s: ok (%d certificate(s), %d name(s))\n", *cfgPath, len(cfg.Certificates), names)
	return exitOK
}
