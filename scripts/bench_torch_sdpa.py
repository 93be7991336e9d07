#!/usr/bin/env python3
"""PyTorch side of jdl's AttentionBenchmark -p precision=bf16 (issue #14's fused-attention target): bfloat16
scaled_dot_product_attention forward + backward with PyTorch's default backend choice (flash / cuDNN /
memory-efficient, whichever it picks on this GPU), B=8 H=8 T=512 D=64, non-causal and causal:
sum(sdpa(q, k, v) * r).backward() on bf16 leaves, as the JMH row does.

Each call is timed with CUDA events (median) and with the host clock around the call and a synchronisation
(mean: JMH's average-time method, which the jdl row uses). Prints `ENV {json}`, then one `RESULT {json}`
per row. Needs PyTorch with CUDA: run it with the interpreter that has it, e.g.
  /path/to/venv/bin/python scripts/bench_torch_sdpa.py [--steps 50] [--warmup 10]
(install PyTorch with `pip install torch` in that environment; this script needs nothing else).
"""
import argparse
import json
import statistics
import sys
import time

try:
    import torch
    import torch.nn.functional as F
except ImportError:
    sys.exit("bench_torch_sdpa.py needs PyTorch: install it with `pip install torch` and run this script with "
             "that environment's python")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--warmup", type=int, default=10)
    args = p.parse_args()
    if not torch.cuda.is_available():
        sys.exit("bench_torch_sdpa.py: PyTorch sees no CUDA device")
    print("ENV " + json.dumps({"torch": torch.__version__, "cuda": torch.version.cuda,
                               "cudnn": torch.backends.cudnn.version(), "gpu": torch.cuda.get_device_name(0)}))
    g = torch.Generator(device="cpu").manual_seed(1)
    shape = (8, 8, 512, 64)

    def leaf():
        return torch.randn(shape, generator=g).to("cuda", torch.bfloat16).requires_grad_(True)

    for causal in (False, True):
        q, k, v = leaf(), leaf(), leaf()
        r = torch.randn(shape, generator=g).to("cuda", torch.bfloat16)

        def call():
            q.grad = k.grad = v.grad = None
            (F.scaled_dot_product_attention(q, k, v, is_causal=causal) * r).sum().backward()

        for _ in range(args.warmup):
            call()
        torch.cuda.synchronize()
        events, host = [], []
        for _ in range(args.steps):
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            t0 = time.perf_counter()
            start.record()
            call()
            end.record()
            torch.cuda.synchronize()
            host.append((time.perf_counter() - t0) * 1e3)
            events.append(start.elapsed_time(end))
        row = "attention 8x8x512x64 bf16" + (" causal" if causal else "")
        print("RESULT " + json.dumps({"row": row, "variant": "default", "ms_event_median": statistics.median(events),
                                      "ms_host_mean": statistics.mean(host), "steps": args.steps,
                                      "peak_bytes": torch.cuda.max_memory_allocated()}), flush=True)


if __name__ == "__main__":
    main()
