// Package retryafter parses the Retry-After header (RFC 9110 §10.2.3), which the ACME
// client (polls, rate limits, ARI) and the webhook hooks both honour. The standard
// library has no parser for it; this is the one place that reads it.
package retryafter

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Max is the longest wait Parse returns: a larger value is cut to it, so that a
// malformed or hostile header cannot overflow a time.Duration.
const Max = 365 * 24 * time.Hour

// Parse returns the wait v asks for at now: delay-seconds or an HTTP date (IMF-fixdate,
// RFC 850 or asctime). Absent, invalid, negative, zero or past values give 0.
func Parse(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil {
		if s <= 0 {
			return 0
		}
		return time.Duration(min(s, int64(Max/time.Second))) * time.Second
	}
	t, err := http.ParseTime(v)
	if err != nil || !t.After(now) {
		return 0
	}
	return min(t.Sub(now), Max)
}
