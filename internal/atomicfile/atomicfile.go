// Package atomicfile writes files so that readers never see a partial one:
// the bytes go to a temporary file in the same folder, which is synced and
// renamed over the target. On error the target is untouched and no
// temporary file is left behind.
//
// Outputs are not trusted blindly: an existing path that is not a regular
// file (a symlink, a device, a FIFO, a folder) or a regular file with more
// than one hard link is refused (ErrNotRegular) unless Options.WriteThrough
// is set, and CheckOutput refuses an output that is one of the command's
// inputs (ErrSameFile).
//
// Temporary files are named ".NAME.tmp-PID-RANDOM" and held under an
// exclusive advisory lock (flock) while written. A write removes the
// temporaries a killed writer left for the same NAME: those whose lock is
// free and whose PID is not a live process. A live writer's file is never
// taken.
package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// ErrNotRegular is wrapped by errors about an output path that exists and
// is not a plain regular file.
var ErrNotRegular = errors.New("exists and is not a regular file (give --write-through to write to what it names)")

// ErrSameFile is wrapped by errors about an output that is one of the
// command's inputs.
var ErrSameFile = errors.New("is also an input of the command")

// Options modify how a file is written.
type Options struct {
	// WriteThrough writes to what an existing non-regular path names: a
	// symlink is followed (and its target replaced atomically when that is
	// a regular file), a device, a FIFO or a hard-linked file is opened
	// and written in place (not atomic). A folder is always refused.
	WriteThrough bool
}

// WriteFile writes b to path atomically with mode 0644, with the default
// Options. Errors come from the os package and name the file involved.
func WriteFile(path string, b []byte) error { return Options{}.WriteFile(path, b) }

// CheckOutput checks an output path before any work is done, with the
// default Options: see Options.CheckOutput.
func CheckOutput(out string, inputs ...string) error { return Options{}.CheckOutput(out, inputs...) }

// CheckOutput reports whether out may be written: it must not be an
// existing non-regular file (unless WriteThrough) and must not be the same
// file as any of inputs (compared with os.SameFile after following links,
// so a hard link or a symlink to an input is caught too). Inputs that do
// not exist (such as "mnist-mini") are ignored. Errors name out.
func (o Options) CheckOutput(out string, inputs ...string) error {
	if out == "" {
		return errors.New("empty output path")
	}
	if _, err := o.target(out); err != nil {
		return err
	}
	ost, err := os.Stat(out)
	if err != nil {
		return nil // nothing there yet: it cannot be an input
	}
	for _, in := range inputs {
		if in == "" {
			continue
		}
		ist, err := os.Stat(in)
		if err != nil {
			continue
		}
		if os.SameFile(ost, ist) {
			if filepath.Clean(in) == filepath.Clean(out) {
				return fmt.Errorf("%s: %w", out, ErrSameFile)
			}
			return fmt.Errorf("%s: %w (%s)", out, ErrSameFile, in)
		}
	}
	return nil
}

// target returns where to write path: path itself, or with WriteThrough the
// resolved target of a symlink. direct reports that the target must be
// written in place rather than replaced.
func (o Options) target(path string) (string, error) {
	t, _, err := o.resolve(path)
	return t, err
}

func (o Options) resolve(path string) (target string, direct bool, err error) {
	lst, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return path, false, nil
	}
	if err != nil {
		return "", false, err
	}
	if lst.Mode().IsRegular() && links(lst) <= 1 {
		return path, false, nil
	}
	what := kind(lst)
	if !o.WriteThrough {
		return "", false, &fs.PathError{Op: "write", Path: path, Err: fmt.Errorf("%s %w", what, ErrNotRegular)}
	}
	if lst.Mode()&fs.ModeSymlink != 0 {
		t, err := filepath.EvalSymlinks(path)
		if errors.Is(err, fs.ErrNotExist) {
			// A dangling link: create what it points to.
			t, err = os.Readlink(path)
			if err == nil && !filepath.IsAbs(t) {
				t = filepath.Join(filepath.Dir(path), t)
			}
			return t, false, err
		}
		if err != nil {
			return "", false, err
		}
		return Options{WriteThrough: true}.resolve(t)
	}
	if lst.IsDir() {
		return "", false, &fs.PathError{Op: "write", Path: path, Err: errors.New("is a folder")}
	}
	return path, true, nil
}

// kind names the type of a file for an error.
func kind(st fs.FileInfo) string {
	m := st.Mode()
	switch {
	case m&fs.ModeSymlink != 0:
		return "a symlink"
	case m.IsDir():
		return "a folder"
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0:
		return "a device"
	case m.IsRegular():
		return fmt.Sprintf("a file with %d hard links", links(st))
	}
	return "a special file"
}

// WriteFile writes b to path with mode 0644: atomically through a
// temporary file when path is absent or a regular file, else as Options
// says. Stale temporaries of killed writes to the same name are removed
// first.
func (o Options) WriteFile(path string, b []byte) (err error) {
	target, direct, err := o.resolve(path)
	if err != nil {
		return err
	}
	if direct {
		f, err := os.OpenFile(target, os.O_WRONLY|os.O_TRUNC, 0)
		if err != nil {
			return err
		}
		if _, err := f.Write(b); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	}
	dir, base := filepath.Split(target)
	if dir == "" {
		dir = "."
	}
	removeStale(dir, base)
	tmp, err := createTemp(dir, base)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.Write(b); err != nil {
		return err
	}
	if err = tmp.Chmod(0o644); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if beforeRename != nil {
		beforeRename(tmp.Name())
	}
	if err = os.Rename(tmp.Name(), target); err != nil {
		return err
	}
	tmp.Close() // releases the lock; the name is gone already
	if d, derr := os.Open(dir); derr == nil {
		d.Sync() // best effort: make the rename durable
		d.Close()
	}
	return nil
}

// beforeRename, when set by a test, runs with the temporary file complete
// and locked, just before it is renamed.
var beforeRename func(tmp string)

// tempPrefix is the start of every temporary name for base.
func tempPrefix(base string) string { return "." + base + ".tmp-" }

// createTemp creates ".BASE.tmp-PID-RANDOM" exclusively and locks it.
func createTemp(dir, base string) (*os.File, error) {
	prefix := tempPrefix(base) + strconv.Itoa(os.Getpid()) + "-"
	for try := 0; ; try++ {
		name := filepath.Join(dir, prefix+strconv.FormatUint(tempSeq.Add(1), 36)+strconv.FormatInt(time.Now().UnixNano()%1e9, 36))
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) && try < 100 {
			continue
		}
		if err != nil {
			return nil, err
		}
		if !lock(f) {
			f.Close()
			os.Remove(name)
			return nil, fmt.Errorf("%s: cannot lock a new temporary file", name)
		}
		return f, nil
	}
}

// tempSeq makes the temporary names of one process distinct.
var tempSeq atomic.Uint64

// legacyAge is how old a temporary of the earlier naming (".NAME.tmp-DIGITS",
// no PID) must be before it is taken for stale: writes last seconds.
const legacyAge = time.Hour

// removeStale removes the temporaries of killed writes to base in dir:
// named with a PID that is not a live process and not locked by anyone, or
// of the earlier naming and over an hour old. Errors are ignored (a
// read-only folder simply keeps them).
func removeStale(dir, base string) {
	prefix := tempPrefix(base)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		name := e.Name()
		rest, ok := strings.CutPrefix(name, prefix)
		if !ok || !e.Type().IsRegular() {
			continue
		}
		p := filepath.Join(dir, name)
		pidText, _, withPID := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidText)
		if !withPID || err != nil || pid <= 0 {
			if _, err := strconv.ParseUint(rest, 10, 64); err == nil {
				if info, err := e.Info(); err == nil && time.Since(info.ModTime()) > legacyAge {
					os.Remove(p)
				}
			}
			continue
		}
		if pid == os.Getpid() || alive(pid) {
			continue
		}
		f, err := os.OpenFile(p, os.O_RDWR, 0)
		if err != nil {
			continue
		}
		if lock(f) { // nobody holds it: its writer is gone
			os.Remove(p)
		}
		f.Close()
	}
}
