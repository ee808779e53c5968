#!/usr/bin/env python3
"""Reference for forward_bench.py: llama.cpp's own prompt-processing speed on the same model and machine.

Runs the llama.cpp build inside the PyPI wheel `xllamacpp` (pinned in requirements/reference.txt) through its C
API, as Tests/interop/llama_cpp_runtime.py does, on SmolLM2-135M-Instruct (the packaged Q4_1 GGUF and an F32 GGUF
written by `quail convert --dtype f32`), at 1 and 2 threads. One `llama_decode` of a 512-token batch on an empty
KV cache is timed per measurement (the context is rebuilt between measurements, outside the timing), in two modes:

- `pp512`: logits for the last position only, what `llama-bench -p 512` measures;
- `ppl`: logits for the 255 positions llama.cpp's perplexity rule scores (the work `quail eval` does per chunk).

F16 KV cache (llama-bench's default), flash attention off and on. Every number is the best of --repeats decodes
after one warm-up decode. Usage: .venv/bin/python bench/llama_cpp_pp_bench.py [--repeats 5] [--json]
Build quail first (for the F32 conversion): swift build -c release --product quail
"""
import argparse
import ctypes
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "Tests" / "interop"))
sys.path.insert(0, str(REPO / "bench"))
import llama_cpp_runtime as runtime  # noqa: E402
from forward_bench import CTX, QUAIL, smollm2_gguf  # noqa: E402

LOAD_MODE_MMAP = 1
FLASH_ATTN = {"off": 0, "on": 1}  # llama_flash_attn_type


def decode_seconds(model, tokens, threads, scored_rows, flash_attention, repeats):
    """Best wall time of one llama_decode of `tokens` with logits requested for the last `scored_rows` positions."""
    library = runtime.library()
    lib = library.lib
    lib.llama_get_memory.restype, lib.llama_get_memory.argtypes = ctypes.c_void_p, [ctypes.c_void_p]
    lib.llama_memory_clear.restype, lib.llama_memory_clear.argtypes = None, [ctypes.c_void_p, ctypes.c_bool]
    params = lib.llama_context_default_params()
    params.n_ctx = params.n_batch = params.n_ubatch = len(tokens)
    params.n_threads = params.n_threads_batch = threads
    params.flash_attn_type = FLASH_ATTN[flash_attention]
    params.no_perf = True
    batch = lib.llama_batch_init(len(tokens), 0, 1)
    best = float("inf")
    try:
        for i, token in enumerate(tokens):
            batch.token[i], batch.pos[i], batch.n_seq_id[i] = int(token), i, 1
            batch.seq_id[i][0] = 0
            batch.logits[i] = 1 if i >= len(tokens) - scored_rows else 0
        batch.n_tokens = len(tokens)
        context = lib.llama_init_from_model(model, params)
        if not context:
            library.fail("llama.cpp could not create a context")
        try:
            memory = lib.llama_get_memory(context)
            for attempt in range(repeats + 1):  # the first decode warms up
                lib.llama_memory_clear(memory, True)
                start = time.perf_counter()
                status = lib.llama_decode(context, batch)
                elapsed = time.perf_counter() - start
                if status != 0:
                    library.fail(f"llama_decode returned {status}")
                if attempt > 0:
                    best = min(best, elapsed)
        finally:
            lib.llama_free(context)
    finally:
        lib.llama_batch_free(batch)
    return best


def load_model(path):
    """llama.cpp's model handle for the GGUF at `path` (CPU, memory-mapped); free it with `free_model`."""
    lib = runtime.library().lib
    params = lib.llama_model_default_params()
    params.n_gpu_layers = 0
    params.load_mode = LOAD_MODE_MMAP
    model = lib.llama_model_load_from_file(str(path).encode(), params)
    if not model:
        runtime.library().fail(f"llama.cpp could not load {path}")
    return model


def free_model(model):
    runtime.library().lib.llama_model_free(model)


def perplexity_chunk_speed(path, tokens, threads, repeats):
    """llama.cpp's tokens/s on one perplexity chunk of `tokens` (logits for the scored half), the better of flash
    attention off and on: the reference `forward_bench.py --llama-cpp` compares `quail eval` with."""
    model = load_model(path)
    try:
        scored = len(tokens) - 1 - len(tokens) // 2
        return len(tokens) / min(decode_seconds(model, tokens, threads, scored, flash, repeats) for flash in FLASH_ATTN)
    finally:
        free_model(model)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rng = np.random.default_rng(1)
    tokens = rng.integers(0, 49152, CTX).tolist()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        f32 = Path(tmp) / "smollm2-f32.gguf"
        subprocess.run([str(QUAIL), "convert", str(smollm2_gguf()), str(f32), "--dtype", "f32"], check=True,
                       capture_output=True)
        for label, path in (("Q4_1 as stored", smollm2_gguf()), ("F32", f32)):
            model = load_model(path)
            try:
                for threads in (1, 2):
                    for mode, scored in (("pp512", 1), ("ppl", CTX - 1 - CTX // 2)):
                        for flash in FLASH_ATTN:
                            seconds = decode_seconds(model, tokens, threads, scored, flash, args.repeats)
                            results.append({"weights": label, "threads": threads, "mode": mode,
                                            "flash_attention": flash, "tokens_per_second": CTX / seconds})
            finally:
                free_model(model)
    if args.json:
        print(json.dumps({"llama_cpp": runtime.library().path.name, "results": results}, indent=2))
        return
    print(f"llama.cpp ({runtime.system_info().strip()})")
    print(f"{'weights':16} {'threads':>7} {'mode':>6} {'flash attn':>10} {'tok/s':>8}")
    for r in results:
        print(f"{r['weights']:16} {r['threads']:>7} {r['mode']:>6} {r['flash_attention']:>10} "
              f"{r['tokens_per_second']:8.1f}")


if __name__ == "__main__":
    main()
