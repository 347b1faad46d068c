package retryafter

import (
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"120", 2 * time.Minute},
		{" 7 ", 7 * time.Second},
		{"0", 0},
		{"-5", 0},
		{"Fri, 01 May 2026 12:00:30 GMT", 30 * time.Second},
		{"Friday, 01-May-26 12:01:00 GMT", time.Minute}, // RFC 850
		{"Fri May  1 12:00:10 2026", 10 * time.Second},  // asctime
		{"Fri, 01 May 2026 11:00:00 GMT", 0},            // past
		{"Fri, 01 May 2099 11:00:00 GMT", Max},          // far future: capped
		{"soon", 0},
		{"1.5", 0},
		{"99999999999", Max},        // capped
		{"99999999999999999999", 0}, // not an int64: invalid
	} {
		if got := Parse(tc.in, now); got != tc.want {
			t.Errorf("Parse(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"", "120", "-1", "Fri, 01 May 2026 12:00:30 GMT", "9223372036854775807"} {
		f.Add(s)
	}
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		if d := Parse(s, now); d < 0 || d > Max {
			t.Fatalf("Parse(%q) = %s, out of [0, %s]", s, d, Max)
		}
	})
}
