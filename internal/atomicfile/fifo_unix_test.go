//go:build unix

package atomicfile

import "syscall"

// mkfifo makes a named pipe for the tests.
func mkfifo(path string) error { return syscall.Mkfifo(path, 0o644) }
