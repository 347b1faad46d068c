// Package fileread reads the small files certferry is given (its configuration, CA
// bundles, PEM files of a file sink, account files) within bounds: only a regular file,
// never more than a limit. A path that names a FIFO with no writer, a device such as
// /dev/zero, or a multi-gigabyte file then costs an error, not a blocked daemon or its
// memory.
package fileread

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"syscall"
)

// NotRegularError says that a path is not a regular file, and what it is instead.
type NotRegularError struct {
	Path string
	Kind string // "a named pipe (FIFO)", "a character device", "a directory", ...
}

func (e *NotRegularError) Error() string {
	return e.Path + ": " + e.Kind + ", not a regular file"
}

// TooBigError says that a file is over the limit. Size is "N bytes", or "more than N
// bytes" when the file grew while it was read.
type TooBigError struct {
	Path  string
	Size  string
	Limit int64
}

func (e *TooBigError) Error() string {
	return fmt.Sprintf("%s: file is %s; the limit is %d", e.Path, e.Size, e.Limit)
}

// Regular returns the content of path, which must be a regular file of at most limit
// bytes (symbolic links are followed). It refuses anything else before reading it:
// the path is checked with Stat, opened with O_NONBLOCK (so that even a FIFO swapped in
// after the Stat does not block the open), and the opened file is checked again. At
// most limit+1 bytes are read, whatever the file's size says. Errors name the path;
// a missing file matches fs.ErrNotExist.
func Regular(path string, limit int64) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if err := regular(path, fi); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err = f.Stat(); err != nil {
		return nil, err
	}
	if err := regular(path, fi); err != nil {
		return nil, err
	}
	if fi.Size() > limit {
		return nil, &TooBigError{Path: path, Size: strconv.FormatInt(fi.Size(), 10) + " bytes", Limit: limit}
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, &fs.PathError{Op: "read", Path: path, Err: err}
	}
	if int64(len(data)) > limit {
		return nil, &TooBigError{Path: path, Size: "more than " + strconv.FormatInt(limit, 10) + " bytes", Limit: limit}
	}
	return data, nil
}

func regular(path string, fi fs.FileInfo) error {
	m := fi.Mode()
	if m.IsRegular() {
		return nil
	}
	kind := "of mode " + m.String()
	switch {
	case m.IsDir():
		kind = "a directory"
	case m&fs.ModeNamedPipe != 0:
		kind = "a named pipe (FIFO)"
	case m&fs.ModeCharDevice != 0:
		kind = "a character device"
	case m&fs.ModeDevice != 0:
		kind = "a block device"
	case m&fs.ModeSocket != 0:
		kind = "a socket"
	}
	return &NotRegularError{Path: path, Kind: kind}
}
