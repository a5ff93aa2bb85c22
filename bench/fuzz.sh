#!/usr/bin/env bash
# Runs every fuzz target of the module for FUZZTIME each (default 30s),
# minimising a failing input for at most 5 s (-fuzzminimizetime), and
# appends one line per target to bench/out/fuzz.txt. A crash stops the
# script with the failing input under the package's testdata/fuzz.
#
#   bench/fuzz.sh              every target
#   bench/fuzz.sh FuzzDecode   targets whose name matches
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZTIME=${FUZZTIME:-30s}
mkdir -p bench/out
pattern=${1:-.}
grep -rl --include='*_test.go' '^func Fuzz' . | sort | while read -r file; do
	pkg=./$(dirname "${file#./}")
	for target in $(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' "$file"); do
		[[ $target =~ $pattern ]] || continue
		echo "== $pkg $target ($FUZZTIME)"
		go test "$pkg" -run '^$' -fuzz "^$target\$" -fuzztime "$FUZZTIME" -fuzzminimizetime 5s 2>&1 | tail -3
		echo "$(date -u +%FT%TZ) $pkg $target $FUZZTIME ok" >>bench/out/fuzz.txt
	done
done
