package logfield

import (
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

func TestDays(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"},
		{250 * time.Millisecond, "250ms"},
		{90 * time.Second, "1m30s"},
		{time.Hour, "1h 00m"},
		{5*time.Hour + 7*time.Minute + 20*time.Second, "5h 07m"},
		{24*time.Hour - 10*time.Second, "1d 00h"},
		{24 * time.Hour, "1d 00h"},
		{2159*time.Hour + 47*time.Minute, "90d 00h"},
		{2158*time.Hour + 29*time.Minute, "89d 22h"},
		{6 * 24 * time.Hour, "6d 00h"},
		{-36 * time.Hour, "-1d 12h"},
		{-2 * time.Second, "-2s"},
	} {
		if got := Days(tc.d); got != tc.want {
			t.Errorf("Days(%s) = %q, want %q", tc.d, got, tc.want)
		}
	}
}

func TestDurationField(t *testing.T) {
	core, logs := observer.New(zap.InfoLevel)
	zap.New(core).Info("x", Duration("left", 89*24*time.Hour+23*time.Hour))
	if got := logs.All()[0].ContextMap()["left"]; got != "89d 23h" {
		t.Errorf("left = %v, want 89d 23h", got)
	}
}
