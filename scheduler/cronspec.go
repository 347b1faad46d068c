package scheduler

import (
	"errors"
	"fmt"
	"strings"

	"github.com/robfig/cron/v3"
)

// ParseCron parses a standard five-field cron spec, a descriptor ("@daily",
// "@every 1h"), either optionally prefixed by "TZ=Zone " or "CRON_TZ=Zone ".
//
// robfig/cron v3.0.1 panics on a zone prefix with nothing after it ("TZ=UTC": it slices
// up to the first space, which is missing); the fuzzer found it through the config. The
// prefix is checked here first, and any other panic in the parser becomes an error, so
// a bad schedule in a configuration is reported, never a crash.
func ParseCron(spec string) (s cron.Schedule, err error) {
	for _, p := range []string{"TZ=", "CRON_TZ="} {
		if rest, ok := strings.CutPrefix(spec, p); ok {
			zone, fields, found := strings.Cut(rest, " ")
			if !found || zone == "" || strings.TrimSpace(fields) == "" {
				return nil, errors.New(`a time zone prefix needs a zone and a schedule after it, e.g. "CRON_TZ=Europe/Paris 17 3,15 * * *"`)
			}
		}
	}
	defer func() {
		if r := recover(); r != nil {
			s, err = nil, fmt.Errorf("not a cron schedule (%v)", r)
		}
	}()
	return cron.ParseStandard(spec)
}
