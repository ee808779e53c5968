"""llama-quantize's tensor quantizer, run from the llama.cpp library inside the PyPI wheel `xllamacpp` (build b11549).

That library does not export `llama_model_quantize` (llama.cpp's `src/llama-quant.cpp` is not linked into it), but it
exports `ggml_quantize_chunk`, the one function `llama_model_quantize` calls to encode a tensor. `quantize` follows
`llama_tensor_quantize_impl` of `src/llama-quant.cpp` around it: no importance matrix; one call for the whole
tensor when `nthread < 2`; otherwise chunks of whole rows (at least 32 * 512 elements, `min_chunk_size`) handed to
`nthread` workers. The workers are Python threads blocked in `ggml_quantize_chunk` (ctypes releases the GIL for the
call), so they run in parallel as llama.cpp's `std::thread`s do. What this does not cover is llama-quantize's
choice of type per tensor (`llama_tensor_get_type`), which the caller passes in.

Like `llama_cpp_runtime.logits`, the work runs in a child process (this file as a script) so that a ggml abort
fails the caller with ggml's message instead of killing it.

Usage as a script: `python llama_cpp_quantize.py REQUEST.json` with {"source": F32 GGUF, "out": .npz path,
"types": {tensor name: ggml type id}, "nthread": N}; writes one uint8 array per named tensor and the seconds spent
in quantization (key `__seconds__`, float64).
"""
import ctypes
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from llama_cpp_runtime import LlamaCppError, library_path

MIN_CHUNK_SIZE = 32 * 512  # llama_model_quantize_impl's min_chunk_size (elements)

_lib = None


def _library():
    global _lib
    if _lib is None:
        _lib = ctypes.CDLL(str(library_path()))
        _lib.ggml_quantize_chunk.restype = ctypes.c_size_t
        _lib.ggml_quantize_chunk.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64,
                                             ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p]
        _lib.ggml_row_size.restype = ctypes.c_size_t
        _lib.ggml_row_size.argtypes = [ctypes.c_int, ctypes.c_int64]
    return _lib


def quantize_rows(values: np.ndarray, ggml_type: int, nthread: int = 1) -> bytes:
    """ggml's encoding of `values` (rows of ggml `ne[0]` = the last axis) as `ggml_type`, chunked over `nthread`
    workers as `llama_tensor_quantize_impl` does. In this process: callers outside a child should use `quantize`."""
    lib = _library()
    values = np.ascontiguousarray(values, dtype=np.float32)
    n_per_row = values.shape[-1]
    nrows = values.size // n_per_row
    row_size = lib.ggml_row_size(ggml_type, n_per_row)
    out = np.empty(nrows * row_size, dtype=np.uint8)
    src, dst = values.ctypes.data, out.ctypes.data
    chunk_size = n_per_row if n_per_row >= MIN_CHUNK_SIZE else n_per_row * -(-MIN_CHUNK_SIZE // n_per_row)
    rows_per_chunk = chunk_size // n_per_row
    nchunk = -(-nrows // rows_per_chunk)
    workers = max(1, min(nthread, nchunk)) if nthread > 1 else 1
    if workers == 1:
        written = lib.ggml_quantize_chunk(ggml_type, src, dst, 0, nrows, n_per_row, None)
        assert written == out.size, (written, out.size)
        return out.tobytes()
    lock, next_row, sizes = threading.Lock(), [0], []

    def work():
        local = 0
        while True:
            with lock:
                first = next_row[0]
                next_row[0] += rows_per_chunk
            if first >= nrows:
                break
            count = min(nrows - first, rows_per_chunk)
            local += lib.ggml_quantize_chunk(ggml_type, src, dst, first * n_per_row, count, n_per_row, None)
        sizes.append(local)

    threads = [threading.Thread(target=work) for _ in range(workers - 1)]
    for thread in threads:
        thread.start()
    work()
    for thread in threads:
        thread.join()
    assert sum(sizes) == out.size, (sum(sizes), out.size)
    return out.tobytes()


def quantize(source_gguf, types: dict, nthread: int = 1):
    """llama.cpp's bytes for the tensors of the F32 GGUF `source_gguf` named in `types` ({name: ggml type id}),
    quantized with `nthread` workers in a child process. Returns ({name: bytes}, seconds spent quantizing)."""
    library_path()  # a missing package is an error here, not a child-process failure
    with tempfile.TemporaryDirectory() as scratch:
        request, out = Path(scratch) / "request.json", Path(scratch) / "out.npz"
        request.write_text(json.dumps({"source": str(source_gguf), "out": str(out),
                                       "types": {k: int(v) for k, v in types.items()}, "nthread": nthread}))
        proc = subprocess.run([sys.executable, __file__, str(request)], capture_output=True, text=True,
                              env={**os.environ, "GGML_NO_BACKTRACE": "1"})
        if proc.returncode != 0:
            raise LlamaCppError(f"ggml_quantize_chunk failed (exit {proc.returncode}) on {source_gguf}:\n"
                                f"{proc.stderr.strip()}")
        with np.load(out) as arrays:
            seconds = float(arrays["__seconds__"])
            return {name: arrays[name].tobytes() for name in arrays.files if name != "__seconds__"}, seconds


def main(argv):
    import gguf

    request = json.loads(Path(argv[1]).read_text())
    reader = gguf.GGUFReader(request["source"])
    tensors = {t.name: t for t in reader.tensors}
    results, seconds = {}, 0.0
    for name, ggml_type in request["types"].items():
        tensor = tensors[name]
        if tensor.tensor_type != gguf.GGMLQuantizationType.F32:
            print(f"{name} is {tensor.tensor_type.name}, expected F32", file=sys.stderr)
            return 1
        values = np.asarray(tensor.data, dtype=np.float32)
        start = time.perf_counter()
        encoded = quantize_rows(values, ggml_type, request["nthread"])
        seconds += time.perf_counter() - start
        results[name] = np.frombuffer(encoded, dtype=np.uint8)
    np.savez(request["out"], __seconds__=np.float64(seconds), **results)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
