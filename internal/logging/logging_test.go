package logging

import (
	"bytes"
	"flag"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/certferry/certferry/config"
)

// entryTime matches a line whose own time has its date, in either format.
var entryTime = regexp.MustCompile(`^(\{"level":"info","time":"|)\d{4}-\d{2}-\d{2}T`)

// TestTimeFieldsCarryTheDate: in both formats a time field is written with its date,
// in UTC (the console format once applied a clock-only layout to fields too).
func TestTimeFieldsCarryTheDate(t *testing.T) {
	at := time.Date(2027, 3, 1, 5, 46, 24, 0, time.FixedZone("X", 2*3600))
	for _, format := range []string{"json", "console"} {
		var buf bytes.Buffer
		log, err := New(&buf, "info", format)
		if err != nil {
			t.Fatal(err)
		}
		log.Info("x", zap.Time("not_after", at))
		if !strings.Contains(buf.String(), "2027-03-01T03:46:24.000Z") {
			t.Errorf("%s: %q lacks the dated UTC time", format, buf.String())
		}
		if strings.Contains(buf.String(), "\x1b[") {
			t.Errorf("%s: colour escapes in a log that goes to no terminal: %q", format, buf.String())
		}
		if !entryTime.MatchString(buf.String()) {
			t.Errorf("%s: the entry's time has no date: %q", format, buf.String())
		}
	}
}

// TestFlagsPrecedence: a flag beats the command's default, which beats the
// configuration; a bad value is refused while parsing.
func TestFlagsPrecedence(t *testing.T) {
	cfgLog := &config.Log{Level: "error", Format: "json"}
	for _, tc := range []struct {
		args         []string
		defaultLevel string
		debug, warn  bool // enabled
	}{
		{nil, "", false, false},
		{nil, "warn", false, true},
		{[]string{"--log-level", "debug"}, "warn", true, true},
		{[]string{"--log-level", "debug"}, "", true, true},
		{[]string{"--log-level", "DEBUG", "--log-format", "JSON"}, "", true, true},
	} {
		fs := flag.NewFlagSet("x", flag.ContinueOnError)
		lf := AddFlags(fs, tc.defaultLevel)
		if err := fs.Parse(tc.args); err != nil {
			t.Fatal(err)
		}
		log, err := lf.Logger(io.Discard, cfgLog)
		if err != nil {
			t.Fatal(err)
		}
		if got := log.Core().Enabled(zap.DebugLevel); got != tc.debug {
			t.Errorf("%q default %q: debug enabled %v, want %v", tc.args, tc.defaultLevel, got, tc.debug)
		}
		if got := log.Core().Enabled(zap.WarnLevel); got != tc.warn {
			t.Errorf("%q default %q: warn enabled %v, want %v", tc.args, tc.defaultLevel, got, tc.warn)
		}
	}
	for _, args := range [][]string{{"--log-level", "loud"}, {"--log-level", ""}, {"--log-format", "xml"}} {
		fs := flag.NewFlagSet("x", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		AddFlags(fs, "")
		if err := fs.Parse(args); err == nil || !strings.Contains(err.Error(), `"`+args[1]+`"`) {
			t.Errorf("%q: err %v, want one naming the value", args, err)
		}
	}
}
