#!/usr/bin/env python3
"""Summary table of a scripts/bench-host-cost raw output file (host-side cost per training step, NOT GPU results).

usage: scripts/host_cost_summary.py RAW_FILE

Per row (mlp b=128, cnn b=128, gpt b=64x256):
  jdl median/min  the median and minimum of the JMH measurement iterations of TrainStepBenchmark on the host
                  stand-in in no-compute mode, over every fork in the file (wall-clock ms per step);
  calls, launches jdl's native calls and kernel launches per step (NativeCounters, printed by the benchmark);
  jdl cpu         the median of TrainStepCpuTime's rounds: the calling thread's CPU time per step, which a
                  loaded machine does not inflate the way it inflates wall time (absent for rows not probed);
  alloc           Java heap bytes the stepping thread allocated per step (TrainStepCpuTime);
  torch meta      PyTorch's step on the meta device (bench_torch.py's median), the lower bound of its own host cost.
Only the Python standard library is needed.
"""
import json
import re
import statistics
import sys


def parse(lines):
    rows = {}
    current = None
    pending = False

    def row(name):
        return rows.setdefault(name, {"iterations": [], "calls": None, "launches": None, "cpu": None, "alloc": None,
                                      "torch": None})

    for line in lines:
        m = re.match(r"# Parameters: \((.*)\)", line)
        if m:
            params = dict(p.split(" = ") for p in m.group(1).split(", "))
            batch = params["batch"] + ("x256" if params["model"] == "gpt" else "")
            current = f"{params['model']} b={batch}"
            continue
        m = re.match(r"Iteration\s+\d+: ([\d.]+) ms/op", line)
        if m and current:
            row(current)["iterations"].append(float(m.group(1)))
            continue
        # An iteration whose score line came after output the benchmark printed meanwhile (its PEAK line).
        if re.match(r"Iteration\s+\d+:\s*$", line):
            pending = True
            continue
        m = re.match(r"([\d.]+) ms/op$", line)
        if m and pending and current:
            row(current)["iterations"].append(float(m.group(1)))
            pending = False
            continue
        m = re.match(r"jdl counters, (\w+) batch (\d+): (\d+) native calls, (\d+) kernel launches", line)
        if m:
            name = f"{m.group(1)} b={m.group(2)}" + ("x256" if m.group(1) == "gpt" else "")
            row(name)["calls"], row(name)["launches"] = int(m.group(3)), int(m.group(4))
            continue
        m = re.match(r"CPUTIME (\w+) b=(\d+): thread cpu median ([\d.]+) .* ([\d]+) bytes allocated per step", line)
        if m:
            name = f"{m.group(1)} b={m.group(2)}"
            row(name)["cpu"], row(name)["alloc"] = float(m.group(3)), int(m.group(4))
            continue
        if line.startswith("RESULT {"):
            result = json.loads(line[len("RESULT "):])
            r = row(result["row"])
            # The gpt row has two attention variants; keep the faster, as the lower bound.
            median = result.get("wall_median_ms") or result.get("wall_ms")
            if median is not None and (r["torch"] is None or median < r["torch"]):
                r["torch"] = median
    return rows


def fmt(value, digits=4):
    return "-" if value is None else f"{value:.{digits}f}"


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: host_cost_summary.py RAW_FILE")
    with open(sys.argv[1], encoding="utf-8") as f:
        rows = parse(f.read().splitlines())
    print("# summary (host-side cost per training step on this CPU, NOT GPU results; ms per step)")
    print(f"{'row':<14} {'jdl median':>10} {'jdl min':>8} {'iters':>5} {'calls':>5} {'launches':>8} "
          f"{'jdl cpu':>8} {'alloc B':>8} {'torch meta':>10}")
    for name, r in rows.items():
        its = r["iterations"]
        print(f"{name:<14} {fmt(statistics.median(its) if its else None):>10} {fmt(min(its) if its else None):>8} "
              f"{len(its):>5} {r['calls'] if r['calls'] is not None else '-':>5} "
              f"{r['launches'] if r['launches'] is not None else '-':>8} {fmt(r['cpu']):>8} "
              f"{r['alloc'] if r['alloc'] is not None else '-':>8} {fmt(r['torch'], 3):>10}")


if __name__ == "__main__":
    main()
