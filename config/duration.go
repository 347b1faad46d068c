package config

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/certferry/certferry/internal/textcut"
)

// ParseDuration parses a Go duration string ("90m", "1h30m") that may start with a whole number of
// days ("30d", "1d12h"). Negative durations are accepted here; callers check ranges.
func ParseDuration(s string) (time.Duration, error) {
	in := textcut.Cut(s) // the input as the errors quote it
	s = strings.TrimSpace(s)
	neg := false
	rest := s
	if strings.HasPrefix(rest, "-") {
		neg, rest = true, rest[1:]
	} else {
		rest = strings.TrimPrefix(rest, "+")
	}
	if i := strings.IndexByte(rest, 'd'); i >= 0 {
		days, err := strconv.ParseUint(rest[:i], 10, 64)
		if err != nil || i == 0 {
			return 0, errBadDuration(in)
		}
		if days > uint64(math.MaxInt64/int64(24*time.Hour)) {
			return 0, fmt.Errorf("%q: too long", in)
		}
		d := time.Duration(days) * 24 * time.Hour
		if tail := rest[i+1:]; tail != "" {
			if strings.HasPrefix(tail, "-") || strings.HasPrefix(tail, "+") {
				return 0, errBadDuration(in)
			}
			t, err := time.ParseDuration(tail)
			if err != nil {
				return 0, errBadDuration(in)
			}
			if d > math.MaxInt64-t {
				return 0, fmt.Errorf("%q: too long", in)
			}
			d += t
		}
		if neg {
			d = -d
		}
		return d, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		if strings.Contains(err.Error(), "invalid duration") || strings.Contains(err.Error(), "missing unit") || strings.Contains(err.Error(), "unknown unit") {
			return 0, errBadDuration(in)
		}
		// The time package's message quotes the whole input: keep only its reason.
		msg := strings.TrimPrefix(err.Error(), "time: ")
		if i := strings.IndexByte(msg, '"'); i > 0 {
			msg = strings.TrimSpace(msg[:i])
		}
		return 0, fmt.Errorf("%q: %s", in, msg)
	}
	return d, nil
}

func errBadDuration(s string) error {
	return errors.New(strconv.Quote(s) + ": not a duration (write e.g. 30d, 12h, 90m or 1h30m)")
}

// formatDuration writes d the way the example file does: whole days as "30d", else Go's form
// trimmed of zero units ("10m", "1h30m").
func formatDuration(d time.Duration) string {
	if d != 0 && d%(24*time.Hour) == 0 {
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}
