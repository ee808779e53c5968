#!/usr/bin/env python3
"""Benchmark: `quail quantize` throughput (MB/s of F32 input) for NF4, Q8_0, Q4_0, Q4_K and IQ4_NL with 1 and 2
worker threads (QUAIL_THREADS), on a synthetic F32 llama checkpoint generated on the fly, compared in the same
run with gguf-py's NumPy quantizer (`gguf.quants.quantize`) where it has one (Q8_0, Q4_0).

Quail's time is the whole command (read, Q/K permutation, quantize, write, fsync); gguf-py's is the quantize calls
only, on arrays already in memory. Throughput counts the F32 bytes of the tensors that are quantized.

Usage: .venv/bin/python bench/quantize_bench.py [--mib 256] [--threads 1 2]
Build quail first: swift build -c release --product quail
"""
import argparse
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import gguf
import numpy as np

from synthetic_llama import write_side_files
from safetensors.numpy import save_file

REPO = Path(__file__).resolve().parents[1]
QUAIL = Path(os.environ.get("QUAIL_BIN", REPO / ".build" / "release" / "quail"))
TYPES = ["nf4", "q8_0", "q4_0", "q4_k", "iq4_nl"]


def make_checkpoint(directory: Path, mib: float):
    """An F32 llama checkpoint of about `mib` MiB of decoder weights (Gaussian values, rows multiples of 256)
    with the fixture tokenizer. Returns the arrays of the decoder Linear weights."""
    hidden, ffn, heads = 1024, 2816, 8
    per_layer = 4 * (4 * hidden * hidden + 3 * hidden * ffn)
    layers = max(1, int(mib * 2**20 / per_layer))
    vocab = write_side_files(directory, hidden=hidden, ffn=ffn, heads=heads, kv_heads=heads, layers=layers,
                             torch_dtype="float32")
    rng = np.random.default_rng(0)
    tensors = {"model.embed_tokens.weight": rng.standard_normal((vocab, hidden), np.float32) * 0.02,
               "model.norm.weight": np.ones(hidden, np.float32)}
    linears = {}
    for i in range(layers):
        p = f"model.layers.{i}."
        tensors[p + "input_layernorm.weight"] = np.ones(hidden, np.float32)
        tensors[p + "post_attention_layernorm.weight"] = np.ones(hidden, np.float32)
        for name, shape in (("self_attn.q_proj", (hidden, hidden)), ("self_attn.k_proj", (hidden, hidden)),
                            ("self_attn.v_proj", (hidden, hidden)), ("self_attn.o_proj", (hidden, hidden)),
                            ("mlp.gate_proj", (ffn, hidden)), ("mlp.up_proj", (ffn, hidden)),
                            ("mlp.down_proj", (hidden, ffn))):
            linears[p + name + ".weight"] = rng.standard_normal(shape, np.float32) * 0.02
    tensors.update(linears)
    save_file(tensors, directory / "model.safetensors", metadata={"format": "pt"})
    return linears


def run_quail(source: Path, out: Path, qtype: str, threads: int):
    """Runs quail quantize; returns (seconds, peak RSS MiB)."""
    dest = out / (f"{qtype}-{threads}" + ("" if qtype == "nf4" else ".gguf"))
    args = [str(QUAIL), "quantize", str(source), str(dest), "--type", qtype]
    if qtype != "nf4":
        args += ["--type-for", f"layers\\.=" + qtype]  # every decoder weight gets the type, no output rule
    env = dict(os.environ, QUAIL_THREADS=str(threads))
    start = time.perf_counter()
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"quail failed: {proc.stderr.read().decode()}")
    shutil.rmtree(dest) if dest.is_dir() else dest.unlink()
    return seconds, usage.ru_maxrss / 1024


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=float, default=256, help="MiB of F32 decoder weights (default 256)")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--types", nargs="+", default=TYPES)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=os.environ.get("TMPDIR", "/tmp")) as tmp:
        tmp = Path(tmp)
        linears = make_checkpoint(tmp / "src", args.mib)
        mb = sum(a.nbytes for a in linears.values()) / 1e6
        print(f"{len(linears)} decoder weights, {mb:.1f} MB of F32 input; quail {QUAIL}; "
              f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
        print(f"{'type':8} {'threads':>7} {'quail MB/s':>11} {'peak RSS MiB':>13} {'gguf-py MB/s':>13} {'ratio':>6}")
        for qtype in args.types:
            reference = None
            ggml = getattr(gguf.GGMLQuantizationType, qtype.upper(), None)
            if ggml is not None:
                try:
                    start = time.perf_counter()
                    for array in linears.values():
                        gguf.quants.quantize(array, ggml)
                    reference = mb / (time.perf_counter() - start)
                except NotImplementedError:
                    reference = None
            for threads in args.threads:
                seconds, rss = run_quail(tmp / "src", tmp, qtype, threads)
                rate = mb / seconds
                ref_text = f"{reference:13.1f}" if reference else f"{'n/a':>13}"
                ratio = f"{rate / reference:6.1f}" if reference else f"{'':>6}"
                print(f"{qtype:8} {threads:7d} {rate:11.1f} {rss:13.0f} {ref_text} {ratio}", flush=True)


if __name__ == "__main__":
    main()
