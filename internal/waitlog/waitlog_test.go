package waitlog

import (
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

func TestBefore(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	core, logs := observer.New(zap.InfoLevel)
	deadline := now.Add(time.Minute)
	w := New(zap.New(core), "waiting for X", deadline, clock)
	steps := []struct {
		advance time.Duration
		pause   time.Duration
		want    bool
	}{
		{0, time.Second, false},                   // 1 s of waiting: quiet
		{time.Second, 2 * time.Second, false},     // 3 s
		{2 * time.Second, 3 * time.Second, true},  // would reach 6 s: report
		{3 * time.Second, 3 * time.Second, false}, // reported 3 s ago
		{3 * time.Second, 10 * time.Second, true}, // 13 s after the report
		{10 * time.Second, time.Second, false},
	}
	for i, st := range steps {
		now = now.Add(st.advance)
		if got := w.Before(st.pause); got != st.want {
			t.Errorf("step %d: logged %v, want %v", i, got, st.want)
		}
	}
	if logs.Len() != 2 {
		t.Fatalf("%d entries, want 2", logs.Len())
	}
	e := logs.All()[0]
	f := e.ContextMap()
	if e.Message != "waiting for X" || f["waited"] != "3s" || f["next_check_in"] != "3s" || f["deadline_in"] != "57s" {
		t.Errorf("entry %q %v", e.Message, f)
	}
	var nilWait *Wait
	if nilWait.Before(time.Hour) {
		t.Error("a nil Wait logged")
	}
}
