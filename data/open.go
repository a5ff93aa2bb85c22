package data

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// ErrNotRegular is wrapped by errors about a data path that names a device,
// a FIFO, a socket or another special file where a regular file or folder
// is required (data named by a model file is followed only to those).
var ErrNotRegular = errors.New("not a regular file")

// fileKind names the type of a non-regular file for an error.
func fileKind(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a device"
	case m.IsDir():
		return "a folder"
	}
	return "a special file"
}

// openRegular opens path for reading only when it is a regular file (after
// following symlinks): it is checked with stat before the open, opened
// with O_NONBLOCK so that a FIFO swapped in meanwhile cannot block, and
// checked again on the open file. Errors name path.
func openRegular(path string) (*os.File, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, &fs.PathError{Op: "open", Path: path, Err: fmt.Errorf("%w: %s", ErrNotRegular, fileKind(st.Mode()))}
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	if st, err = f.Stat(); err != nil || !st.Mode().IsRegular() {
		f.Close()
		if err == nil {
			err = &fs.PathError{Op: "open", Path: path, Err: fmt.Errorf("%w: %s", ErrNotRegular, fileKind(st.Mode()))}
		}
		return nil, err
	}
	return f, nil
}

// regularFS is a folder whose files open only when regular (openRegular).
type regularFS string

// Open opens name inside the folder; it implements fs.FS.
func (d regularFS) Open(name string) (fs.File, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrInvalid}
	}
	return openRegular(filepath.Join(string(d), filepath.FromSlash(name)))
}

// checkFolder requires path to be a folder (after following symlinks).
func checkFolder(path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	switch {
	case st.Mode().IsRegular():
		return &fs.PathError{Op: "open", Path: path, Err: errors.New("is a file, want a folder")}
	case !st.IsDir():
		return &fs.PathError{Op: "open", Path: path, Err: fmt.Errorf("%w: %s, want a folder", ErrNotRegular, fileKind(st.Mode()))}
	}
	return nil
}
