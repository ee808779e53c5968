#!/usr/bin/env python3
"""Benchmark: `quail quantize` against llama.cpp's quantizer per thread count (MB/s of F32 input) for Q8_0, Q4_0,
Q4_K, IQ4_NL and Q6_K, on the synthetic F32 llama checkpoint of quantize_bench.py converted to GGUF by `quail
convert --dtype f32`.

llama.cpp: `ggml_quantize_chunk` of build b11549 (PyPI xllamacpp), called as llama-quantize's
`llama_tensor_quantize_impl` calls it (Tests/interop/llama_cpp_quantize.py), with nthread workers; timed around the
quantize calls only (no reading, no writing; the F32 source is a memory map of the GGUF file, in the page cache).
Quail, two numbers from the same `QUAIL_THREADS=N quail quantize --json` run: the whole command's wall time (start,
read, quantize, write, fsync), and `quantize_seconds` from its report, the wall time of its quantizer calls only
(Quail also encodes an F32 source straight from the memory-mapped file), which is the like-for-like comparison
with the llama.cpp column. Both quantize the same tensors to the same types (Quail's choice, read from its dry run):
every decoder weight to TYPE (`--type-for layers\\.=TYPE`) and the token embedding by the output rule. MB/s counts
the F32 bytes of the decoder weights (both sides also quantize the token embedding). A ratio above 1 means
Quail is faster.

Usage: .venv/bin/python bench/llama_quantize_bench.py [--mib 128] [--threads 1 2] [--types ...]
Build quail first: swift build -c release --product quail
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import gguf

from quantize_bench import QUAIL, make_checkpoint

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "Tests" / "interop"))
from llama_cpp_quantize import quantize as llama_quantize  # noqa: E402

TYPES = ["q8_0", "q4_0", "q4_k", "iq4_nl", "q6_k"]


def quail_args(source, dest, qtype):
    return [str(QUAIL), "quantize", str(source), str(dest), "--type", qtype, "--type-for", f"layers\\.={qtype}"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=float, default=128, help="MiB of F32 decoder weights (default 128)")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--types", nargs="+", default=TYPES)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=os.environ.get("TMPDIR", "/tmp")) as tmp:
        tmp = Path(tmp)
        linears = make_checkpoint(tmp / "src", args.mib)
        source = tmp / "src.gguf"
        subprocess.run([str(QUAIL), "convert", str(tmp / "src"), str(source), "--dtype", "f32"], check=True,
                       stdout=subprocess.DEVNULL)
        mb = sum(a.nbytes for a in linears.values()) / 1e6
        print(f"{len(linears)} decoder weights, {mb:.1f} MB of F32 input; quail {QUAIL}; "
              f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
        print(f"{'type':8} {'threads':>7} {'quail cmd MB/s':>14} {'quail quant MB/s':>16} {'llama.cpp MB/s':>15} "
              f"{'cmd/llama':>10} {'quant/llama':>12}")
        for qtype in args.types:
            dest = tmp / f"{qtype}.gguf"
            plan = json.loads(subprocess.run(quail_args(source, dest, qtype) + ["--dry-run", "--json"], check=True,
                                             capture_output=True, text=True).stdout)
            types = {t["name"]: int(gguf.GGMLQuantizationType[t["type"].upper()]) for t in plan["tensors"]
                     if t["type"] != "f32"}
            for threads in args.threads:
                start = time.perf_counter()
                run = subprocess.run(quail_args(source, dest, qtype) + ["--force", "--json"], check=True,
                                     capture_output=True, text=True, env=dict(os.environ, QUAIL_THREADS=str(threads)))
                quail_rate = mb / (time.perf_counter() - start)
                quant_seconds = json.loads(run.stdout).get("quantize_seconds")  # absent before 2026-11-29
                quant_rate = mb / quant_seconds if quant_seconds else float("nan")
                dest.unlink()
                _, seconds = llama_quantize(source, types, nthread=threads)
                llama_rate = mb / seconds
                print(f"{qtype:8} {threads:7d} {quail_rate:14.1f} {quant_rate:16.1f} {llama_rate:15.1f} "
                      f"{quail_rate / llama_rate:10.2f} {quant_rate / llama_rate:12.2f}", flush=True)
        print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
