package scheduler

import (
	"testing"
	"time"
)

func TestEmergencyAt(t *testing.T) {
	t.Parallel()
	nb := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	tests := []struct {
		name     string
		lifetime time.Duration
		left     time.Duration // emergency starts with this much left
	}{
		{"90-day", 90 * day, 15 * day},
		{"45-day", 45 * day, 45 * day / 6},
		{"6-day", 6 * day, 6 * day / 4},
		{"30s", 30 * time.Second, 30 * time.Second / 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			na := nb.Add(tt.lifetime)
			want := na.Add(-tt.left)
			if got := EmergencyAt(nb, na); !got.Equal(want) {
				t.Fatalf("EmergencyAt = %s, want %s", got, want)
			}
			if InEmergency(nb, na, want.Add(-time.Nanosecond)) {
				t.Error("in emergency just before the window")
			}
			if !InEmergency(nb, na, want) {
				t.Error("not in emergency at the window's start")
			}
			if !InEmergency(nb, na, na.Add(time.Hour)) {
				t.Error("an expired certificate is not an emergency")
			}
			// Decide agrees: with an ARI window far in the future, the emergency rule is
			// the earliest timing rule.
			d := Decide(Input{
				Want:   Want{Name: "x", Domains: []string{"a.example"}},
				Stored: Stored{Exists: true, Domains: []string{"a.example"}, NotBefore: nb, NotAfter: na},
				ARI:    &Window{Start: na.Add(time.Hour), End: na.Add(2 * time.Hour)},
				Now:    nb,
			})
			if d.Reason != ReasonNotDue || !d.DueAt.Equal(want) {
				t.Errorf("Decide = %s due at %s, want not-due at %s", d.Reason, d.DueAt, want)
			}
		})
	}
	if InEmergency(time.Time{}, time.Time{}, nb) {
		t.Error("nothing known is an emergency")
	}
}
