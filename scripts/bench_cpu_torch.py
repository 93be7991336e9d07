#!/usr/bin/env python3
"""PyTorch side of scripts/bench-cpu: the rows of io.jdl.bench.CpuStepRows on the CPU, same shapes, same steps.

Rows (bench_torch.py's Mlp, Cnn and Gpt classes):
  mlp-b128, mlp-b1024     784-1024-1024-10 ReLU: forward, cross-entropy, backward, Adam, zero_grad
  cnn16-b128              the `cnn` sample at width 16, training step as above (dropout on: train mode)
  conv2d-b128             x [128, 16, 14, 14], Conv2d(16, 32, 3, padding=1) with bias: sum(conv(x) * r).backward(),
                          x, weight and bias requiring gradients (set to None before each call)
  gpt-b16                 causal transformer, 4 layers, 4 heads, 128 wide, 64 tokens, vocabulary 65, batch 16,
                          training step; attention is F.scaled_dot_product_attention with PyTorch's default backend
                          choice (what a PyTorch user gets)
  matmul-128x784x1024, matmul-512   torch.matmul of float32 [m, k] x [k, n]

Protocol on stdin/stdout, one line each: `THREADS n` sets torch.set_num_threads(n) and answers `INFO ...`;
`ROW STEPS` answers `TIMES ROW ms ms ...` (each step timed alone with time.perf_counter). End of input quits.
Run by scripts/bench_cpu.py; the allocator settings (glibc MALLOC_* environment) are made there.
"""
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

from bench_torch import Cnn, Gpt, Mlp


def randn(seed, *shape, grad=False):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g).requires_grad_(grad)


def training(model, x, labels):
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step():
        loss = F.cross_entropy(model(x).reshape(-1, model_classes(model)), labels)
        loss.backward()
        opt.step()
        opt.zero_grad()
    return step


def model_classes(model):
    return 65 if isinstance(model, Gpt) else 10


def build(name):
    torch.manual_seed(0)
    if name in ("mlp-b128", "mlp-b1024"):
        b = int(name.split("-b")[1])
        return training(Mlp(), randn(1, b, 784), torch.randint(0, 10, (b,)))
    if name == "cnn16-b128":
        return training(Cnn(16), randn(1, 128, 1, 28, 28), torch.randint(0, 10, (128,)))
    if name == "gpt-b16":
        ids = torch.randint(0, 65, (16, 64))
        return training(Gpt(vocab=65, context=64, width=128, layers=4, heads=4, math_attention=False), ids,
                        torch.randint(0, 65, (16 * 64,)))
    if name == "conv2d-b128":
        x, w, b = randn(1, 128, 16, 14, 14, grad=True), randn(2, 32, 16, 3, 3, grad=True), randn(3, 32, grad=True)
        r = randn(4, 128, 32, 14, 14)

        def call():
            x.grad = w.grad = b.grad = None
            (F.conv2d(x, w, b, padding=1) * r).sum().backward()
        return call
    if name.startswith("matmul-"):
        dims = [int(v) for v in name[len("matmul-"):].split("x")]
        m, k, n = dims if len(dims) == 3 else dims * 3
        a, bm = randn(1, m, k), randn(2, k, n)
        return lambda: torch.matmul(a, bm)
    raise ValueError("unknown row " + name)


def main():
    rows = {}
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        if words[0] == "THREADS":
            torch.set_num_threads(int(words[1]))
            print(f"INFO threads={torch.get_num_threads()} torch={torch.__version__} "
                  f"mkldnn={torch.backends.mkldnn.is_available()} cpu_capability={torch.backends.cpu.get_cpu_capability()}",
                  flush=True)
            continue
        name, steps = words[0], int(words[1])
        if name not in rows:
            rows[name] = build(name)
        fn, times = rows[name], []
        for _ in range(steps):
            t0 = time.perf_counter()
            fn()
            times.append((time.perf_counter() - t0) * 1e3)
        print("TIMES " + name + "".join(f" {t:.4f}" for t in times), flush=True)


if __name__ == "__main__":
    main()
