#!/usr/bin/env python3
"""Benchmark: `quail inspect` time and `quail convert` throughput with peak RSS on a large synthetic
llama checkpoint generated on the fly, compared in the same run with the PyPI safetensors loader.

Usage: .venv/bin/python bench/convert_bench.py [--gib 3] [--keep DIR]
Build quail first: swift build -c release --product quail
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from synthetic_llama import write_side_files

REPO = Path(__file__).resolve().parents[1]
QUAIL = Path(os.environ.get("QUAIL_BIN", REPO / ".build" / "release" / "quail"))


def make_checkpoint(directory: Path, gib: float) -> int:
    """Writes an F16 llama checkpoint of about `gib` GiB (random bits), sharded at 2 GB, with the fixture
    tokenizer. Returns the tensor bytes."""
    hidden, ffn, heads, kv = 2048, 5632, 16, 4
    per_layer = 2 * (hidden * hidden * 2 + hidden * (hidden // heads * kv) * 2 + 3 * hidden * ffn) + 4 * hidden
    layers = max(1, int(gib * 2**30 / per_layer))
    vocab = write_side_files(directory, hidden=hidden, ffn=ffn, heads=heads, kv_heads=kv, layers=layers,
                             torch_dtype="float16")
    rng = np.random.default_rng(0)
    shapes = {"model.embed_tokens.weight": [vocab, hidden], "model.norm.weight": [hidden]}
    for i in range(layers):
        p = f"model.layers.{i}."
        shapes.update({
            p + "input_layernorm.weight": [hidden], p + "post_attention_layernorm.weight": [hidden],
            p + "self_attn.q_proj.weight": [hidden, hidden], p + "self_attn.o_proj.weight": [hidden, hidden],
            p + "self_attn.k_proj.weight": [hidden // heads * kv, hidden],
            p + "self_attn.v_proj.weight": [hidden // heads * kv, hidden],
            p + "mlp.gate_proj.weight": [ffn, hidden], p + "mlp.up_proj.weight": [ffn, hidden],
            p + "mlp.down_proj.weight": [hidden, ffn],
        })
    # Write shards by hand : values are random finite F16 bit patterns.
    shard_limit, shards, current, size = 2_000_000_000, [], {}, 0
    for name, shape in shapes.items():
        nbytes = int(np.prod(shape)) * 2
        if current and size + nbytes > shard_limit:
            shards.append(current)
            current, size = {}, 0
        current[name] = shape
        size += nbytes
    shards.append(current)
    weight_map, total = {}, 0
    for index, shard in enumerate(shards, 1):
        fname = f"model-{index:05d}-of-{len(shards):05d}.safetensors"
        header, offset = {"__metadata__": {"format": "pt"}}, 0
        for name in sorted(shard):
            nbytes = int(np.prod(shard[name])) * 2
            header[name] = {"dtype": "F16", "shape": shard[name], "data_offsets": [offset, offset + nbytes]}
            offset += nbytes
            weight_map[name] = fname
        text = json.dumps(header, separators=(",", ":")).encode()
        text += b" " * (-len(text) % 8)
        with open(directory / fname, "wb") as f:
            f.write(len(text).to_bytes(8, "little") + text)
            for name in sorted(shard):
                n = int(np.prod(shard[name]))
                bits = (rng.integers(0x2C00, 0x3C00, size=n, dtype=np.uint16) | (rng.integers(0, 2, size=n, dtype=np.uint16) << 15))
                f.write(bits.tobytes())
        total += offset
    index = {"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}
    (directory / "model.safetensors.index.json").write_text(json.dumps(index, indent=2))
    return total


MEASURE = """
import resource, subprocess, sys, time
start = time.perf_counter()
code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode
print(time.perf_counter() - start, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, code)
"""


def timed(cmd):
    """Runs a command in a fresh wrapper process; returns (seconds, peak RSS of the command in MiB)."""
    out = subprocess.run([sys.executable, "-c", MEASURE, *cmd], capture_output=True, text=True, check=True)
    seconds, rss_kib, code = out.stdout.split()
    if int(code) != 0:
        sys.exit(f"{cmd[0]} failed with exit code {code}")
    return float(seconds), int(rss_kib) / 1024


SAFETENSORS_LOAD = """
import sys, time, resource
from pathlib import Path
from safetensors import safe_open
start = time.perf_counter(); n = 0
for path in sorted(Path(sys.argv[1]).glob("*.safetensors")):
    with safe_open(path, framework="numpy") as f:
        for key in f.keys():
            n += f.get_slice(key)[:].nbytes
print(time.perf_counter() - start, n)
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gib", type=float, default=3.0, help="checkpoint size in GiB (default 3)")
    parser.add_argument("--keep", type=Path, help="work directory to keep (default: a temporary one)")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="quail-bench-"))
    try:
        src = work / "hf"
        if not src.exists():
            print(f"generating a {args.gib} GiB F16 checkpoint in {src} …", file=sys.stderr)
            make_checkpoint(src, args.gib)
        size = sum(p.stat().st_size for p in src.glob("*.safetensors"))
        subprocess.run(["sync"])
        t_inspect, _ = timed([str(QUAIL), "inspect", str(src), "--json"])
        out = work / "model.gguf"
        out.unlink(missing_ok=True)
        t_convert, rss_convert = timed([str(QUAIL), "convert", str(src), str(out)])
        t_load, rss_load = timed([sys.executable, "-c", SAFETENSORS_LOAD, str(src)])
        copy = work / "copy.bin"
        t_copy, _ = timed(["sh", "-c", f'cat "{src}"/*.safetensors > "{copy}" && sync "{copy}"'])
        copy.unlink()
        rows = [
            ("checkpoint", f"{size / 2**30:.2f} GiB F16"),
            ("quail inspect", f"{t_inspect:.3f} s"),
            ("quail convert HF->GGUF", f"{t_convert:.2f} s, {size / t_convert / 1e9:.2f} GB/s, peak RSS {rss_convert:.0f} MiB"),
            ("safetensors (PyPI) load all tensors", f"{t_load:.2f} s, {size / t_load / 1e9:.2f} GB/s, peak RSS {rss_load:.0f} MiB"),
            ("cat shards > file && sync (disk copy)", f"{t_copy:.2f} s, {size / t_copy / 1e9:.2f} GB/s"),
            ("ratio convert/load time", f"{t_convert / t_load:.2f}"),
            ("ratio convert/disk-copy time", f"{t_convert / t_copy:.2f}"),
        ]
        for name, value in rows:
            print(f"{name:40s} {value}")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
