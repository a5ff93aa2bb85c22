#!/usr/bin/python3
"""PyTorch peer for bench/: lenet300 (784-300-100-10) on full MNIST.

Measures, on this machine, with Debian's python3-torch (run with /usr/bin/python3):
  - seconds per training epoch (batch 128, Adam, lr 1e-3), mean of the epochs after the first;
  - float32 inference throughput at batch 256 (images/s) and batch-1 latency (us),
    median of repeated runs after warm-up.
Prints one JSON object. Usage: torch_lenet300.py MNIST_DIR [threads] [epochs]
"""
import gzip, json, os, statistics, sys, time
import numpy as np
import torch

def idx(path):
    with (gzip.open(path) if path.endswith(".gz") else open(path, "rb")) as f:
        b = f.read()
    dims = b[3]
    shape = [int.from_bytes(b[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(b, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)

d = sys.argv[1]
threads = int(sys.argv[2]) if len(sys.argv) > 2 else 2
epochs = int(sys.argv[3]) if len(sys.argv) > 3 else 2
torch.set_num_threads(threads)
torch.manual_seed(1)
x = torch.tensor(idx(os.path.join(d, "train-images-idx3-ubyte.gz")).reshape(-1, 784), dtype=torch.float32) / 255
y = torch.tensor(idx(os.path.join(d, "train-labels-idx1-ubyte.gz")), dtype=torch.long)
xt = torch.tensor(idx(os.path.join(d, "t10k-images-idx3-ubyte.gz")).reshape(-1, 784), dtype=torch.float32) / 255
yt = torch.tensor(idx(os.path.join(d, "t10k-labels-idx1-ubyte.gz")), dtype=torch.long)
m = torch.nn.Sequential(torch.nn.Linear(784, 300), torch.nn.ReLU(), torch.nn.Linear(300, 100), torch.nn.ReLU(), torch.nn.Linear(100, 10))
opt = torch.optim.Adam(m.parameters(), lr=1e-3)
lossf = torch.nn.CrossEntropyLoss()
times = []
for e in range(epochs):
    perm = torch.randperm(len(x))
    t0 = time.perf_counter()
    for i in range(0, len(x), 128):
        idx_ = perm[i:i + 128]
        opt.zero_grad()
        loss = lossf(m(x[idx_]), y[idx_])
        loss.backward()
        opt.step()
    times.append(time.perf_counter() - t0)
m.eval()
with torch.no_grad():
    acc = (m(xt).argmax(1) == yt).float().mean().item()

    def bench(batch, reps):
        xb = xt[:batch]
        for _ in range(20):
            m(xb)
        runs = []
        for _ in range(7):
            t0 = time.perf_counter()
            for _ in range(reps):
                m(xb)
            runs.append((time.perf_counter() - t0) / reps)
        return statistics.median(runs)

    t256 = bench(256, 200)
    t1 = bench(1, 2000)
    # PyTorch's dynamic int8 (weights int8, activations quantized per batch).
    fm = m
    m = torch.quantization.quantize_dynamic(fm, {torch.nn.Linear}, dtype=torch.qint8)
    acc8 = (m(xt).argmax(1) == yt).float().mean().item()
    q256 = bench(256, 200)
    q1 = bench(1, 2000)
print(json.dumps({
    "int8_dynamic_accuracy": acc8, "int8_images_per_s_batch256": 256 / q256, "int8_latency_us_batch1": q1 * 1e6,
    "engine": torch.backends.quantized.engine,
    "peer": "pytorch " + torch.__version__, "threads": threads,
    "epoch_seconds": statistics.mean(times[1:] or times), "epoch_seconds_all": times,
    "accuracy_after_epochs": acc,
    "images_per_s_batch256": 256 / t256, "latency_us_batch1": t1 * 1e6,
}))

if os.environ.get("EXPORT_ONNX"):
    torch.onnx.export(fm, torch.zeros(1, 784), os.environ["EXPORT_ONNX"], input_names=["x"], output_names=["logits"],
                      dynamic_axes={"x": {0: "n"}, "logits": {0: "n"}}, opset_version=13)
