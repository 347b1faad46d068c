package file

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"go.uber.org/zap"
)

// TestSaveStateContext: a state write follows its caller's context and is atomic either
// way. A context done before the write writes nothing; one that ends while the file is
// being renamed into place does not stop it half-way: the file holds the old state or
// the new one, whole, and no temporary file is left.
func TestSaveStateContext(t *testing.T) {
	t.Parallel()
	old := map[string]string{"certferry:failures": "1"}
	next := map[string]string{"certferry:failures": "2", "certferry:last-error": "x"}
	for _, tc := range []struct {
		name        string
		cancelFirst bool // cancelled before SaveState
		want        map[string]string
		wantErr     error
	}{
		{name: "cancelled before", cancelFirst: true, want: old, wantErr: context.Canceled},
		{name: "cancelled during the rename", want: next},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			s := New(zap.NewNop())
			target := Target{Dir: dir}
			if err := s.SaveState(t.Context(), target, old); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			if tc.cancelFirst {
				cancel()
			}
			s.rename = func(from, to string) error {
				cancel() // the caller gives up while the file is being put in place
				return os.Rename(from, to)
			}
			if err := s.SaveState(ctx, target, next); !errors.Is(err, tc.wantErr) {
				t.Fatalf("SaveState: %v, want %v", err, tc.wantErr)
			}
			got, err := s.LoadState(target)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("state file holds %v, want %v", got, tc.want)
			}
			ents, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range ents {
				if strings.HasSuffix(e.Name(), ".tmp") || e.Name() != StateFile {
					t.Errorf("left in the directory: %s", filepath.Join(dir, e.Name()))
				}
			}
		})
	}
}
