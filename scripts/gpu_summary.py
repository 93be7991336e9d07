#!/usr/bin/env python3
"""Summary of a GPU bundle run: reads the folder that bundle/run filled and writes summary.md there.

  python3 scripts/gpu_summary.py RESULTS_DIR      (bundle/run calls it last; rerun it any time)

Reads (each optional; what is missing is said so in the summary):
  environment.txt             date, commit, nvidia-smi, the versions jdl and PyTorch loaded
  stages.txt                  one line per stage: name, status, seconds, budget (bundle/run writes it)
  junit-gpu/*.xml, junit-cpu/*.xml   JUnit XML of the test stages; tests-*.log (tree) when no XML was written
  jmh-*.json, jmh-*.log       JMH results, and the log for benchmarks that failed
  phases.log                  TrainStepPhases' `PHASES {json}` lines (jdl, CUDA events per phase)
  torch.log                   bench_torch.py's `ENV` and `RESULT {json}` lines
  samples/*.log               the short sample runs (test_accuracy=, val_loss= lines)
Writes summary.md (printed too) and tests/<test class>.txt: each test's outcome, message, stack trace
and captured output, from the JUnit XML. Python 3 standard library only.
"""
import glob
import json
import os
import re
import statistics
import sys
import xml.etree.ElementTree as ET

UNIT_MS = {"ns/op": 1e-6, "us/op": 1e-3, "ms/op": 1.0, "s/op": 1e3}
SLOWER = 1.05  # jdl/PyTorch above this gets a per-phase breakdown


def read(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return None


def prefixed_json(text, prefix):
    """The JSON objects of the lines that start with prefix + ' '."""
    out = []
    for line in (text or "").splitlines():
        if line.startswith(prefix + " "):
            try:
                out.append(json.loads(line[len(prefix) + 1:]))
            except ValueError:
                pass
    return out


# ---- tests ----

def junit_cases(folder):
    """[(classname, name, status, message, detail, time, stdout, stderr)] from every XML file in folder."""
    cases = []
    for path in sorted(glob.glob(os.path.join(folder, "*.xml"))):
        try:
            root = ET.parse(path).getroot()
        except ET.ParseError as e:
            cases.append(("(unreadable report)", os.path.basename(path), "error", str(e), "", 0.0, "", ""))
            continue
        for tc in root.iter("testcase"):
            status, message, detail = "passed", "", ""
            for kind in ("failure", "error", "skipped"):
                el = tc.find(kind)
                if el is not None:
                    status = "failed" if kind == "failure" else kind
                    detail = (el.text or "").strip()
                    # The console launcher puts a skip's reason only in the text, as the exception's first line.
                    message = el.get("message") or re.sub(r"^\S*TestAbortedException: (Assumption failed: )?", "",
                                                          detail.splitlines()[0] if detail else "")
                    break
            # Captured output, less the launcher's own report entries (unique-id, display-name).
            out = "\n".join(l for e in tc.findall("system-out") for l in (e.text or "").splitlines()
                            if not l.startswith(("unique-id: ", "display-name: "))).strip()
            err = "\n".join((e.text or "") for e in tc.findall("system-err")).strip()
            cases.append((tc.get("classname", "?"), tc.get("name", "?"), status, message, detail,
                          float(tc.get("time") or 0), out, err))
    return cases


def tree_counts(log):
    """Counts from the console launcher's tree when no XML was written (the stage was cut short)."""
    # Tests are the leaves: "name() ✔" or a parameterized invocation "[3] 256 ■"; classes and parameterized
    # methods ("layerNorm(int) ✔") carry marks too and are not counted. Skipped is ■ (↷ in older launchers).
    plain = re.sub(r"\x1b\[[0-9;]*m", "", log or "")  # ANSI colours, if the launcher used them
    marks = re.findall(r"─ (?:\S+\(\)|\[\d+\][^✔✘■↷\n]*?) (✔|✘|■|↷)", plain)
    return {"passed": marks.count("✔"), "failed": marks.count("✘"), "skipped": marks.count("■") + marks.count("↷")}


def write_test_logs(cases, folder):
    os.makedirs(folder, exist_ok=True)
    by_class = {}
    for c in cases:
        by_class.setdefault(c[0], []).append(c)
    for cls, items in by_class.items():
        lines = []
        for _, name, status, message, detail, secs, out, err in items:
            lines.append(f"== {name}: {status.upper()} ({secs:.3f} s)")
            if message:
                lines.append(f"message: {message}")
            if detail and status != "skipped":
                lines.append(detail)
            if out:
                lines.append("-- stdout --\n" + out)
            if err:
                lines.append("-- stderr --\n" + err)
            lines.append("")
        with open(os.path.join(folder, re.sub(r"[^A-Za-z0-9._-]", "_", cls) + ".txt"), "w", encoding="utf-8") as f:
            f.write("\n".join(lines))


def tests_section(d, md):
    md.append("## Tests\n")
    any_set = False
    for label in ("gpu", "cpu"):
        folder, log = os.path.join(d, f"junit-{label}"), read(os.path.join(d, f"tests-{label}.log"))
        cases = junit_cases(folder) if os.path.isdir(folder) else []
        if not cases and log is None:
            continue
        any_set = True
        title = "GPU-tagged tests" if label == "gpu" else "other tests (CPU)"
        if not cases:
            c = tree_counts(log)
            md.append(f"- {title}: no JUnit XML (the stage was cut short or crashed); from the log's tree: "
                      f"{c['passed']} passed, {c['failed']} failed, {c['skipped']} skipped\n")
            continue
        write_test_logs(cases, os.path.join(d, "tests"))
        count = {s: sum(1 for c in cases if c[2] == s) for s in ("passed", "failed", "error", "skipped")}
        md.append(f"- {title}: **{count['passed']} passed, {count['failed'] + count['error']} failed, "
                  f"{count['skipped']} skipped** ({len(cases)} in all, {sum(c[5] for c in cases):.1f} s)")
        for cls, name, status, message, *_ in cases:
            if status in ("failed", "error"):
                first = (message or "").strip().splitlines()[0] if message and message.strip() else "(no message)"
                md.append(f"  - FAILED {cls.rsplit('.', 1)[-1]}.{name}: {first}")
        reasons = {}
        for c in cases:
            if c[2] == "skipped":
                reasons[c[3] or "(no reason)"] = reasons.get(c[3] or "(no reason)", 0) + 1
        for reason, n in sorted(reasons.items(), key=lambda kv: -kv[1])[:5]:
            md.append(f"  - skipped {n}×: {reason.splitlines()[0] if reason else ''}")
        md.append("")
    if not any_set:
        md.append("No test stage ran.\n")
    else:
        md.append("Each test's message, stack trace and output: `tests/<class>.txt`.\n")


# ---- benchmarks ----

def jmh_row(b):
    """(row, tf32, device) for a JMH result, in bench_torch.py's row names; None for rows without a PyTorch side."""
    name, p = b["benchmark"].rsplit(".", 2)[-2], b.get("params", {})
    tf32, device = p.get("tf32", "false") == "true", p.get("device", "cuda")
    if name == "SgemmBenchmark":
        return f"sgemm n={p['n']}", tf32, device
    if name == "ConvBenchmark":
        return "conv2d 64x64x56x56", tf32, device
    if name == "AttentionBenchmark":
        return "attention 8x8x512x64", tf32, device
    if name == "TrainStepBenchmark":
        model, batch = p.get("model"), p.get("batch")
        if model == "gpt":
            return f"gpt b={batch}x256" + ("" if p.get("precision", "fp32") == "fp32" else " " + p["precision"]), tf32, device
        hidden = p.get("hidden", "1024")
        precision = "" if p.get("precision", "fp32") == "fp32" else " " + p["precision"]  # bench_torch.py's autocast rows
        return (f"{model} b={batch}" if model != "mlp" or hidden == "1024" else f"mlp{hidden} b={batch}") + precision, tf32, device
    return None


def jmh_results(d):
    results = []
    for path in sorted(glob.glob(os.path.join(d, "jmh-*.json"))):
        try:
            with open(path, encoding="utf-8") as f:
                results += json.load(f)
        except (OSError, ValueError):
            pass
    return results


def jmh_failures(d):
    """[(benchmark with params, first exception line)] from the JMH logs."""
    out = []
    for path in sorted(glob.glob(os.path.join(d, "jmh-*.log"))):
        current, lines = None, (read(path) or "").splitlines()
        for i, line in enumerate(lines):
            if line.startswith("# Benchmark: "):
                current = line[len("# Benchmark: "):].strip()
            elif line.startswith("# Parameters: ") and current:
                current = current.split(" (")[0] + " " + line[len("# Parameters: "):].strip()
            elif line.strip() == "<failure>" and current:
                cause = next((l.strip() for l in lines[i + 1:i + 6] if l.strip()), "")
                out.append((current.replace("io.jdl.bench.", ""), cause))
    return out


def ms(b):
    m = b["primaryMetric"]
    return m["score"] * UNIT_MS.get(m["scoreUnit"], float("nan"))


def fmt(v, digits=3):
    return "–" if v is None else f"{v:.{digits}f}"


def mib(v):
    return "–" if not v else f"{v / 2**20:.0f}"


def peaks_from_logs(d):
    """{(row, tf32): bytes} from the `PEAK {json}` lines the jdl benchmarks print at TearDown."""
    return {(p["row"], p["tf32"]): p["peak_bytes"]
            for path in glob.glob(os.path.join(d, "jmh-*.log")) for p in prefixed_json(read(path), "PEAK")}


def bench_section(d, md):
    jmh, torch_log = jmh_results(d), read(os.path.join(d, "torch.log"))
    torch_rows = [r for r in prefixed_json(torch_log, "RESULT")]
    phases = {(p["row"], p["tf32"]): p for p in prefixed_json(read(os.path.join(d, "phases.log")), "PHASES")}
    ok = lambda r: "wall_ms" in r
    torch_by = {(r["row"], r["variant"], r["tf32"], r["compiled"]): r for r in torch_rows if ok(r)}
    md.append("## Benchmarks\n")
    if not jmh and not torch_rows:
        md.append("No benchmark results (see the stages above for why).\n")
        return
    md.append("jdl ms: JMH average time per call, each call ending in a stream synchronisation. PyTorch ms: mean of "
              "the host clock around each call and a synchronisation (the same method); the CUDA-event medians "
              "(device time between the call's first and last kernel) are in the next columns. Ratio: jdl ms / "
              "PyTorch ms, above 1 means jdl is slower. PyTorch's like-for-like row uses the math attention "
              "(unfused, as jdl computes it); \"other\" lists PyTorch's default attention and torch.compile.\n")
    md.append("| row | TF32 | jdl ms | PyTorch ms | jdl / PyTorch | jdl event ms | PyTorch event ms | PyTorch other (ms) "
              "| jdl peak MiB | PyTorch peak MiB |")
    md.append("|---|---|---:|---:|---:|---:|---:|---|---:|---:|")
    jdl_by = {}
    for b in jmh:
        key = jmh_row(b)
        if key:
            jdl_by[key] = b
    keys = []
    for r in torch_rows:
        k = (r["row"], r["tf32"])
        if k not in keys:
            keys.append(k)
    for row, tf32, device in jdl_by:
        if device == "cuda" and (row, tf32) not in keys:
            keys.append((row, tf32))
    log_peaks, slower = peaks_from_logs(d), []
    for row, tf32 in keys:
        b = jdl_by.get((row, tf32, "cuda"))
        t = next((torch_by[k] for k in [(row, v, tf32, False) for v in ("", "math")] if k in torch_by), None)
        others = [f"{v or 'eager'}{' compiled' if c else ''} {torch_by[(row, v, tf32, c)]['wall_ms']:.3f}"
                  for v in ("", "math", "default") for c in (False, True)
                  if (row, v, tf32, c) in torch_by and torch_by[(row, v, tf32, c)] is not t]
        jdl_ms = ms(b) if b else None
        ratio = jdl_ms / t["wall_ms"] if jdl_ms and t else None
        ph = phases.get((row, tf32))
        jdl_peak = log_peaks.get((row, tf32)) or (ph or {}).get("peak_bytes")
        if b is None:
            jdl_cell = "not run" if not any(k[0] == row for k in jdl_by) else "not run (TF32 off only)" if tf32 else "not run"
        else:
            jdl_cell = fmt(jdl_ms)
        md.append(f"| {row} | {'on' if tf32 else 'off'} | {jdl_cell} | {fmt(t['wall_ms']) if t else '–'} | "
                  f"{fmt(ratio, 2) if ratio else '–'} | {fmt(ph['event_ms']) if ph else '–'} | "
                  f"{fmt(t['event_ms']) if t else '–'} | {', '.join(others) or '–'} | {mib(jdl_peak)} | "
                  f"{mib(t['peak_bytes']) if t else '–'} |")
        if ratio and ratio > SLOWER:
            slower.append((row, tf32, jdl_ms, t, ph))
    md.append("")
    bad = [r for r in torch_rows if not ok(r)]
    if bad:
        md.append("PyTorch rows not timed: " + "; ".join(
            f"{r['row']} {r['variant']} tf32={r['tf32']}{' compiled' if r['compiled'] else ''}: {r.get('error') or r.get('skipped')}"
            for r in bad) + "\n")
    failures = jmh_failures(d) + [(l[len("PHASES-ERROR "):].split(": ", 1)[0], l.split(": ", 1)[-1])
                                  for l in (read(os.path.join(d, "phases.log")) or "").splitlines()
                                  if l.startswith("PHASES-ERROR ")]
    if failures:
        md.append("jdl benchmarks that failed: " + "; ".join(f"{b}: {c}" for b, c in failures) + "\n")
    downcall_section(jmh, md)
    breakdown_section(slower, md)


def downcall_section(jmh, md):
    calls = {b["benchmark"].rsplit(".", 1)[-1]: ms(b) * 1e6 for b in jmh if ".DowncallBenchmark." in b["benchmark"]}
    if not calls:
        return
    md.append("### Safe-layer overhead per call (cudaStreamSynchronize on an idle stream)\n")
    md.append("| call | ns |\n|---|---:|")
    for name in ("rawDowncall", "rawDowncallChecked", "safeLayer"):
        if name in calls:
            md.append(f"| {name} | {calls[name]:.0f} |")
    if "rawDowncall" in calls and "safeLayer" in calls:
        md.append(f"\nThe safe layer adds {calls['safeLayer'] - calls['rawDowncall']:.0f} ns per call over the raw downcall.")
    md.append("")


def breakdown_section(slower, md):
    md.append("### Where the time goes (rows where jdl is slower than PyTorch eager)\n")
    if not slower:
        md.append("No row with both sides measured is slower than PyTorch by more than 5%.\n")
        return
    for row, tf32, jdl_ms, t, ph in slower:
        head = f"- **{row}, TF32 {'on' if tf32 else 'off'}**: jdl {jdl_ms:.3f} ms against {t['wall_ms']:.3f} ms"
        if not ph:
            md.append(head + ". A single operation (no phases): compare the CUDA-event columns above; a jdl call "
                             "much slower on the host clock than on the device is launch- or sync-bound.")
            continue
        gaps = []
        for phase in ("forward", "backward", "optimizer"):
            a, b = ph.get(phase + "_ms"), t.get(phase + "_ms")
            if a is not None and b is not None:
                gaps.append((a - b, phase, a, b))
        host, torch_host = ph["wall_ms"] - ph["event_ms"], t["wall_median_ms"] - t["event_ms"]
        parts = [f"{phase} {a:.3f} vs {b:.3f} ms ({gap:+.3f})" for gap, phase, a, b in gaps]
        worst = max(gaps) if gaps else None
        md.append(head + f"; device time {ph['event_ms']:.3f} vs {t['event_ms']:.3f} ms. Per phase (CUDA events, "
                  f"jdl vs PyTorch): " + ", ".join(parts) + "." +
                  (f" Most of the device-time gap is in the {worst[1]}." if worst and worst[0] > 0 else "") +
                  (f" jdl's host clock exceeds its device time by {host:.3f} ms per step (PyTorch's by "
                   f"{torch_host:.3f} ms): the GPU waits for the host (kernel launches, allocation, Java work between "
                   f"launches)." if host > 0.2 * ph["wall_ms"] else ""))
    md.append("")


# ---- the rest ----

def samples_section(d, md):
    md.append("## Samples (short runs)\n")
    logs = sorted(glob.glob(os.path.join(d, "samples", "*.log")))
    if not logs:
        md.append("No sample ran.\n")
        return
    for path in logs:
        text, name = read(path) or "", os.path.basename(path)[:-4]
        acc = re.findall(r"test_accuracy=([0-9.]+)", text) or re.findall(r"test accuracy ([0-9.]+)", text)
        val = re.findall(r"val_loss=([0-9.]+)", text) or re.findall(r"validation loss ([0-9.]+)", text)
        status = re.findall(r"^exit status: (.*)$", text, re.M)
        args = re.findall(r"^arguments: (.*)$", text, re.M)
        result = (f"test accuracy {acc[-1]}" if acc else "") + (f"validation loss {val[-1]} nats/char" if val else "")
        md.append(f"- {name}: **{result or 'no final metric printed'}**; "
                  f"{'exit status ' + status[-1] if status else 'no exit status (cut short?)'}"
                  f"{'; `' + args[-1] + '`' if args else ''}")
        if not (acc or val):
            tail = [l for l in text.strip().splitlines() if l.strip()][-3:]
            md.extend(f"  > {l[:200]}" for l in tail)
    md.append("")


def header(d, md):
    env = read(os.path.join(d, "environment.txt")) or ""

    def field(key):
        m = re.search(rf"^{re.escape(key)}: (.*)$", env, re.M)
        return m.group(1).strip() if m else None
    torch_env = (prefixed_json(read(os.path.join(d, "torch.log")), "ENV") or [{}])[0]
    smi = field("nvidia-smi")
    device = field("cuda.device.0") or (smi if smi and smi != "not found" else None) or "no usable CUDA device"
    md.append(f"# jdl GPU run: {device.split(',')[0]}, {field('date') or '?'}\n")
    md.append(f"- commit {field('commit') or '?'}; host {field('host') or '?'}")
    md.append(f"- nvidia-smi: {field('nvidia-smi') or 'not available'}")
    md.append(f"- as jdl loaded them: CUDA runtime {field('cuda.runtime')}, driver (CUDA) {field('cuda.driver')}, "
              f"cuBLAS {field('cublas')}, cuDNN {field('cudnn')}; device {field('cuda.device.0') or field('cuda.unavailable.reason')}")
    if torch_env:
        md.append(f"- PyTorch {torch_env.get('torch')} (CUDA {torch_env.get('cuda')}, cuDNN {torch_env.get('cudnn')}) "
                  f"on {torch_env.get('gpu', torch_env.get('device'))}")
    stages = [l.split("\t") for l in (read(os.path.join(d, "stages.txt")) or "").splitlines() if l.strip()]
    if stages:
        md.append("\n## Stages\n\n| stage | result | seconds | budget s |\n|---|---|---:|---:|")
        md.extend(f"| {' | '.join(s)} |" for s in stages if len(s) == 4)
    md.append("")


def main():
    if len(sys.argv) != 2 or not os.path.isdir(sys.argv[1]):
        sys.exit("usage: gpu_summary.py RESULTS_DIR (the folder bundle/run wrote)")
    d, md = sys.argv[1], []
    header(d, md)
    tests_section(d, md)
    bench_section(d, md)
    samples_section(d, md)
    text = "\n".join(md) + "\n"
    with open(os.path.join(d, "summary.md"), "w", encoding="utf-8") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
