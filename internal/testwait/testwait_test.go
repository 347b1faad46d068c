package testwait

import (
	"testing"
	"time"
)

func TestFor(t *testing.T) {
	for _, tc := range []struct{ d, want time.Duration }{
		{0, Factor * Step},
		{time.Second, Factor * (time.Second + Step)},
		{300 * time.Millisecond, Factor * (300*time.Millisecond + Step)},
	} {
		if got := For(tc.d); got != tc.want || got <= tc.d {
			t.Errorf("For(%s) = %s, want %s (and more than d)", tc.d, got, tc.want)
		}
	}
}
