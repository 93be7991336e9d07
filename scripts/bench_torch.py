#!/usr/bin/env python3
"""PyTorch side of jdl's end-to-end training-step benchmark.

Times one full training step (forward, loss, backward, Adam update) of the same three models, shapes
and precision that the Java benchmark runs, on the same GPU:

  mlp      784-1024-1024-10, ReLU, cross-entropy            batch 128 and 4096
  cnn      the `cnn` sample's network (below)               batch 128 and 1024
  gpt      6 layers, 6 heads, width 384, causal, vocab 65   batch 64 x 256 tokens

fp32 with TF32 off, and with TF32 on. Each step is timed with CUDA events after warm-up; the median
over --steps is reported, with peak device memory. `--compile` adds rows for torch.compile.
Initialisation follows PyTorch's defaults, which jdl's modules reproduce (same distributions, not the
same numbers). Inputs are random, with a fixed seed: the benchmark measures speed, not learning.

Prints one JSON object per row (prefixed `RESULT `) and a table at the end.

  python3 scripts/bench_torch.py [--device cuda] [--steps 50] [--warmup 10] [--tf32 both] [--compile]
"""
import argparse
import json
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Mlp(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1, self.fc2, self.fc3 = nn.Linear(784, 1024), nn.Linear(1024, 1024), nn.Linear(1024, 10)

    def forward(self, x):
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))


class Cnn(nn.Module):
    """The `cnn` sample: two conv-BN-ReLU-maxpool stages, then a dropout MLP head."""

    def __init__(self):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32)
        self.conv2, self.bn2 = nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64)
        self.fc1, self.fc2 = nn.Linear(64 * 7 * 7, 128), nn.Linear(128, 10)
        self.drop = nn.Dropout(0.25)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)
        x = F.max_pool2d(F.relu(self.bn2(self.conv2(x))), 2)
        x = self.drop(torch.flatten(x, 1))
        return self.fc2(self.drop(F.relu(self.fc1(x))))


class Block(nn.Module):
    """Pre-norm transformer block: x + attn(ln(x)); x + mlp(ln(x)), fused QKV projection, GELU MLP."""

    def __init__(self, width, heads, math_attention):
        super().__init__()
        self.heads, self.math_attention = heads, math_attention
        self.ln1, self.ln2 = nn.LayerNorm(width), nn.LayerNorm(width)
        self.qkv, self.proj = nn.Linear(width, 3 * width), nn.Linear(width, width)
        self.fc, self.out = nn.Linear(width, 4 * width), nn.Linear(4 * width, width)

    def attention(self, x):
        b, t, c = x.shape
        q, k, v = self.qkv(x).split(c, dim=2)
        q, k, v = (y.view(b, t, self.heads, c // self.heads).transpose(1, 2) for y in (q, k, v))
        if self.math_attention:
            with torch.nn.attention.sdpa_kernel(torch.nn.attention.SDPBackend.MATH):
                y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.proj(y.transpose(1, 2).reshape(b, t, c))

    def forward(self, x):
        x = x + self.attention(self.ln1(x))
        return x + self.out(F.gelu(self.fc(self.ln2(x))))


class Gpt(nn.Module):
    def __init__(self, vocab=65, context=256, width=384, layers=6, heads=6, math_attention=True):
        super().__init__()
        self.tok, self.pos = nn.Embedding(vocab, width), nn.Embedding(context, width)
        self.blocks = nn.ModuleList(Block(width, heads, math_attention) for _ in range(layers))
        self.ln, self.head = nn.LayerNorm(width), nn.Linear(width, vocab)

    def forward(self, idx):
        x = self.tok(idx) + self.pos(torch.arange(idx.shape[1], device=idx.device))
        for block in self.blocks:
            x = block(x)
        return self.head(self.ln(x))


def rows(device):
    """(name, model factory, inputs factory, targets factory, flatten logits for the loss)."""
    g = torch.Generator(device="cpu").manual_seed(0)

    def images(b, flat):
        x = torch.randn(b, 784 if flat else 1, *(() if flat else (28, 28)), generator=g)
        return x.to(device)

    def labels(b, classes=10):
        return torch.randint(0, classes, (b,), generator=g).to(device)

    def tokens(b, t=256):
        return torch.randint(0, 65, (b, t), generator=g).to(device)

    return [
        ("mlp b=128", Mlp, lambda: images(128, True), lambda: labels(128)),
        ("mlp b=4096", Mlp, lambda: images(4096, True), lambda: labels(4096)),
        ("cnn b=128", Cnn, lambda: images(128, False), lambda: labels(128)),
        ("cnn b=1024", Cnn, lambda: images(1024, False), lambda: labels(1024)),
        ("gpt b=64x256 math-attn", lambda: Gpt(math_attention=True), lambda: tokens(64), lambda: tokens(64)),
        ("gpt b=64x256 sdpa-default", lambda: Gpt(math_attention=False), lambda: tokens(64), lambda: tokens(64)),
    ]


def time_steps(step, device, warmup, steps):
    """Median milliseconds of one call of step(), timed with CUDA events on a GPU."""
    for _ in range(warmup):
        step()
    times = []
    for _ in range(steps):
        if device.type == "cuda":
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            step()
            end.record()
            end.synchronize()
            times.append(start.elapsed_time(end))
        else:
            t0 = time.perf_counter()
            step()
            times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def bench(name, make_model, make_x, make_y, device, tf32, compiled, warmup, steps):
    torch.manual_seed(0)
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32
    model = make_model().to(device).train()
    forward = torch.compile(model) if compiled else model
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x, y = make_x(), make_y()

    def step():
        opt.zero_grad(set_to_none=True)
        logits = forward(x)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        loss.backward()
        opt.step()

    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    ms = time_steps(step, device, warmup, steps)
    peak = torch.cuda.max_memory_allocated() if device.type == "cuda" else None
    return {"row": name, "tf32": tf32, "compiled": compiled, "ms_per_step": round(ms, 4),
            "peak_bytes": peak, "steps": steps, "warmup": warmup}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--tf32", choices=["off", "on", "both"], default="both")
    p.add_argument("--compile", action="store_true", help="also time torch.compile'd models")
    p.add_argument("--only", default="", help="run only rows whose name contains this text")
    a = p.parse_args()
    device = torch.device(a.device)
    env = {"torch": torch.__version__, "device": str(device)}
    if device.type == "cuda":
        env.update(gpu=torch.cuda.get_device_name(device), cuda=torch.version.cuda, cudnn=torch.backends.cudnn.version())
    print("ENV " + json.dumps(env), flush=True)
    results = []
    for tf32 in {"off": [False], "on": [True], "both": [False, True]}[a.tf32]:
        for compiled in [False, True] if a.compile else [False]:
            for name, model, x, y in rows(device):
                if a.only in name:
                    r = bench(name, model, x, y, device, tf32, compiled, a.warmup, a.steps)
                    results.append(r)
                    print("RESULT " + json.dumps(r), flush=True)
    print(f"\n{'row':28} {'tf32':5} {'compile':8} {'ms/step':>10} {'peak MiB':>10}")
    for r in results:
        peak = f"{r['peak_bytes'] / 2**20:10.1f}" if r["peak_bytes"] else f"{'-':>10}"
        print(f"{r['row']:28} {str(r['tf32']):5} {str(r['compiled']):8} {r['ms_per_step']:10.3f} {peak}")


if __name__ == "__main__":
    main()
