#!/usr/bin/env python3
"""Benchmark: `quail sign` and `quail verify` throughput (GB/s; files hashed in parallel) on a generated
multi-GB directory, compared in the same run with `model_signing sign key` / `verify key` (PyPI
model-signing), `sha256sum` in one process, `xargs -P2 sha256sum`, and the SHA-256 limit.

The limit is measured three ways in the same run: one core hashing an in-memory buffer (Python hashlib, i.e.
OpenSSL with SHA-NI where the CPU has it); every core doing so at once (what the shared machine offers right
now); and one process hashing the files themselves with 1 MiB reads (the in-memory limit plus the kernel's
page-cache copy, which every file reader pays). The files are read once before timing, so every tool hashes
from the page cache: the numbers measure hashing, not the disk. CPU seconds (user + system of the child) are
reported too, since wall time on a shared machine depends on what else runs.

Target: Quail within 10% of the limit per core, scaling with min(cores, files).

Usage: .venv/bin/python bench/sign_bench.py [--gib 4] [--files 8] [--repeat 3] [--keep DIR]
Build quail first: swift build -c release --product quail
"""
import argparse
import hashlib
import multiprocessing
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
QUAIL = Path(os.environ.get("QUAIL_BIN", REPO / ".build" / "release" / "quail"))


def make_directory(root: Path, gib: float, files: int) -> None:
    """Writes `files` files totalling about `gib` GiB (a random 64 MiB block repeated, each file with its own
    prefix so no two are equal) and a small config."""
    (root / "weights").mkdir(parents=True)
    block = os.urandom(64 << 20)
    per_file = int(gib * 2**30 / files)
    for index in range(files):
        with open(root / "weights" / f"model-{index:05d}-of-{files:05d}.safetensors", "wb") as out:
            written = out.write(f"file {index}\n".encode())
            while written < per_file:
                written += out.write(block[: min(len(block), per_file - written)])
    (root / "config.json").write_text('{"model_type": "llama"}\n')


def hash_files(paths) -> None:
    buffer = bytearray(1 << 20)
    view = memoryview(buffer)
    for path in paths:
        digest = hashlib.sha256()
        with open(path, "rb", buffering=0) as f:
            while count := f.readinto(buffer):
                digest.update(view[:count])


def in_memory_rate(seconds: float = 2.0) -> float:
    """Bytes per second of one core hashing an in-memory buffer with hashlib."""
    buffer = os.urandom(64 << 20)
    hashed, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        hashlib.sha256(buffer).digest()
        hashed += len(buffer)
    return hashed / (time.perf_counter() - start)


def child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(command, repeat: int, stdin: str | None = None):
    """(wall seconds, CPU seconds) of the fastest of `repeat` runs (the least disturbed one)."""
    best = (float("inf"), 0.0)
    for _ in range(repeat):
        cpu, start = child_cpu(), time.perf_counter()
        proc = subprocess.run(command, input=stdin, capture_output=True, text=True)
        wall = time.perf_counter() - start
        if proc.returncode != 0:
            raise SystemExit(f"failed ({proc.returncode}): {command}\n{proc.stderr}{proc.stdout}")
        best = min(best, (wall, child_cpu() - cpu))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gib", type=float, default=4.0)
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="generate into (and keep) this directory")
    args = parser.parse_args()
    if not QUAIL.exists():
        raise SystemExit(f"{QUAIL} not found; run: swift build -c release --product quail")
    work = args.keep or Path(tempfile.mkdtemp(prefix="quail-sign-bench-"))
    model = work / "model"
    try:
        if not model.exists():
            make_directory(model, args.gib, args.files)
        files = [str(p) for p in sorted(model.rglob("*")) if p.is_file() and p.name != "model.sig"]
        size = sum(os.path.getsize(p) for p in files)
        keys = work / "keys"
        keys.mkdir(exist_ok=True)
        for name in ("k.pem", "k.pub"):
            (keys / name).unlink(missing_ok=True)
        subprocess.run([QUAIL, "keygen", "--private", keys / "k.pem", "--public", keys / "k.pub"], check=True,
                       capture_output=True)
        hash_files(files)  # warm the page cache
        cores = os.cpu_count() or 1
        used = min(cores, len(files))
        one_core = in_memory_rate()
        with multiprocessing.Pool(cores) as pool:
            all_cores = sum(pool.starmap(in_memory_rate, [(2.0,)] * cores))
        start = time.perf_counter()
        hash_files(files)
        file_rate = size / (time.perf_counter() - start)

        py, ms_sig = sys.executable, work / "ms.sig"
        sign = [str(QUAIL), "sign", str(model), "--key", str(keys / "k.pem"), "--force"]
        # (label, (wall, cpu), limit to compare with, its name)
        rows = [
            ("sha256sum, 1 process", timed(["sha256sum", *files], args.repeat), one_core, "1-core"),
            ("xargs -P2 -n1 sha256sum",
             timed(["xargs", "-0", "-P2", "-n1", "sha256sum"], args.repeat, stdin="\0".join(files)), all_cores,
             "all-core"),
            ("quail sign, 1 core (taskset -c 0)", timed(["taskset", "-c", "0", *sign], args.repeat), one_core,
             "1-core"),
            (f"quail sign, {cores} cores", timed(sign, args.repeat), all_cores, "all-core"),
            (f"quail verify, {cores} cores",
             timed([str(QUAIL), "verify", str(model), "--key", str(keys / "k.pub")], args.repeat), all_cores,
             "all-core"),
            ("model_signing sign key",
             timed([py, "-m", "model_signing", "sign", "key", str(model), "--private_key", str(keys / "k.pem"),
                    "--signature", str(ms_sig)], args.repeat), all_cores, "all-core"),
            ("model_signing verify key",
             timed([py, "-m", "model_signing", "verify", "key", str(model), "--signature", str(ms_sig),
                    "--public_key", str(keys / "k.pub")], args.repeat), all_cores, "all-core"),
        ]
        print(f"directory: {len(files)} files, {size / 2**30:.2f} GiB in the page cache; {cores} cores; "
              f"best of {args.repeat}; GB = 1e9 bytes")
        print(f"SHA-256 limit, 1 core, in memory            {one_core / 1e9:6.2f} GB/s")
        print(f"SHA-256 limit, {cores} cores at once, in memory   {all_cores / 1e9:6.2f} GB/s "
              f"({all_cores / one_core:.2f} x 1 core)")
        print(f"hashlib over the files, 1 process, 1 MiB    {file_rate / 1e9:6.2f} GB/s "
              f"({file_rate / one_core:.1%} of 1-core limit)")
        print(f"{'':38s} {'wall':>8s} {'GB/s':>6s} {'of limit':>18s} {'GB/CPU-s':>9s}")
        for label, (wall, cpu), limit, name in rows:
            rate = size / wall
            print(f"{label:38s} {wall:7.2f}s {rate / 1e9:6.2f} {rate / limit:8.1%} {name:>9s} "
                  f"{size / cpu / 1e9:9.2f}")
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
