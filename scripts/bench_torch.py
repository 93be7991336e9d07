#!/usr/bin/env python3
"""PyTorch side of jdl's GPU benchmarks: the same workloads, shapes and precision as the JMH rows.

Operations (like SgemmBenchmark, ConvBenchmark, AttentionBenchmark):
  sgemm n=64, sgemm n=4096      square float32 torch.matmul on N(0, 1) operands
  conv2d 64x64x56x56            x [64, 64, 56, 56], weight [64, 64, 3, 3], padding 1, no bias;
                                sum(conv(x, w) * r).backward() (data and filter gradients)
  attention 8x8x512x64          causal scaled_dot_product_attention, B=8 H=8 T=512 D=64;
                                sum(sdpa(q, k, v) * r).backward(); variants "math" and "default"

Training steps (like TrainStepBenchmark and TrainStepPhases: forward, cross-entropy, backward, Adam
update, zeroing the gradients):
  mlp b=128, mlp b=4096         784-1024-1024-10, ReLU
  cnn b=128, cnn b=1024         the `cnn` sample's network (below)
  gpt b=64x256                  6 layers, 6 heads, width 384, causal, vocab 65; variants "math", "default"

fp32 with TF32 off, then on (matrix products and cuDNN convolutions), eager; --precision bf16 or fp16 runs the
training steps under torch.autocast instead (forward and loss; fp16 with torch.amp.GradScaler: scaled backward, step,
update), rows named "mlp b=128 bf16" etc. as TrainStepBenchmark's -p precision ones, with TF32 off only;
--precision fp32,bf16 runs both (fp32 with the operation rows), --precision all fp32, bf16 and fp16; then the training steps under torch.compile
(--compile) while the time budget lasts. Each call is timed with CUDA events (median) and with the host
clock around the call and a synchronisation (mean: JMH's average-time method, which the jdl rows use);
training steps also time forward, backward and optimizer with events; peak device memory after warm-up.
Initialisation follows PyTorch's defaults, which jdl's modules reproduce (same distributions, not the
same numbers). Inputs are random, with a fixed seed: this measures speed, not learning.

Prints `ENV {json}` first, then one `RESULT {json}` line per row (rows that fail have an "error" field,
rows the budget cut have "skipped"), then a table.

  python3 scripts/bench_torch.py [--device cuda] [--steps 30] [--warmup 5] [--tf32 both] [--compile]
                                 [--precision fp32|bf16|fp16|LIST|all] [--budget SECONDS] [--only TEXT]

--device meta runs the training steps on PyTorch's meta device: the dispatcher, autograd and the optimizer
run, nothing is computed, so the wall time is PyTorch's host-side cost per step (what jdl's host stand-in in
no-compute mode measures for jdl: scripts/bench-host-cost runs both). Adam runs its foreach implementation,
PyTorch's default on CUDA. Only the training-step rows; TF32 does not apply. Not GPU figures.
"""
import argparse
import contextlib
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
    """The `cnn` sample (FashionMnistModels.cnn, width 32 by default): two conv-BN-ReLU-maxpool stages, then a dropout MLP head."""

    def __init__(self, width=32):
        super().__init__()
        c = width
        self.conv1, self.bn1 = nn.Conv2d(1, c, 3, padding=1), nn.BatchNorm2d(c)
        self.conv2, self.bn2 = nn.Conv2d(c, 2 * c, 3, padding=1), nn.BatchNorm2d(2 * c)
        self.fc1, self.fc2 = nn.Linear(2 * c * 7 * 7, 128), nn.Linear(128, 10)
        self.drop = nn.Dropout(0.25)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)
        x = F.max_pool2d(F.relu(self.bn2(self.conv2(x))), 2)
        x = self.drop(torch.flatten(x, 1))
        return self.fc2(self.drop(F.relu(self.fc1(x))))


def attention(q, k, v, math):
    """Causal scaled dot-product attention; math=True forces the unfused reference (what jdl computes)."""
    if math:
        with torch.nn.attention.sdpa_kernel(torch.nn.attention.SDPBackend.MATH):
            return F.scaled_dot_product_attention(q, k, v, is_causal=True)
    return F.scaled_dot_product_attention(q, k, v, is_causal=True)


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
        y = attention(q, k, v, self.math_attention)
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


def randn(device, seed, *shape, grad=False):
    g = torch.Generator(device="cpu").manual_seed(seed)
    return torch.randn(*shape, generator=g).to(device).requires_grad_(grad)


def op_rows(device):
    """(row, variant, setup) for the single operations; setup() returns the function to time."""

    def sgemm(n):
        def setup():
            a, b = randn(device, 1, n, n), randn(device, 2, n, n)
            return lambda: torch.matmul(a, b)
        return setup

    def conv():
        x, w = randn(device, 1, 64, 64, 56, 56, grad=True), randn(device, 2, 64, 64, 3, 3, grad=True)
        r = randn(device, 3, 64, 64, 56, 56)

        def call():
            x.grad = w.grad = None
            (F.conv2d(x, w, padding=1) * r).sum().backward()
        return call

    def sdpa(math):
        def setup():
            q, k, v = (randn(device, i, 8, 8, 512, 64, grad=True) for i in range(3))
            r = randn(device, 3, 8, 8, 512, 64)

            def call():
                q.grad = k.grad = v.grad = None
                (attention(q, k, v, math) * r).sum().backward()
            return call
        return setup

    return [("sgemm n=64", "", sgemm(64)), ("sgemm n=4096", "", sgemm(4096)),
            ("conv2d 64x64x56x56", "", conv),
            ("attention 8x8x512x64", "math", sdpa(True)), ("attention 8x8x512x64", "default", sdpa(False))]


def step_rows(device):
    """(row, variant, model factory, inputs factory, targets factory) for the training steps."""
    g = torch.Generator(device="cpu").manual_seed(0)

    def images(b, flat):
        return torch.randn(b, 784 if flat else 1, *(() if flat else (28, 28)), generator=g).to(device)

    def labels(b):
        return torch.randint(0, 10, (b,), generator=g).to(device)

    def tokens(b, t=256):
        return torch.randint(0, 65, (b, t), generator=g).to(device)

    return [
        ("mlp b=128", "", Mlp, lambda: images(128, True), lambda: labels(128)),
        ("mlp b=4096", "", Mlp, lambda: images(4096, True), lambda: labels(4096)),
        ("cnn b=128", "", Cnn, lambda: images(128, False), lambda: labels(128)),
        ("cnn b=1024", "", Cnn, lambda: images(1024, False), lambda: labels(1024)),
        ("gpt b=64x256", "math", lambda: Gpt(math_attention=True), lambda: tokens(64), lambda: tokens(64)),
        ("gpt b=64x256", "default", lambda: Gpt(math_attention=False), lambda: tokens(64), lambda: tokens(64)),
    ]


class Timer:
    """Times calls with CUDA events (device time, median) and the host clock around call + sync (mean).

    A call may mark("forward") and mark("backward"); then the phases forward (start to forward), backward
    and optimizer (backward to the end of the call) are timed too, as TrainStepPhases does for jdl.
    """
    PHASE_ENDING_AT = {"forward": "forward", "backward": "backward", "end": "optimizer"}

    def __init__(self, device):
        self.cuda = device.type == "cuda"
        self.marks = {}

    def mark(self, name):
        """Records a named event in the current call (for phases); no-op on the CPU."""
        if self.cuda:
            self.marks[name] = torch.cuda.Event(enable_timing=True)
            self.marks[name].record()

    def run(self, call, warmup, steps):
        for _ in range(warmup):
            call()
        if self.cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        wall, event, phases = [], [], {}
        for _ in range(steps):
            t0 = time.perf_counter()
            self.marks = {}
            self.mark("start")
            call()
            self.mark("end")
            if self.cuda:
                torch.cuda.synchronize()
            wall.append((time.perf_counter() - t0) * 1e3)
            if self.cuda:
                names = list(self.marks)  # in recording order: start, [forward, backward,] end
                event.append(self.marks["start"].elapsed_time(self.marks["end"]))
                for a, b in zip(names, names[1:]) if len(names) > 2 else ():
                    phases.setdefault(self.PHASE_ENDING_AT[b], []).append(self.marks[a].elapsed_time(self.marks[b]))
        out = {"wall_ms": round(statistics.fmean(wall), 4), "wall_median_ms": round(statistics.median(wall), 4),
               "event_ms": round(statistics.median(event), 4) if event else None,
               "peak_bytes": torch.cuda.max_memory_allocated() if self.cuda else None, "steps": steps, "warmup": warmup}
        for name, values in phases.items():
            out[name + "_ms"] = round(statistics.median(values), 4)
        return out


def set_tf32(on):
    """TF32 for float32 matrix products and cuDNN convolutions (PyTorch >= 2.9 has fp32_precision for this)."""
    if hasattr(torch.backends.cuda.matmul, "fp32_precision"):
        torch.backends.cuda.matmul.fp32_precision = "tf32" if on else "ieee"
        torch.backends.cudnn.conv.fp32_precision = "tf32" if on else "ieee"
    else:
        torch.backends.cuda.matmul.allow_tf32 = on
        torch.backends.cudnn.allow_tf32 = on


AUTOCAST = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def train_step(make_model, make_x, make_y, device, compiled, timer, precision="fp32"):
    torch.manual_seed(0)
    model = make_model().to(device).train()
    forward = torch.compile(model) if compiled else model
    # foreach is what Adam picks on CUDA; on meta its default would be the per-parameter loop.
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, foreach=True if device.type == "meta" else None)
    x, y = make_x(), make_y()
    dtype = AUTOCAST[precision]
    scaler = torch.amp.GradScaler(device.type) if precision == "fp16" else None

    def step():
        # No autocast context at all for fp32: even a disabled torch.autocast("meta") raises "unsupported scalarType".
        with torch.autocast(device.type, dtype=dtype) if dtype is not None else contextlib.nullcontext():
            logits = forward(x)
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        timer.mark("forward")
        if scaler is None:
            loss.backward()
            timer.mark("backward")
            opt.step()
        else:
            scaler.scale(loss).backward()
            timer.mark("backward")
            scaler.step(opt)
            scaler.update()
        opt.zero_grad(set_to_none=True)
    return step


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu",
                   help="cuda, cpu, or meta (host-side cost only, nothing computed)")
    p.add_argument("--steps", type=int, default=30, help="timed calls per row")
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--tf32", choices=["off", "on", "both"], default="both")
    p.add_argument("--compile", action="store_true", help="then the training steps under torch.compile")
    p.add_argument("--precision", default="fp32",
                   help="autocast of the training steps' forward and loss (fp16 with GradScaler): fp32, bf16, fp16, "
                        "a comma-separated list of them (in that order of rows), or all: the three")
    p.add_argument("--budget", type=float, default=0, help="seconds after which no new row starts (0: none)")
    p.add_argument("--only", default="", help="run only rows whose name contains this text")
    a = p.parse_args()
    began = time.monotonic()
    device = torch.device(a.device)
    env = {"torch": torch.__version__, "device": str(device)}
    if device.type == "cuda":
        env.update(gpu=torch.cuda.get_device_name(device), capability=".".join(map(str, torch.cuda.get_device_capability(device))),
                   cuda=torch.version.cuda, cudnn=torch.backends.cudnn.version())
    print("ENV " + json.dumps(env), flush=True)
    timer = Timer(device)
    meta = device.type == "meta"
    if meta:
        print("NOTE meta device: host-side cost per step (dispatcher, autograd, optimizer; nothing computed), "
              "not GPU figures", flush=True)
    tf32_modes = [False] if meta else {"off": [False], "on": [True], "both": [False, True]}[a.tf32]
    if meta and a.precision != "fp32":
        p.error("--device meta measures fp32 host cost only: autocast has no meta device type")
    precisions = ["fp32", "bf16", "fp16"] if a.precision == "all" else a.precision.split(",")
    if not precisions or any(pr not in AUTOCAST for pr in precisions):
        p.error(f"--precision is fp32, bf16, fp16, a comma-separated list of them, or all; not {a.precision!r}")
    plan = []  # (row, variant, tf32, compiled, setup)
    for compiled in [False, True] if a.compile else [False]:
        for tf32 in tf32_modes:
            if not compiled and not meta and "fp32" in precisions:
                plan += [(row, variant, tf32, False, setup) for row, variant, setup in op_rows(device)]
            # autocast rows once, with TF32 off (as TrainStepBenchmark's -p precision rows): TF32 touches only
            # their float32 remainder
            plan += [(row + ("" if pr == "fp32" else " " + pr), variant, tf32, compiled,
                      lambda m=m, x=x, y=y, c=compiled, pr=pr: train_step(m, x, y, device, c, timer, pr))
                     for pr in precisions if pr == "fp32" or not tf32 for row, variant, m, x, y in step_rows(device)]
    results = []
    for row, variant, tf32, compiled, setup in plan:
        if a.only not in row:
            continue
        r = {"row": row, "variant": variant, "tf32": tf32, "compiled": compiled}
        if a.budget and time.monotonic() - began > a.budget:
            r["skipped"] = f"time budget of {a.budget:.0f} s spent"
        else:
            try:
                if not meta:
                    set_tf32(tf32)
                r.update(timer.run(setup(), a.warmup, a.steps))
            except Exception as e:  # one broken row (e.g. torch.compile without a compiler) must not stop the others
                r["error"] = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
            if device.type == "cuda":
                torch.cuda.empty_cache()
        results.append(r)
        print("RESULT " + json.dumps(r), flush=True)
    print(f"\n{'row':22} {'variant':8} {'tf32':5} {'compile':8} {'event ms':>10} {'wall ms':>10} {'peak MiB':>10}")
    for r in results:
        if "wall_ms" not in r:
            print(f"{r['row']:22} {r['variant']:8} {str(r['tf32']):5} {str(r['compiled']):8}  {r.get('error') or r.get('skipped')}")
            continue
        ev = f"{r['event_ms']:10.3f}" if r["event_ms"] is not None else f"{'-':>10}"
        peak = f"{r['peak_bytes'] / 2**20:10.1f}" if r["peak_bytes"] else f"{'-':>10}"
        print(f"{r['row']:22} {r['variant']:8} {str(r['tf32']):5} {str(r['compiled']):8} {ev} {r['wall_ms']:10.3f} {peak}")


if __name__ == "__main__":
    main()
