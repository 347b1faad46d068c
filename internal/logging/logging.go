// Package logging builds the zap logger of certferry's commands from --log-level,
// --log-format and the configuration's log section, one way for every command.
package logging

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/certferry/certferry/config"
)

// TimeLayout is how every time is written, the entry's own and every time field
// (not_after, deadlines): RFC 3339 in UTC with milliseconds, so a line read on
// another machine or a day later still says which day it speaks of.
const TimeLayout = "2006-01-02T15:04:05.000Z07:00"

// EncodeTime writes t in UTC with TimeLayout.
func EncodeTime(t time.Time, enc zapcore.PrimitiveArrayEncoder) {
	enc.AppendString(t.UTC().Format(TimeLayout))
}

// Flags are --log-level and --log-format, which every command has. Empty means the
// command's default level, then the configuration's log section.
type Flags struct {
	Level, Format string
	defaultLevel  string
}

// AddFlags registers --log-level and --log-format on fs. defaultLevel is the level
// when the flag is left out; empty means the configuration's log.level.
func AddFlags(fs *flag.FlagSet, defaultLevel string) *Flags {
	lf := &Flags{defaultLevel: defaultLevel}
	def := defaultLevel
	if def == "" {
		def = "the configuration's log.level"
	}
	// Checked as they are parsed, so a bad value is a usage error before anything runs.
	fs.Func("log-level", "debug, info, warn or error (default: "+def+")", func(v string) error {
		v = strings.ToLower(v)
		if _, err := parseLevel(v); err != nil {
			return err
		}
		lf.Level = v
		return nil
	})
	fs.Func("log-format", "auto, json or console (default: the configuration's log.format; auto is console on a terminal, json otherwise)", func(v string) error {
		v = strings.ToLower(v)
		if !validFormat(v) {
			return formatError(v)
		}
		lf.Format = v
		return nil
	})
	return lf
}

func parseLevel(level string) (zapcore.Level, error) {
	var lvl zapcore.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil || level == "" {
		return lvl, fmt.Errorf("log level %q: want debug, info, warn or error", level)
	}
	return lvl, nil
}

func validFormat(f string) bool { return f == "auto" || f == "json" || f == "console" }

func formatError(f string) error {
	return fmt.Errorf("log format %q: want auto, json or console", f)
}

// Logger builds the logger from the flags, falling back to the command's default level
// and to the configuration's log section (cfg may be nil: a command without one).
func (lf *Flags) Logger(w io.Writer, cfg *config.Log) (*zap.Logger, error) {
	level, format := lf.Level, lf.Format
	if level == "" {
		level = lf.defaultLevel
	}
	if cfg != nil {
		if level == "" {
			level = cfg.Level
		}
		if format == "" {
			format = cfg.Format
		}
	}
	return New(w, level, format)
}

// New builds the process's one logger. Logs go to w (stderr): JSON, one object a
// line, when w is not a terminal (journald, CloudWatch, a pipe), a console format when a
// person is watching. format "json" or "console" forces one.
func New(w io.Writer, level, format string) (*zap.Logger, error) {
	if level == "" {
		level = "info"
	}
	lvl, err := parseLevel(level)
	if err != nil {
		return nil, err
	}
	if format == "" || format == "auto" {
		format = "json"
		if isTerminal(w) {
			format = "console"
		}
	}
	ec := zap.NewProductionEncoderConfig()
	ec.TimeKey = "time"
	// One encoder for the entry's time and for time fields: the console encoder applies
	// EncodeTime to both, so a clock-only layout would drop the date of not_after too.
	ec.EncodeTime = EncodeTime
	var enc zapcore.Encoder
	switch format {
	case "json":
		enc = zapcore.NewJSONEncoder(ec)
	case "console":
		// Colours only for a person at a terminal: a console log piped to a file or less
		// would carry escape codes.
		ec.EncodeLevel = zapcore.CapitalLevelEncoder
		if isTerminal(w) {
			ec.EncodeLevel = zapcore.CapitalColorLevelEncoder
		}
		ec.EncodeDuration = zapcore.StringDurationEncoder
		enc = zapcore.NewConsoleEncoder(ec)
	default:
		return nil, formatError(format)
	}
	// Lock: a pass logs from several goroutines, and w need not be safe for concurrent use.
	return zap.New(zapcore.NewCore(enc, zapcore.Lock(zapcore.AddSync(w)), lvl)), nil
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
