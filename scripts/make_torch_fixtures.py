#!/usr/bin/env python3
"""Writes the PyTorch-made test fixtures under src/test/resources/io/jdl/torch/ (committed; rerun only to change them).

    JDL_TORCH_PYTHON=/path/to/python scripts/make_torch_fixtures.py   # runs itself with that interpreter
    python3 scripts/make_torch_fixtures.py                            # or with any Python that has torch

Needs torch and safetensors in that interpreter (`pip install torch safetensors numpy`; CPU wheels suffice:
nothing here uses a GPU). Deterministic: the same torch version writes the same bytes.

1. half_tables.safetensors.gz -- the oracle of io.jdl.backend.HalfPrecision (gzip of a safetensors file):
   bf16_to_f32, f16_to_f32  F32 [65536]: element i is bit pattern i of the 16-bit type converted by
                            tensor.to(torch.float32);
   f32_inputs               F32 [N]: edge cases (signed zeros, infinities, NaN payloads quiet and signalling,
                            largest/smallest normals and subnormals of all three types, exact halfway points
                            between neighbouring bf16 and fp16 values and their float neighbours, the overflow
                            thresholds) then random bit patterns and random values spread over fp16's range;
   f32_to_bf16, f32_to_f16  BF16 / F16 [N]: tensor.to(torch.bfloat16 / torch.float16) of f32_inputs, as PyTorch's
                            CPU kernels round them (round to nearest, ties to even).
2. dtypes.safetensors (+ dtypes.json): one tensor of each dtype jdl reads (F32, F16, BF16, I64, I32, U8, BOOL)
   written by safetensors.torch.save_file; the JSON lists each tensor's dtype, shape and elements as integers
   (the raw bit patterns for the float types), so a reader is checked bit for bit without a conversion of its own.
3. seq_f32/f16/bf16.safetensors: the state dict of a small nn.Sequential(Conv2d, BatchNorm2d, ReLU, Flatten,
   Linear), after 3 training-mode forward passes (so running statistics and num_batches_tracked = 3, I64, are
   non-trivial), as float32 and converted with .half() / .bfloat16(); seq_f16_as_f32 / seq_bf16_as_f32 are the
   same state dicts converted back with .float() (what load_state_dict's copy_ into float32 tensors gives);
   seq_io.safetensors holds an input x [2, 1, 4, 4] and the eval-mode output y of the float32 model.
"""
import gzip
import json
import os
import sys

# The interpreter that has PyTorch: JDL_TORCH_PYTHON when set (the script re-runs itself with it), else this one.
_torch_python = os.environ.get("JDL_TORCH_PYTHON")
if _torch_python and not os.environ.get("_JDL_TORCH_PYTHON_RUNNING"):
    # Compared as given, not resolved: a virtual environment's python is a symlink to the base interpreter.
    if not os.access(_torch_python, os.X_OK):
        sys.exit(f"error: JDL_TORCH_PYTHON={_torch_python} is not an executable Python interpreter.")
    os.environ["_JDL_TORCH_PYTHON_RUNNING"] = "1"
    os.execv(_torch_python, [_torch_python] + sys.argv)

try:
    import numpy as np
    import torch
    from safetensors.torch import save, save_file
except ImportError as e:
    sys.exit(f"error: {e}. This script needs PyTorch, safetensors and numpy: pip install torch safetensors numpy "
             f"(any CPU build), then run this script with that Python: JDL_TORCH_PYTHON=/path/to/python (tried "
             f"{sys.executable}).")

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src", "test", "resources", "io", "jdl", "torch")


def f32(bits):
    """float32 tensor with exactly these bit patterns (no trip through Python floats, which would quiet NaNs)."""
    return torch.from_numpy(np.array(bits, dtype=np.uint32).view(np.float32).copy())


def edge_bits():
    b = [0x00000000, 0x80000000, 0x7F800000, 0xFF800000,               # +-0, +-inf
         0x7FC00000, 0xFFC00000, 0x7FC00001, 0x7FFFFFFF, 0xFFFFFFFF,     # quiet NaNs, payloads
         0x7F800001, 0xFF800001, 0x7FA00000, 0x7F812345, 0xFFB54321,     # signalling NaNs
         0x7F7FFFFF, 0xFF7FFFFF, 0x00800000, 0x80800000,                 # float max, min normal
         0x00000001, 0x80000001, 0x007FFFFF, 0x00400000, 0x00008000,     # float subnormals
         0x3F800000, 0xBF800000, 0x40490FDB]                             # 1, -1, pi
    # bf16: the halfway point between h and h+1 (low half 0x8000) for even and odd h, and its float neighbours;
    # across the exponent range, subnormals, and the overflow threshold (0x7F7F8000 rounds to inf).
    for h in [0x0000, 0x0001, 0x007F, 0x0080, 0x3F80, 0x3F81, 0x4049, 0x7F7E, 0x7F7F, 0x8001, 0xBF80, 0xFF7F]:
        for low in [0x7FFF, 0x8000, 0x8001, 0xFFFF]:
            b.append((h << 16) | low)
    # fp16: values around its limits and halfway points (as float32 bits)
    def fb(x):
        return int(np.array([x], dtype=np.float32).view(np.uint32)[0])
    for x in [65504.0, 65505.0, 65519.0, 65519.996, 65520.0, 65536.0, 1e5, 2.0 ** -14, 2.0 ** -24, 2.0 ** -25,
              2.0 ** -25 * 1.0000001, 2.0 ** -26, 3 * 2.0 ** -25, 5 * 2.0 ** -25, 2.0 ** -14 - 2.0 ** -25,
              2.0 ** -14 - 2.0 ** -26, 1 + 2.0 ** -11, 1 + 3 * 2.0 ** -11, 1 + 2.0 ** -11 + 2.0 ** -23, 2049.0,
              2051.0, 0.1, 1 / 3]:
        b.append(fb(x))
        b.append(fb(x) | 0x80000000)
    # fp16 halfway points between every pair of neighbours in a few binades, and their float neighbours
    for h in list(range(0x0000, 0x0010)) + list(range(0x03F0, 0x0410)) + list(range(0x3BF0, 0x3C10)) + [0x7BFE, 0x7BFF]:
        lo = np.array([h], dtype=np.uint16).view(np.float16).astype(np.float32)[0]
        hi = np.array([h + 1], dtype=np.uint16).view(np.float16).astype(np.float32)[0]
        mid = fb((float(lo) + float(hi)) / 2)
        b += [mid - 1, mid, mid + 1]
    return b


def half_tables():
    rng = np.random.default_rng(20261201)
    every = torch.arange(65536, dtype=torch.int32).to(torch.int16)
    random_bits = rng.integers(0, 2 ** 32, size=6000, dtype=np.uint64).astype(np.uint32)
    # values spread over fp16's whole range, normal and subnormal: sign * 2^e * (1 + m), e in [-27, 17]
    e = rng.integers(-27, 18, size=6000)
    spread = (rng.choice([-1.0, 1.0], size=6000) * np.ldexp(1 + rng.random(6000), e)).astype(np.float32)
    inputs = torch.cat([f32(edge_bits()), f32(random_bits), torch.from_numpy(spread)])
    tensors = {
        "bf16_to_f32": every.view(torch.bfloat16).to(torch.float32),
        "f16_to_f32": every.view(torch.float16).to(torch.float32),
        "f32_inputs": inputs,
        "f32_to_bf16": inputs.to(torch.bfloat16),
        "f32_to_f16": inputs.to(torch.float16),
    }
    data = save(tensors, metadata={"torch": torch.__version__, "script": "scripts/make_torch_fixtures.py"})
    with open(os.path.join(OUT, "half_tables.safetensors.gz"), "wb") as f:
        # mtime 0: the same tables give the same bytes
        with gzip.GzipFile(fileobj=f, mode="wb", mtime=0, compresslevel=9) as g:
            g.write(data)


def element_ints(t):
    """The elements as Python ints: raw bit patterns for float types, values otherwise."""
    flat = t.reshape(-1)
    if t.dtype == torch.float32:
        return [v & 0xFFFFFFFF for v in flat.view(torch.int32).tolist()]
    if t.dtype in (torch.float16, torch.bfloat16):
        return [v & 0xFFFF for v in flat.view(torch.int16).tolist()]
    return [int(v) for v in flat.tolist()]


def dtypes():
    base = torch.arange(-11, 13, dtype=torch.float32).reshape(4, 6) / 7
    specials = f32([0x7F800000, 0xFF800000, 0x80000000, 0x7FC00000, 0x00000001, 0x477FE000])  # inf, -inf, -0, NaN, tiny, 65504
    tensors = {
        "f32": torch.cat([base.reshape(-1), specials]).reshape(5, 6),
        "f16": torch.cat([base.reshape(-1), specials]).to(torch.float16).reshape(2, 15),
        "bf16": (torch.cat([base.reshape(-1), specials]) * 1000).to(torch.bfloat16).reshape(30),
        "i64": torch.tensor([0, 1, -1, 2 ** 53 + 1, -(2 ** 62) - 3, 2 ** 63 - 1, -(2 ** 63)], dtype=torch.int64),
        "i32": torch.tensor([[0, 1, -1], [2 ** 31 - 1, -(2 ** 31), 16777217]], dtype=torch.int32),
        "u8": torch.arange(0, 256, 17, dtype=torch.uint8),
        "bool": torch.tensor([[True, False, True], [False, False, True]]),
        "scalar_i64": torch.tensor(7, dtype=torch.int64),
        "empty_f16": torch.zeros(0, 3, dtype=torch.float16),
    }
    save_file(tensors, os.path.join(OUT, "dtypes.safetensors"), metadata={"torch": torch.__version__})
    plain = {name: {"dtype": str(t.dtype).replace("torch.", ""), "shape": list(t.shape), "elements": element_ints(t)}
             for name, t in tensors.items()}
    with open(os.path.join(OUT, "dtypes.json"), "w") as f:
        json.dump(plain, f, indent=1)
        f.write("\n")


def sequential():
    torch.manual_seed(1201)
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3, padding=1), torch.nn.BatchNorm2d(2), torch.nn.ReLU(),
                                torch.nn.Flatten(), torch.nn.Linear(2 * 4 * 4, 3))
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(torch.randn(5, 1, 4, 4))
    model.eval()
    x = torch.randn(2, 1, 4, 4)
    with torch.no_grad():
        y = model(x)
    save_file({"x": x, "y": y}, os.path.join(OUT, "seq_io.safetensors"))
    save_file(model.state_dict(), os.path.join(OUT, "seq_f32.safetensors"))
    for name, dtype in [("f16", torch.float16), ("bf16", torch.bfloat16)]:
        # Like model.half(): floating-point entries converted, num_batches_tracked stays int64.
        sd = {k: (v.to(dtype) if v.is_floating_point() else v) for k, v in model.state_dict().items()}
        save_file(sd, os.path.join(OUT, f"seq_{name}.safetensors"))
        save_file({k: v.float() for k, v in sd.items()}, os.path.join(OUT, f"seq_{name}_as_f32.safetensors"))


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    half_tables()
    dtypes()
    sequential()
    print("wrote", ", ".join(sorted(os.listdir(OUT))), "in", os.path.normpath(OUT), "with torch", torch.__version__)
