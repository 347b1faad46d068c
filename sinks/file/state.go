package file

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/certferry/certferry/internal/fileread"
)

// StateFile is the small file, next to the PEM files, that keeps the renewal state of a
// certificate with no Secrets Manager sink (its backoff, last error, challenge journal),
// so that it survives the process: a one-shot renew, a restart. Mode 0600, written
// atomically; it holds no key material (the same string map as a secret's state tags).
const StateFile = ".certferry-state.json"

// maxStateFile bounds a state file read: a few dozen short values.
const maxStateFile = 64 << 10

// LoadState reads target's state file: an empty map when there is none.
func (s *Sink) LoadState(target Target) (map[string]string, error) {
	data, err := fileread.Regular(filepath.Join(target.Dir, StateFile), maxStateFile)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]string{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("file: read state %s: %w", target.Dir, err)
	}
	m := map[string]string{}
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("file: read state %s: %s: not a state file: %w", target.Dir, StateFile, err)
	}
	return m, nil
}

// SaveState replaces target's state file with tags, atomically (a temporary file, synced,
// renamed), creating the directory as Store does. An empty map removes the file. A ctx
// done before the rename writes nothing (the temporary file is removed) and returns its
// error; once the rename has begun the write completes: the file is the old one or the
// new one, never a part of either.
func (s *Sink) SaveState(ctx context.Context, target Target, tags map[string]string) error {
	if err := s.saveState(ctx, target, tags); err != nil {
		return fmt.Errorf("file: write state %s: %w", target.Dir, err)
	}
	return nil
}

func (s *Sink) saveState(ctx context.Context, target Target, tags map[string]string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	name := filepath.Join(target.Dir, StateFile)
	if len(tags) == 0 {
		if err := os.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	}
	uid, gid, err := lookupOwner(target.Owner, target.Group)
	if err != nil {
		return err
	}
	if err := ensureDir(target.Dir, uid, gid); err != nil {
		return err
	}
	data, err := json.Marshal(tags)
	if err != nil {
		return err
	}
	tmp, err := writeTemp(target.Dir, data, KeyMode, uid, gid)
	if err != nil {
		return err
	}
	// The last point where giving up leaves nothing behind (writing and syncing the
	// temporary file may have taken a while on a slow disk).
	if err := ctx.Err(); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	if err := s.rename(tmp, name); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return syncDir(target.Dir)
}
