package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/certferry/certferry/config"
	"github.com/certferry/certferry/hooks"
	"github.com/certferry/certferry/internal/app"
)

// systemConfig is the configuration the packages install, which the daemon's unit names.
const systemConfig = "/etc/certferry/config.yaml"

// configHelp is the --config flag's help: where the configuration is looked for.
const configHelp = "configuration file (default: $CERTFERRY_CONFIG, else ./certferry.yaml, else " + systemConfig + ")"

// configFlag adds --config to fs. Its default is resolved by parseFlags
// (defaultConfigPath), after the flags, so that -h and the man pages read the same on
// every machine.
func configFlag(fs *flag.FlagSet) *string { return fs.String("config", "", configHelp) }

// defaultConfigPath is $CERTFERRY_CONFIG when set; else ./certferry.yaml when it exists
// (a checkout, a laptop); else /etc/certferry/config.yaml when it exists (the packages'
// bastion, where one-shot commands then read the daemon's configuration); else
// ./certferry.yaml, whose absence loadConfig explains.
func defaultConfigPath() string {
	return configPathFrom(os.Getenv("CERTFERRY_CONFIG"), func(p string) bool {
		_, err := os.Stat(p)
		return !errors.Is(err, fs.ErrNotExist)
	})
}

// configPathFrom is defaultConfigPath with the environment variable's value and the
// file system's answer given.
func configPathFrom(env string, exists func(string) bool) string {
	if env != "" {
		return env
	}
	for _, p := range []string{"certferry.yaml", systemConfig} {
		if exists(p) {
			return p
		}
	}
	return "certferry.yaml"
}

// loadConfig reads and validates the configuration; its errors name every bad field.
// Run as root, a configuration that another user could change is refused
// (app.ConfigFileProblem): at start, at every reload and by every command.
func loadConfig(path string) (*config.Config, error) {
	cfg, err := config.Load(path, os.LookupEnv)
	if err != nil {
		return cfg, explainLoad(err, path, os.Getenv("CERTFERRY_CONFIG"))
	}
	if err := app.ConfigFileProblem(path, os.Geteuid()); err != nil {
		return nil, err
	}
	return cfg, nil
}

// explainLoad adds to an error reading the configuration at path where the path came
// from and, for the packages' file refused, how the packages mean it to be read (env is
// $CERTFERRY_CONFIG).
func explainLoad(err error, path, env string) error {
	switch {
	case errors.Is(err, fs.ErrNotExist) && env != "" && path == env:
		return fmt.Errorf("%w (the path is $CERTFERRY_CONFIG's; --config FILE overrides it)", err)
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%w (give --config FILE or set CERTFERRY_CONFIG; without either, ./certferry.yaml, else %s, is read)", err, systemConfig)
	case errors.Is(err, fs.ErrPermission) && filepath.Clean(path) == systemConfig:
		// The packages install it 0640 root:certferry: one-shot commands run as the daemon.
		return fmt.Errorf("%w (the packages' configuration is readable by the group certferry only: run the command as the daemon does, sudo certferry-as-daemon COMMAND)", err)
	}
	return err
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
		if f := fs.Lookup("config"); f != nil && f.Value.String() == "" {
			_ = f.Value.Set(defaultConfigPath())
		}
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

// flagSet reports whether the flag name was given on the command line.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}
