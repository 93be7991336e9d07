#!/usr/bin/env python3
"""Loads a jdl Fashion-MNIST checkpoint into the same network in PyTorch and evaluates it.

The samples write `model.safetensors` with PyTorch's parameter names. This script builds the PyTorch
twin of the network (strict load_state_dict: every name and shape must match) and prints its test
accuracy. It should equal the `test_accuracy=` line of the Java run that wrote the checkpoint.

  python3 scripts/torch_eval.py cnn out/cnn/model.safetensors [--width 16] [--data DIR]
  python3 scripts/torch_eval.py mlp out/mlp/model.safetensors [--hidden 1024]

Reads safetensors with the standard library and numpy only (no `safetensors` package needed).
"""
import argparse
import gzip
import json
import struct
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

MEAN, STD = 0.2860, 0.3530  # the samples' normalisation (io.jdl.samples.ImageClassification)


def read_safetensors(path):
    raw = Path(path).read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    body = raw[8 + n:]
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        assert info["dtype"] == "F32", info
        begin, end = info["data_offsets"]
        tensors[name] = torch.from_numpy(np.frombuffer(body[begin:end], dtype="<f4").copy()).reshape(info["shape"])
    return tensors, header.get("__metadata__", {})


def read_idx(path):
    data = gzip.open(path).read() if str(path).endswith(".gz") else Path(path).read_bytes()
    magic, = struct.unpack(">I", data[:4])
    dims = struct.unpack(">" + "I" * (magic & 0xFF), data[4:4 + 4 * (magic & 0xFF)])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * len(dims)).reshape(dims)


def cnn(width):
    c = width
    return nn.Sequential(
        nn.Conv2d(1, c, 3, padding=1), nn.BatchNorm2d(c), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(c, 2 * c, 3, padding=1), nn.BatchNorm2d(2 * c), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Dropout(0.25), nn.Linear(2 * c * 49, 128), nn.ReLU(), nn.Dropout(0.25), nn.Linear(128, 10))


def mlp(hidden):
    return nn.Sequential(nn.Linear(784, hidden), nn.ReLU(), nn.Dropout(0.2), nn.Linear(hidden, hidden), nn.ReLU(),
                         nn.Dropout(0.2), nn.Linear(hidden, 10))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", choices=["cnn", "mlp"])
    p.add_argument("checkpoint")
    p.add_argument("--width", type=int, default=16, help="cnn: channels of the first convolution")
    p.add_argument("--hidden", type=int, default=1024, help="mlp: hidden width")
    p.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    a = p.parse_args()
    state, metadata = read_safetensors(a.checkpoint)
    net = cnn(a.width) if a.model == "cnn" else mlp(a.hidden)
    net.load_state_dict(state, strict=True)
    net.eval()
    data = Path(a.data)
    images = read_idx(next(data.glob("t10k-images-idx3-ubyte*"))).astype(np.float32) / 255.0
    labels = read_idx(next(data.glob("t10k-labels-idx1-ubyte*")))
    x = torch.from_numpy((images - MEAN) / STD).unsqueeze(1)
    if a.model == "mlp":
        x = x.reshape(len(x), 784)
    with torch.no_grad():
        predicted = torch.cat([net(x[i:i + 1000]).argmax(1) for i in range(0, len(x), 1000)])
    accuracy = (predicted.numpy() == labels).mean()
    print(f"loaded {len(state)} tensors strictly; checkpoint says test_accuracy={metadata.get('test_accuracy', '?')}")
    print(f"pytorch_test_accuracy={accuracy:.4f}")


if __name__ == "__main__":
    main()
