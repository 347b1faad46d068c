package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/certferry/certferry/internal/textcut"
)

// Limit is one of the CA's issuance limits: at most N in any Window (a sliding window).
// The zero Limit is no limit. Written "N/DURATION" ("50/168h", "50/7d") or "none".
type Limit struct {
	N      int
	Window time.Duration
}

// IsZero reports whether l limits nothing.
func (l Limit) IsZero() bool { return l.N == 0 && l.Window == 0 }

// String writes l the way the file does: "300/3h", "50/7d", or "none".
func (l Limit) String() string {
	if l.IsZero() {
		return "none"
	}
	return strconv.Itoa(l.N) + "/" + formatDuration(l.Window)
}

// Bounds of a Limit: beyond them a value is a typo, not a CA's limit.
const (
	MaxLimitN      = 1_000_000
	MaxLimitWindow = 366 * 24 * time.Hour
)

// ParseLimit parses "N/DURATION" (N a whole number, DURATION as ParseDuration takes it) or
// "none". Its errors quote the input and say what to write.
func ParseLimit(s string) (Limit, error) {
	in := textcut.Cut(s)
	t := strings.TrimSpace(s)
	if t == "none" {
		return Limit{}, nil
	}
	num, dur, ok := strings.Cut(t, "/")
	if !ok {
		return Limit{}, errBadLimit(in)
	}
	num, dur = strings.TrimSpace(num), strings.TrimSpace(dur)
	if num == "" || strings.TrimLeft(num, "0123456789") != "" {
		return Limit{}, errBadLimit(in)
	}
	n, err := strconv.Atoi(num)
	if err != nil || n < 1 || n > MaxLimitN {
		return Limit{}, fmt.Errorf("%q: the count must be between 1 and %d", in, MaxLimitN)
	}
	if dur == "" {
		return Limit{}, errBadLimit(in)
	}
	w, err := ParseDuration(dur)
	if err != nil {
		return Limit{}, errBadLimit(in)
	}
	if w <= 0 || w > MaxLimitWindow {
		return Limit{}, fmt.Errorf("%q: the window must be more than 0 and at most 366d", in)
	}
	return Limit{N: n, Window: w}, nil
}

func errBadLimit(s string) error {
	return errors.New(strconv.Quote(s) + ": write N/DURATION (e.g. 50/168h or 300/3h), or none")
}

// Limits is acme.limits: the CA's limits on new orders and certificates, which a pass
// plans its orders inside (docs/pacing.md). A zero field is no limit.
type Limits struct {
	// NewOrders: new orders per account.
	NewOrders Limit
	// PerRegisteredDomain: new certificates per registered domain (the Public Suffix List's
	// eTLD+1 of each name).
	PerRegisteredDomain Limit
	// Duplicates: certificates for the same set of names.
	Duplicates Limit
}

// LimitKeys are the keys of acme.limits, in the order of Limits.Fields.
var LimitKeys = []string{"new_orders", "per_registered_domain", "duplicates"}

// Fields returns pointers to the limits in the order of LimitKeys.
func (l *Limits) Fields() []*Limit {
	return []*Limit{&l.NewOrders, &l.PerRegisteredDomain, &l.Duplicates}
}

// LetsEncryptLimits are Let's Encrypt's published limits: 300 new orders per account per
// 3 hours, 50 certificates per registered domain per 7 days, 5 per set of names per 7
// days. They are the defaults for the letsencrypt and letsencrypt-staging directories
// (staging's own limits are higher; the production values keep a rehearsal faithful).
var LetsEncryptLimits = Limits{
	NewOrders:           Limit{N: 300, Window: 3 * time.Hour},
	PerRegisteredDomain: Limit{N: 50, Window: 7 * 24 * time.Hour},
	Duplicates:          Limit{N: 5, Window: 7 * 24 * time.Hour},
}
