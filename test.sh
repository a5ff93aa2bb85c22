#!/usr/bin/env bash
# The test command named in the README: the whole suite, the kernels again on
# the portable Go path, and a cross-build for arm64 (portable kernels only).
set -euo pipefail
cd "$(dirname "$0")"
go test ./...
# The kernel level is read at package initialisation, which Go's test cache
# does not track: -count=1 makes this run really run (its output shows the
# time taken, not "(cached)").
SHRINK_KERNEL=generic go test -count=1 ./nn/...
go test -tags purego ./nn/kernel
GOARCH=arm64 go vet ./...
