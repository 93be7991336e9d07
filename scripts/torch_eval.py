#!/usr/bin/env python3
"""Loads a jdl Fashion-MNIST checkpoint into the same network in PyTorch and evaluates it.

The samples write `model.safetensors` with PyTorch's parameter names and record, in its metadata, the
sample and its architecture. This script rebuilds the PyTorch twin of that network from the metadata
alone (strict load_state_dict: every name and shape must match) and prints its test accuracy, which
should equal the `test_accuracy=` line of the Java run that wrote the checkpoint.

  python3 scripts/torch_eval.py out/cnn/20261201-120000/model.safetensors [--data DIR]
  python3 scripts/torch_eval.py CHECKPOINT --describe     # the architecture only; needs no PyTorch

CHECKPOINT may also be a run folder (its model.safetensors) or the run's training-state.safetensors, whose
`model.` entries are the same state dict (the optimizer's entries are left out).

Supported: the image samples mlp, cnn, cnn --resnet and vit. Not supported: charlm (a text model; its
twin is not written here). Reads safetensors with the standard library and numpy only.
"""
import argparse
import gzip
import json
import struct
import sys
from pathlib import Path

MEAN, STD = 0.2860, 0.3530  # the samples' normalisation (io.jdl.samples.ImageClassification)
SUPPORTED = "mlp, cnn, cnn --resnet, vit"


class CheckpointError(Exception):
    """A checkpoint this script cannot evaluate; the message says why."""


def read_header(path):
    """The safetensors header of `path` as (tensor entries, metadata), both dicts."""
    raw = Path(path).read_bytes()
    if len(raw) < 8:
        raise CheckpointError(f"{path}: {len(raw)} bytes, too short for a safetensors file")
    (n,) = struct.unpack("<Q", raw[:8])
    if 8 + n > len(raw):
        raise CheckpointError(f"{path}: not a safetensors file (header length {n} runs past the end)")
    try:
        header = json.loads(raw[8:8 + n])
    except ValueError as e:
        raise CheckpointError(f"{path}: not a safetensors file ({e})") from e
    metadata = header.pop("__metadata__", {})
    return header, metadata


def model_entries(entries, metadata):
    """The state dict's entries: all of a plain checkpoint, the `model.` ones (prefix removed) of a training state."""
    if "jdl.optimizer" not in metadata:
        return entries
    return {k[len("model."):]: v for k, v in entries.items() if k.startswith("model.")}


def architecture(metadata):
    """(model name, settings) from a checkpoint's metadata; CheckpointError for what is not supported."""
    sample = metadata.get("sample")
    if sample is None:
        raise CheckpointError("the checkpoint has no 'sample' metadata: it was not written by a jdl sample"
                              " (or by one older than the architecture metadata)")

    def ints(*keys):
        missing = [k for k in keys if k not in metadata]
        if missing:
            raise CheckpointError(f"the {sample} checkpoint lacks {', '.join(missing)} in its metadata:"
                                  " it predates the architecture metadata; train it again")
        return {k: int(metadata[k]) for k in keys}

    if sample == "mlp":
        return "mlp", ints("hidden")
    if sample == "cnn":
        return ("resnet" if metadata.get("resnet") == "true" else "cnn"), ints("width")
    if sample == "vit":
        return "vit", ints("patch", "dim", "heads", "layers")
    raise CheckpointError(f"'{sample}' checkpoints are not supported: this script evaluates the image samples"
                          f" ({SUPPORTED}) on Fashion-MNIST")


def read_idx(path):
    import numpy as np
    data = gzip.open(path).read() if str(path).endswith(".gz") else Path(path).read_bytes()
    magic, = struct.unpack(">I", data[:4])
    dims = struct.unpack(">" + "I" * (magic & 0xFF), data[4:4 + 4 * (magic & 0xFF)])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * len(dims)).reshape(dims)


def build(name, settings):
    """The PyTorch twin of a jdl sample's network (io.jdl.models.FashionMnistModels, VisionTransformer)."""
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class Residual(nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, x):
            return x + self.inner(x)

    class Attention(nn.Module):
        def __init__(self, dim, heads):
            super().__init__()
            self.heads = heads
            self.qkv = nn.Linear(dim, 3 * dim)
            self.proj = nn.Linear(dim, dim)

        def forward(self, x):
            b, t, d = x.shape
            q, k, v = self.qkv(x).reshape(b, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
            y = F.scaled_dot_product_attention(q, k, v)  # [B, H, T, hd]
            return self.proj(y.transpose(1, 2).reshape(b, t, d))

    class FeedForward(nn.Module):
        def __init__(self, dim):
            super().__init__()
            self.fc1 = nn.Linear(dim, 4 * dim)
            self.fc2 = nn.Linear(4 * dim, dim)

        def forward(self, x):
            return self.fc2(F.gelu(self.fc1(x)))

    class Block(nn.Module):  # pre-norm: x + attn(ln1(x)), then + mlp(ln2(.))
        def __init__(self, dim, heads):
            super().__init__()
            self.ln1, self.attn = nn.LayerNorm(dim), Attention(dim, heads)
            self.ln2, self.mlp = nn.LayerNorm(dim), FeedForward(dim)

        def forward(self, x):
            x = x + self.attn(self.ln1(x))
            return x + self.mlp(self.ln2(x))

    class VisionTransformer(nn.Module):
        def __init__(self, patch, dim, heads, layers):
            super().__init__()
            self.patch, self.grid = patch, 28 // patch
            self.patch_embed = nn.Linear(patch * patch, dim)
            self.pos_emb = nn.Embedding(self.grid * self.grid, dim)
            self.blocks = nn.ModuleList(Block(dim, heads) for _ in range(layers))
            self.ln = nn.LayerNorm(dim)
            self.head = nn.Linear(dim, 10)

        def forward(self, x):  # [B, 1, 28, 28] -> patches [B, grid², p²], row by row
            b, g, p = len(x), self.grid, self.patch
            h = self.patch_embed(x.reshape(b, 1, g, p, g, p).permute(0, 2, 4, 1, 3, 5).reshape(b, g * g, p * p))
            h = h + self.pos_emb.weight
            for block in self.blocks:
                h = block(h)
            return self.head(self.ln(h).mean(1))

    def residual_block(c):
        return nn.Sequential(Residual(nn.Sequential(
            nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU(),
            nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c))), nn.ReLU())

    if name == "mlp":
        h = settings["hidden"]
        return nn.Sequential(nn.Linear(784, h), nn.ReLU(), nn.Dropout(0.2), nn.Linear(h, h), nn.ReLU(),
                             nn.Dropout(0.2), nn.Linear(h, 10))
    if name == "cnn":
        c = settings["width"]
        return nn.Sequential(
            nn.Conv2d(1, c, 3, padding=1), nn.BatchNorm2d(c), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(c, 2 * c, 3, padding=1), nn.BatchNorm2d(2 * c), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Dropout(0.25), nn.Linear(2 * c * 49, 128), nn.ReLU(), nn.Dropout(0.25), nn.Linear(128, 10))
    if name == "resnet":
        c = settings["width"]
        layers = [nn.Conv2d(1, c, 3, padding=1), nn.BatchNorm2d(c), nn.ReLU()]
        for stage in range(3):
            if stage > 0:
                layers += [nn.Conv2d(c, 2 * c, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(2 * c), nn.ReLU()]
                c *= 2
            layers += [residual_block(c), residual_block(c)]
        return nn.Sequential(*layers, nn.AvgPool2d(7), nn.Flatten(), nn.Linear(c, 10))
    return VisionTransformer(settings["patch"], settings["dim"], settings["heads"], settings["layers"])


def load_tensors(path, entries):
    import numpy as np
    import torch
    raw = Path(path).read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    body = raw[8 + n:]
    tensors = {}
    for name, info in entries.items():
        if info["dtype"] != "F32":
            raise CheckpointError(f"{path}: tensor {name} is {info['dtype']}, expected F32")
        begin, end = info["data_offsets"]
        tensors[name] = torch.from_numpy(np.frombuffer(body[begin:end], dtype="<f4").copy()).reshape(info["shape"])
    return tensors


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint", help="model.safetensors written by scripts/sample mlp, cnn or vit")
    p.add_argument("--data", default="/usr/share/datasets/fashion-mnist", help="folder with the Fashion-MNIST IDX files")
    p.add_argument("--describe", action="store_true", help="print the architecture the checkpoint records and stop")
    a = p.parse_args(argv)
    try:
        if Path(a.checkpoint).is_dir():
            a.checkpoint = next((str(Path(a.checkpoint) / f) for f in ("model.safetensors", "training-state.safetensors")
                                 if (Path(a.checkpoint) / f).is_file()), a.checkpoint)
        if not Path(a.checkpoint).is_file():
            raise CheckpointError(f"{a.checkpoint}: no such file")
        entries, metadata = read_header(a.checkpoint)
        entries = model_entries(entries, metadata)
        name, settings = architecture(metadata)
    except CheckpointError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    described = " ".join(f"{k}={v}" for k, v in settings.items())
    print(f"architecture: {name} {described} ({len(entries)} tensors)")
    if a.describe:
        return 0
    import numpy as np
    import torch
    net = build(name, settings)
    net.load_state_dict(load_tensors(a.checkpoint, entries), strict=True)
    net.eval()
    data = Path(a.data)
    images = read_idx(next(data.glob("t10k-images-idx3-ubyte*"))).astype(np.float32) / 255.0
    labels = read_idx(next(data.glob("t10k-labels-idx1-ubyte*")))
    x = torch.from_numpy((images - MEAN) / STD).unsqueeze(1)
    if name == "mlp":
        x = x.reshape(len(x), 784)
    with torch.no_grad():
        predicted = torch.cat([net(x[i:i + 1000]).argmax(1) for i in range(0, len(x), 1000)])
    accuracy = (predicted.numpy() == labels).mean()
    print(f"loaded {len(entries)} tensors strictly; checkpoint says test_accuracy={metadata.get('test_accuracy', '?')}")
    print(f"pytorch_test_accuracy={accuracy:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
