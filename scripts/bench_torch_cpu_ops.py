#!/usr/bin/env python3
"""PyTorch CPU on the shapes of CpuGemmLibrariesBenchmark and CpuConvBenchmark (the reference for
results/cpu/gemm-libraries-jmh.log and native-cpu-jmh.log).

  $JDL_TORCH_PYTHON scripts/bench_torch_cpu_ops.py [--threads 2] [--seconds 1]

Needs PyTorch (pip install torch, in any virtual environment; point JDL_TORCH_PYTHON at its python).
Each row: ms per call over --seconds after a warm-up of the same length: the fastest call (min, what JMH's
sample mode prints as p0.00), the median and the mean; GFLOP/s of the fastest call for the matrix products.
"""
import argparse
import statistics
import time

import torch
import torch.nn.functional as F


def times_ms(fn, seconds):
    """(min, median, mean) ms per call."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:  # warm-up
        fn()
    times, start = [], time.perf_counter()
    while time.perf_counter() - start < seconds:
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return min(times), statistics.median(times), statistics.fmean(times)


def row(name, t, flops=None):
    rate = f"  {flops / t[0] / 1e6:6.1f} GFLOP/s (min)" if flops else ""
    print(f"{name:46s} min {t[0]:8.3f}  median {t[1]:8.3f}  mean {t[2]:8.3f} ms{rate}")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seconds", type=float, default=1.0)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, MKL {torch.backends.mkl.is_available()},"
          f" oneDNN {torch.backends.mkldnn.is_available()}")
    for shape in ["512x512x512:NN", "128x784x1024:NN", "128x1024x784:NT", "784x128x1024:TN",
                  "128x1024x1024:NN", "128x1024x1024:NT", "1024x128x1024:TN"]:
        dims, tt = shape.split(":")
        m, k, n = map(int, dims.split("x"))
        x = torch.randn(k, m).t() if tt[0] == "T" else torch.randn(m, k)
        y = torch.randn(n, k).t() if tt[1] == "T" else torch.randn(k, n)
        out = torch.empty(m, n)
        row(f"gemm {shape}", times_ms(lambda: torch.matmul(x, y, out=out), a.seconds), 2.0 * m * n * k)
    # The cnn sample's second convolution at its CPU width 16: x [128, 16, 14, 14], w [32, 16, 3, 3], padding 1.
    x = torch.randn(128, 16, 14, 14, requires_grad=True)
    w = torch.randn(32, 16, 3, 3, requires_grad=True)
    r = torch.randn(128, 32, 14, 14)
    with torch.no_grad():
        row("conv2d 128x16x14x14 k32 3x3 forward", times_ms(lambda: F.conv2d(x, w, padding=1), a.seconds))

    def fwd_bwd():
        x.grad = w.grad = None
        F.conv2d(x, w, padding=1).backward(r)

    row("conv2d 128x16x14x14 k32 3x3 forward+backward", times_ms(fwd_bwd, a.seconds))


if __name__ == "__main__":
    main()
