package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/certferry/certferry/config"
	"github.com/certferry/certferry/hooks"
)

// defaultConfigPath is $CERTFERRY_CONFIG when set, else ./certferry.yaml.
func defaultConfigPath() string {
	if p := os.Getenv("CERTFERRY_CONFIG"); p != "" {
		return p
	}
	return "certferry.yaml"
}

// loadConfig reads and validates the configuration; its errors name every bad field.
func loadConfig(path string) (*config.Config, error) {
	return config.Load(path, os.LookupEnv)
}

// newFlagSet returns a FlagSet that prints its usage to stderr and never exits.
func newFlagSet(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("certferry "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: certferry %s %s\n\nFlags:\n", name, synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args; when it returns ok false the command exits with code: 0
// after -h (the help was printed), 2 for a bad flag.
func parseFlags(fs *flag.FlagSet, args []string) (code int, ok bool) {
	err := fs.Parse(args)
	switch {
	case err == nil:
		return 0, true
	case errors.Is(err, flag.ErrHelp):
		return exitOK, false
	default:
		return exitUsage, false
	}
}

// stringList is a repeatable flag.
type stringList []string

func (s *stringList) String() string     { return fmt.Sprint(*s) }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// hookEnv is the base environment of exec hooks: a fixed PATH plus the allowlisted
// variables of certferry's own environment (hooks.PassThroughEnv: AWS region, profile and
// endpoint settings, TZ, LANG, LC_*), never its credentials.
func hookEnv() []string { return hooks.PassThroughEnv(os.Environ()) }

// usageWith returns a usage function that prints the synopsis, a description (exit
// codes, ...) and the flags.
func usageWith(fs *flag.FlagSet, stderr io.Writer, name, synopsis, text string) func() {
	return func() {
		fmt.Fprintf(stderr, "Usage: certferry %s %s\n\n%s\n\nFlags:\n", name, synopsis, text)
		fs.PrintDefaults()
	}
}
