#!/usr/bin/env python3
"""Driver of scripts/bench-cpu: jdl (io.jdl.bench.CpuStepRows) and PyTorch CPU (bench_cpu_torch.py) on the same
rows, interleaved: both run as long-lived processes that keep every row built and warm, and each round runs a
block of steps of one row in jdl, then the same in PyTorch (the order alternates between rounds: A B, B A, ...),
so load from other processes on the machine falls on both sides alike. Standard library only.

PyTorch runs with torch.set_num_threads = jdl's thread count and glibc's allocator kept warm, as jemalloc or
tcmalloc would keep it (see ALLOCATOR below); without it glibc returns freed blocks to the system after every
step and PyTorch pays page faults on each new buffer.

Prints `ENV {json}`, `RAW {json}` per block, then per row: medians, interquartile range (p25-p75) and the ratio
of medians jdl / PyTorch, with the range of the per-round ratios.

  JDL_BENCH_JAVA='java -cp ... io.jdl.bench.CpuStepRows' python3 scripts/bench_cpu.py [--rounds 8]
      [--warmup-rounds 2] [--block-seconds 0.4] [--only TEXT[,TEXT...]] [--threads N] [--jdl-baseline='JVM OPTIONS']
--jdl-baseline=OPTIONS (with '=': they start with a dash) adds a second jdl process with those JVM options (e.g. -Djdl.cpu.conv.gemm=off) to every round: a
before/after of one switch under the same load, printed as its own table.
The Python for PyTorch is $JDL_TORCH_PYTHON (default python3).
"""
import argparse
import json
import math
import os
import shlex
import statistics
import subprocess
import sys
import time

ROWS = ["mlp-b128", "mlp-b1024", "cnn16-b128", "conv2d-b128", "gpt-b16", "matmul-128x784x1024", "matmul-512"]

# glibc malloc kept warm: no trimming of the heap top, no mmap for blocks up to the 32 MiB maximum (every
# tensor of these rows is smaller), and 256 MiB of extra heap per growth.
ALLOCATOR = {"MALLOC_TRIM_THRESHOLD_": str(1 << 40), "MALLOC_MMAP_THRESHOLD_": str(32 << 20),
             "MALLOC_TOP_PAD_": str(256 << 20)}

TORCH_MISSING = ("PyTorch is not importable by {py}: install it (CPU build: `python3 -m venv ~/torch-venv && "
                 "~/torch-venv/bin/pip install torch --index-url https://download.pytorch.org/whl/cpu`) and set "
                 "JDL_TORCH_PYTHON=~/torch-venv/bin/python; running the jdl side only.")


class Side:
    def __init__(self, name, argv, env=None):
        self.name = name
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env,
                                     bufsize=1)

    def ask(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        while True:
            out = self.proc.stdout.readline()
            if not out:
                raise RuntimeError(f"{self.name} side ended (exit {self.proc.wait()}) after: {line}")
            if out.startswith(("TIMES", "INFO")):
                return out.split()

    def run(self, row, steps):
        words = self.ask(f"{row} {steps}")
        return [float(w) for w in words[2:]]

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=20).stdout.strip()
    except Exception as e:  # the environment report must not stop the benchmark
        return f"unavailable: {e}"


def environment(jdl_info, torch_info):
    flags = sh("grep -m1 '^flags' /proc/cpuinfo").split()
    return {
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "commit": sh("git rev-parse --short HEAD") + (" (dirty)" if sh("git status --porcelain -uno") else ""),
        "cpu": sh("lscpu | sed -n 's/^Model name: *//p'"), "cores": os.cpu_count(),
        "avx512": sorted(f for f in flags if f.startswith("avx512")),
        "kernel": sh("uname -sr"), "loadavg": sh("cat /proc/loadavg"),
        "busiest": sh("ps -eo pcpu=,comm= --sort=-pcpu | head -5").splitlines(),
        "jdl": " ".join(jdl_info[1:]), "torch": " ".join(torch_info[1:]) if torch_info else "not run",
        "torch_env": ALLOCATOR,
    }


def quantile(xs, q):
    xs = sorted(xs)
    i = (len(xs) - 1) * q
    lo, hi = math.floor(i), math.ceil(i)
    return xs[lo] + (xs[hi] - xs[lo]) * (i - lo)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("--warmup-rounds", type=int, default=2)
    ap.add_argument("--block-seconds", type=float, default=0.4)
    ap.add_argument("--only", default="", help="rows whose name contains any of these comma-separated texts")
    ap.add_argument("--threads", type=int, default=0, help="jdl's and PyTorch's threads (default: jdl's default)")
    ap.add_argument("--jdl-baseline", default="", help="JVM options (e.g. -Djdl.cpu.conv.gemm=off) of a second jdl "
                    "process interleaved with the others: a before/after of one jdl switch on the same load")
    args = ap.parse_args()
    rows = [r for r in ROWS if any(o in r for o in args.only.split(","))]
    java = shlex.split(os.environ["JDL_BENCH_JAVA"])
    jdl_env = dict(os.environ)
    if args.threads:
        java.insert(1, f"-Djdl.cpu.threads={args.threads}")
        jdl_env["OMP_NUM_THREADS"] = str(args.threads)  # oneDNN's calls run on OpenMP's threads, not jdl's pool
    jdl = Side("jdl", java, env=jdl_env)
    jdl_info = jdl.ask("INFO")
    threads = int(jdl_info[1].split("=")[1])

    py = os.environ.get("JDL_TORCH_PYTHON", "python3")
    torch, torch_info = None, None
    if subprocess.run([py, "-c", "import torch"], capture_output=True).returncode != 0:
        print(TORCH_MISSING.format(py=py), flush=True)
    else:
        here = os.path.dirname(os.path.abspath(__file__))
        # PyTorch as its users run it: OpenMP's default waiting (scripts/bench-cpu sets OMP_WAIT_POLICY=PASSIVE
        # for jdl's oneDNN only), its threads set by torch.set_num_threads.
        torch_env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "OMP_NUM_THREADS")}
        torch = Side("torch", [py, os.path.join(here, "bench_cpu_torch.py")], env={**torch_env, **ALLOCATOR})
        torch_info = torch.ask(f"THREADS {threads}")
    env = environment(jdl_info, torch_info)
    print("ENV " + json.dumps(env), flush=True)
    load = float(env["loadavg"].split()[0]) if env["loadavg"][:1].isdigit() else 0.0
    if load > os.cpu_count():
        print(f"WARNING: load average {load} on {os.cpu_count()} cores: other processes compete for the CPU. "
              "Interleaving spreads the load over both sides, but multi-threaded steps suffer from "
              "oversubscription unevenly (PyTorch's OpenMP threads spin at barriers); --threads 1 compares "
              "one core each and is the fairer measure on a busy machine.", flush=True)

    base = None
    if args.jdl_baseline:
        base = Side("jdl-base", java[:1] + shlex.split(args.jdl_baseline) + java[1:], env=jdl_env)
        base.ask("INFO")
        print("BASELINE jdl-base = jdl with " + args.jdl_baseline, flush=True)
    sides = [jdl] + ([base] if base else []) + ([torch] if torch else [])
    steps = {}
    for row in rows:  # build, first warm-up, and block sizes from the slower side
        per_step = max(statistics.median(s.run(row, 3)) for s in sides)
        steps[row] = max(3, min(200, round(args.block_seconds * 1e3 / max(per_step, 1e-3))))
    times = {(s.name, r): [] for s in sides for r in rows}
    ratios = {r: [] for r in rows}
    base_ratios = {r: [] for r in rows}
    for rnd in range(args.warmup_rounds + args.rounds):
        for row in rows:
            medians = {}
            for s in (sides if rnd % 2 == 0 else sides[::-1]):
                t = s.run(row, steps[row])
                medians[s.name] = statistics.median(t)
                if rnd >= args.warmup_rounds:
                    times[(s.name, row)] += t
                    print("RAW " + json.dumps({"round": rnd - args.warmup_rounds, "side": s.name, "row": row,
                                               "ms": t}), flush=True)
            if torch and rnd >= args.warmup_rounds:
                ratios[row].append(medians["jdl"] / medians["torch"])
            if base and rnd >= args.warmup_rounds:
                base_ratios[row].append(medians["jdl"] / medians["jdl-base"])
    print("END loadavg " + sh("cat /proc/loadavg"))
    for s in sides:
        s.close()

    print(f"\n{len(rows)} rows, {args.rounds} interleaved rounds (+{args.warmup_rounds} warm-up), {threads} threads; "
          "times in ms per step: median [p25-p75]")
    print(f"{'row':22} {'jdl':>22} {'PyTorch':>22} {'jdl/PyTorch':>12} {'per-round ratio':>16}")
    for row in rows:
        j = times[("jdl", row)]
        line = f"{row:22} {statistics.median(j):8.2f} [{quantile(j, .25):.2f}-{quantile(j, .75):.2f}]".ljust(45)
        if torch:
            t = times[("torch", row)]
            line += f" {statistics.median(t):8.2f} [{quantile(t, .25):.2f}-{quantile(t, .75):.2f}]".ljust(23)
            line += f" {statistics.median(j) / statistics.median(t):11.2f}x {min(ratios[row]):7.2f}-{max(ratios[row]):.2f}"
        print(line)
    if base:
        print(f"\njdl-base = jdl with {args.jdl_baseline}, interleaved in the same rounds")
        print(f"{'row':22} {'jdl-base':>22} {'jdl/jdl-base':>13} {'per-round ratio':>16}")
        for row in rows:
            b = times[("jdl-base", row)]
            print(f"{row:22} {statistics.median(b):8.2f} [{quantile(b, .25):.2f}-{quantile(b, .75):.2f}]".ljust(45)
                  + f" {statistics.median(times[('jdl', row)]) / statistics.median(b):12.2f}x "
                  + f"{min(base_ratios[row]):7.2f}-{max(base_ratios[row]):.2f}")


if __name__ == "__main__":
    main()
