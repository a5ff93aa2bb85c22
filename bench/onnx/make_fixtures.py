#!/usr/bin/python3
"""Regenerate the ONNX and safetensors fixtures in testdata/ from PyTorch.

Uses Debian's python3-torch and python3-onnx (apt-get install python3-torch
python3-onnx); run from the repository root:

    /usr/bin/python3 bench/onnx/make_fixtures.py

Every model is seeded and trained for one short epoch on the embedded
mnist-mini training images, so its predictions mean something. For each
model it writes testdata/onnx/NAME.onnx and testdata/onnx/NAME.json holding
the reference outputs of PyTorch on the first N mnist-mini test images:

    {"model": NAME, "opset": 13, "n": 100, "classes": 10,
     "labels": [...], "logits": [[...], ...]}

The Go tests import the .onnx files and compare (no Python at test time).
"""
import gzip
import json
import os
import struct
import sys

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MINI = os.path.join(ROOT, "data", "mnistmini")
OUT = os.path.join(ROOT, "testdata", "onnx")
OUT_ST = os.path.join(ROOT, "testdata", "safetensors")
N_REF = 100


def idx(name):
    with gzip.open(os.path.join(MINI, name), "rb") as f:
        b = f.read()
    magic = struct.unpack(">I", b[:4])[0]
    ndim = magic & 0xFF
    dims = struct.unpack(">" + "I" * ndim, b[4:4 + 4 * ndim])
    return np.frombuffer(b[4 + 4 * ndim:], dtype=np.uint8).reshape(dims)


def images(name):
    # float32(i) / 255 in float32, exactly as shrink's data package does.
    x = idx(name).astype(np.float32) / np.float32(255)
    return torch.from_numpy(x[:, None, :, :].copy())  # NCHW


class MLP(nn.Module):
    """Flatten, Linear+BatchNorm1d (folded into the dense layer), ReLU,
    Dropout, and a MatMul+Add layer written by hand."""

    def __init__(self):
        super().__init__()
        self.flat = nn.Flatten()
        self.fc1 = nn.Linear(784, 32)
        self.bn1 = nn.BatchNorm1d(32)
        self.drop = nn.Dropout(0.2)
        self.w2 = nn.Parameter(torch.randn(32, 10) * 0.1)
        self.b2 = nn.Parameter(torch.zeros(10))

    def forward(self, x):
        x = self.flat(x)
        x = self.drop(F.relu(self.bn1(self.fc1(x))))
        return torch.matmul(x, self.w2) + self.b2


class CNN(nn.Module):
    """Conv (padded) + BatchNorm + ReLU + MaxPool, Conv + ReLU + AvgPool,
    x.view(x.size(0), -1), Linear, ReLU, Dropout, Linear."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(4)
        self.conv2 = nn.Conv2d(4, 8, 3)
        self.fc1 = nn.Linear(8 * 6 * 6, 32)
        self.fc2 = nn.Linear(32, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)
        x = F.avg_pool2d(F.relu(self.conv2(x)), 2)
        x = x.view(x.size(0), -1)
        x = F.dropout(F.relu(self.fc1(x)), 0.1, self.training)
        return self.fc2(x)


class GapCNN(nn.Module):
    """An explicit zero Pad before a conv, a strided conv, BatchNorm after a
    ReLU (not foldable), global average pooling, Flatten, Linear, Softmax."""

    def __init__(self):
        super().__init__()
        self.pad = nn.ZeroPad2d(1)
        self.conv1 = nn.Conv2d(1, 6, 3)
        self.conv2 = nn.Conv2d(6, 8, 3, stride=2)
        self.bn2 = nn.BatchNorm2d(8)
        self.fc = nn.Linear(8, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(self.pad(x))), 2)
        x = self.bn2(F.relu(self.conv2(x)))
        x = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
        return F.softmax(self.fc(x), dim=1)


def train(model, x, y, epochs=1, lr=0.05):
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    model.train()
    for _ in range(epochs):
        perm = torch.randperm(len(x))
        for i in range(0, len(x), 64):
            b = perm[i:i + 64]
            out = model(x[b])
            if isinstance(model, GapCNN):
                loss = F.nll_loss(torch.log(out + 1e-9), y[b])
            else:
                loss = F.cross_entropy(out, y[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()


def export(model, name, opset, xtest, ytest, dynamic=True):
    path = os.path.join(OUT, name + ".onnx")
    dummy = torch.zeros(1, 1, 28, 28)
    kw = {}
    if dynamic:
        kw["dynamic_axes"] = {"input": {0: "N"}, "logits": {0: "N"}}
    torch.onnx.export(model, dummy, path, opset_version=opset, input_names=["input"],
                      output_names=["logits"], **kw)
    m = onnx.load(path)
    onnx.checker.check_model(m)
    with torch.no_grad():
        z = model(xtest[:N_REF]).numpy().astype(np.float32)
    ref = {"model": name, "opset": opset, "n": N_REF, "classes": int(z.shape[1]),
           "labels": [int(v) for v in ytest[:N_REF]],
           "logits": [[float(v) for v in row] for row in z]}
    with open(os.path.join(OUT, name + ".json"), "w") as f:
        json.dump(ref, f)
    acc = float((z.argmax(1) == ytest[:N_REF].numpy()).mean())
    ops = sorted({n.op_type for n in m.graph.node})
    print(f"{name}: opset {opset}, {os.path.getsize(path)} bytes, acc@{N_REF} {acc:.2f}, ops {ops}")


def save_safetensors(model, path):
    """Writes model.state_dict() as safetensors (F32) without the
    safetensors package: 8-byte LE header length, JSON header, data."""
    sd = {k: v.detach().cpu().numpy().astype(np.float32) for k, v in model.state_dict().items()
          if v.dtype.is_floating_point}
    header, blobs, off = {}, [], 0
    for k in sorted(sd):
        b = np.ascontiguousarray(sd[k]).astype("<f4").tobytes()
        header[k] = {"dtype": "F32", "shape": list(sd[k].shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    header["__metadata__"] = {"format": "pt", "source": "bench/onnx/make_fixtures.py"}
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def main():
    torch.manual_seed(1)
    np.random.seed(1)
    torch.set_num_threads(2)
    os.makedirs(OUT, exist_ok=True)
    os.makedirs(OUT_ST, exist_ok=True)
    xtr, ytr = images("train-images-idx3-ubyte.gz"), torch.from_numpy(idx("train-labels-idx1-ubyte.gz").astype(np.int64))
    xte, yte = images("t10k-images-idx3-ubyte.gz"), torch.from_numpy(idx("t10k-labels-idx1-ubyte.gz").astype(np.int64))

    mlp = MLP()
    train(mlp, xtr, ytr)
    export(mlp, "mlp", 13, xte, yte)
    export(mlp, "mlp_op17", 17, xte, yte, dynamic=False)

    cnn = CNN()
    train(cnn, xtr, ytr)
    export(cnn, "cnn", 13, xte, yte)

    gap = GapCNN()
    train(gap, xtr, ytr)
    export(gap, "gapcnn_op11", 11, xte, yte)

    # A plain nn.Sequential CNN for safetensors: positional names
    # ("0.weight", "1.running_mean", ...), conv weights OIHW, the dense
    # weight's columns in CHW order. shrink --arch:
    # conv:4:3:1:1,bn,relu,maxpool:2,flatten,dense:10
    seq = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Flatten(), nn.Linear(4 * 14 * 14, 10))
    train(seq, xtr, ytr)
    save_safetensors(seq, os.path.join(OUT_ST, "seqcnn.safetensors"))
    with torch.no_grad():
        z = seq(xte[:N_REF]).numpy().astype(np.float32)
    with open(os.path.join(OUT_ST, "seqcnn.json"), "w") as f:
        json.dump({"model": "seqcnn", "arch": "conv:4:3:1:1,bn,relu,maxpool:2,flatten,dense:10",
                   "n": N_REF, "classes": 10, "labels": [int(v) for v in yte[:N_REF]],
                   "logits": [[float(v) for v in row] for row in z]}, f)
    print("seqcnn.safetensors:", os.path.getsize(os.path.join(OUT_ST, "seqcnn.safetensors")), "bytes")


if __name__ == "__main__":
    sys.exit(main())
