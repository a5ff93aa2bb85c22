//go:build !unix

package main

import "errors"

// mkfifo is not available here; the tests that need it skip first.
func mkfifo(string) error { return errors.ErrUnsupported }
