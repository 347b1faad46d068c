// Package logfield holds the zap fields certferry's logs share, so that a quantity is
// written the same way wherever it is logged.
package logfield

import (
	"fmt"
	"time"

	"go.uber.org/zap"
)

// Days writes d for a person: whole days and hours when d is a day or more ("89d 23h"),
// hours and minutes when it is an hour or more ("5h 07m"), else Go's own form rounded
// to a millisecond ("1m30s", "250ms"). A negative d gets a leading "-". Go's form of a
// certificate's remaining lifetime ("2159h47m0s") makes the reader divide by 24.
func Days(d time.Duration) string {
	if d < 0 {
		return "-" + Days(-d)
	}
	switch {
	case d >= 24*time.Hour:
		h := int64(d.Round(time.Hour) / time.Hour)
		return fmt.Sprintf("%dd %02dh", h/24, h%24)
	case d >= time.Hour:
		m := int64(d.Round(time.Minute) / time.Minute)
		if m >= 24*60 {
			return "1d 00h"
		}
		return fmt.Sprintf("%dh %02dm", m/60, m%60)
	default:
		return d.Round(time.Millisecond).String()
	}
}

// Duration is a field holding Days(d): for lifetimes, time left, windows.
func Duration(key string, d time.Duration) zap.Field {
	return zap.String(key, Days(d))
}
