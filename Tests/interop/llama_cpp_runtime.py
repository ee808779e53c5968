"""Runs llama.cpp itself on a GGUF model (optionally with a `--lora` adapter GGUF) and returns its logits.

The llama.cpp build is the one inside the PyPI wheel `xllamacpp` (pinned in requirements/reference.txt): its
extension module is a plain shared library that exports llama.cpp's C API (llama.h at build b11549). This module
loads that library with ctypes and calls the C API directly, the same sequence as llama.cpp's `llama-cli --lora`:
`llama_model_load_from_file` -> `llama_init_from_model` -> `llama_adapter_lora_init` + `llama_set_adapters_lora`
-> `llama_decode` of one batch that requests logits at every position -> `llama_get_logits_ith`. Each call runs
in a child process (this file as a script), so a ggml abort fails the caller with llama.cpp's message.

Only the few declarations used here are written out; the struct layouts follow llama.h at b11549 (field order and
types of `llama_model_params`, `llama_context_params`, `llama_batch`). `_check_layout` reads the library's default
parameters back through these layouts, so a layout mismatch (another llama.cpp build) fails loudly.
"""
import ctypes
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

PACKAGE = "xllamacpp"  # PyPI package that ships the prebuilt llama.cpp CPU library
GGML_TYPE_F32 = 0
FLASH_ATTN_DISABLED = 0
LOAD_MODE_MMAP = 1
LOG_LEVELS_KEPT = (3, 4)  # GGML_LOG_LEVEL_WARN, GGML_LOG_LEVEL_ERROR


class LlamaModelParams(ctypes.Structure):
    _fields_ = [
        ("devices", ctypes.c_void_p), ("tensor_buft_overrides", ctypes.c_void_p),
        ("n_gpu_layers", ctypes.c_int32), ("split_mode", ctypes.c_int), ("load_mode", ctypes.c_int),
        ("lazy_mode", ctypes.c_int), ("main_gpu", ctypes.c_int32), ("tensor_split", ctypes.c_void_p),
        ("progress_callback", ctypes.c_void_p), ("progress_callback_user_data", ctypes.c_void_p),
        ("kv_overrides", ctypes.c_void_p), ("vocab_only", ctypes.c_bool), ("check_tensors", ctypes.c_bool),
        ("use_extra_bufts", ctypes.c_bool), ("no_host", ctypes.c_bool), ("no_alloc", ctypes.c_bool),
        ("load_mtp", ctypes.c_bool),
    ]


class LlamaContextParams(ctypes.Structure):
    _fields_ = [
        ("n_ctx", ctypes.c_uint32), ("n_batch", ctypes.c_uint32), ("n_ubatch", ctypes.c_uint32),
        ("n_seq_max", ctypes.c_uint32), ("n_rs_seq", ctypes.c_uint32), ("n_outputs_max", ctypes.c_uint32),
        ("n_outputs_max_per_seq", ctypes.c_uint32), ("n_threads", ctypes.c_int32),
        ("n_threads_batch", ctypes.c_int32), ("ctx_type", ctypes.c_int), ("rope_scaling_type", ctypes.c_int),
        ("pooling_type", ctypes.c_int), ("attention_type", ctypes.c_int), ("flash_attn_type", ctypes.c_int),
        ("rope_freq_base", ctypes.c_float), ("rope_freq_scale", ctypes.c_float),
        ("yarn_ext_factor", ctypes.c_float), ("yarn_attn_factor", ctypes.c_float),
        ("yarn_beta_fast", ctypes.c_float), ("yarn_beta_slow", ctypes.c_float), ("yarn_orig_ctx", ctypes.c_uint32),
        ("defrag_thold", ctypes.c_float), ("cb_eval", ctypes.c_void_p), ("cb_eval_user_data", ctypes.c_void_p),
        ("type_k", ctypes.c_int), ("type_v", ctypes.c_int), ("moe_cache_size", ctypes.c_size_t),
        ("abort_callback", ctypes.c_void_p), ("abort_callback_data", ctypes.c_void_p),
        ("embeddings", ctypes.c_bool), ("offload_kqv", ctypes.c_bool), ("no_perf", ctypes.c_bool),
        ("op_offload", ctypes.c_bool), ("swa_full", ctypes.c_bool), ("kv_unified", ctypes.c_bool),
        ("samplers", ctypes.c_void_p), ("n_samplers", ctypes.c_size_t), ("ctx_other", ctypes.c_void_p),
    ]


class LlamaBatch(ctypes.Structure):
    _fields_ = [
        ("n_tokens", ctypes.c_int32), ("token", ctypes.POINTER(ctypes.c_int32)),
        ("embd", ctypes.POINTER(ctypes.c_float)), ("pos", ctypes.POINTER(ctypes.c_int32)),
        ("n_seq_id", ctypes.POINTER(ctypes.c_int32)), ("seq_id", ctypes.POINTER(ctypes.POINTER(ctypes.c_int32))),
        ("logits", ctypes.POINTER(ctypes.c_int8)),
    ]


LOG_CALLBACK = ctypes.CFUNCTYPE(None, ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p)
_SIGNATURES = {
    "llama_backend_init": (None, []),
    "llama_print_system_info": (ctypes.c_char_p, []),
    "llama_log_set": (None, [LOG_CALLBACK, ctypes.c_void_p]),
    "llama_model_default_params": (LlamaModelParams, []),
    "llama_context_default_params": (LlamaContextParams, []),
    "llama_model_load_from_file": (ctypes.c_void_p, [ctypes.c_char_p, LlamaModelParams]),
    "llama_model_free": (None, [ctypes.c_void_p]),
    "llama_model_get_vocab": (ctypes.c_void_p, [ctypes.c_void_p]),
    "llama_vocab_n_tokens": (ctypes.c_int32, [ctypes.c_void_p]),
    "llama_init_from_model": (ctypes.c_void_p, [ctypes.c_void_p, LlamaContextParams]),
    "llama_free": (None, [ctypes.c_void_p]),
    "llama_adapter_lora_init": (ctypes.c_void_p, [ctypes.c_void_p, ctypes.c_char_p]),
    "llama_adapter_lora_free": (None, [ctypes.c_void_p]),
    "llama_set_adapters_lora": (ctypes.c_int32, [ctypes.c_void_p, ctypes.POINTER(ctypes.c_void_p), ctypes.c_size_t,
                                                 ctypes.POINTER(ctypes.c_float)]),
    "llama_batch_init": (LlamaBatch, [ctypes.c_int32, ctypes.c_int32, ctypes.c_int32]),
    "llama_batch_free": (None, [LlamaBatch]),
    "llama_decode": (ctypes.c_int32, [ctypes.c_void_p, LlamaBatch]),
    "llama_get_logits_ith": (ctypes.POINTER(ctypes.c_float), [ctypes.c_void_p, ctypes.c_int32]),
}


class LlamaCppError(RuntimeError):
    """llama.cpp refused a file or a call; carries llama.cpp's own warning/error log lines."""


def library_path() -> Path:
    """The llama.cpp shared library inside the installed xllamacpp wheel (fails if the package is missing)."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"{PACKAGE} is not installed; run scripts/setup.sh (requirements/reference.txt)")
    candidates = sorted(Path(spec.submodule_search_locations[0]).glob(f"{PACKAGE}*.so"))
    if len(candidates) != 1:
        raise RuntimeError(f"expected one {PACKAGE} shared library, found {candidates}")
    return candidates[0]


class _Library:
    def __init__(self):
        self.path = library_path()
        self.lib = ctypes.CDLL(str(self.path))
        for name, (restype, argtypes) in _SIGNATURES.items():
            function = getattr(self.lib, name)
            function.restype, function.argtypes = restype, argtypes
        self.log = []
        self._log_callback = LOG_CALLBACK(self._on_log)  # kept alive as long as the library
        self.lib.llama_log_set(self._log_callback, None)
        self.lib.llama_backend_init()
        _check_layout(self.lib.llama_model_default_params(), self.lib.llama_context_default_params())

    def _on_log(self, level, text, _):
        if level in LOG_LEVELS_KEPT:
            self.log.append(text.decode(errors="replace").rstrip())

    def fail(self, message):
        lines, self.log[:] = list(self.log), []
        raise LlamaCppError("\n".join([message, *lines]))


def _check_layout(model, context):
    """Reads the defaults back through our struct layouts: fields spread over both structs must hold the values
    `llama_model_default_params` / `llama_context_default_params` of build b11549 set (a shifted field shows up
    as a wrong value here)."""
    expected_model = {"n_gpu_layers": -1, "split_mode": 1, "load_mode": -1, "lazy_mode": 1, "main_gpu": 0,
                      "kv_overrides": None, "vocab_only": False, "use_extra_bufts": True, "load_mtp": False}
    expected_context = {"n_ctx": 512, "n_batch": 2048, "n_ubatch": 512, "n_seq_max": 1, "n_threads": 4,
                        "flash_attn_type": -1, "yarn_ext_factor": -1.0, "defrag_thold": -1.0, "type_k": 1,
                        "type_v": 1, "moe_cache_size": 0, "offload_kqv": True, "op_offload": True,
                        "kv_unified": False, "samplers": None, "n_samplers": 0, "ctx_other": None}
    got_model = {k: getattr(model, k) for k in expected_model}
    got_context = {k: getattr(context, k) for k in expected_context}
    if got_model != expected_model or got_context != expected_context:
        raise RuntimeError(f"llama.h struct layout mismatch with {library_path()}: "
                           f"model params {got_model}, context params {got_context}")


_library = None


def library() -> _Library:
    global _library
    if _library is None:
        _library = _Library()
    return _library


def system_info() -> str:
    return library().lib.llama_print_system_info().decode()


def logits(model_path, tokens, lora_path=None, lora_scale=1.0, threads=2) -> np.ndarray:
    """llama.cpp's logits (T, vocab) float32 for every position of `tokens`, with the LoRA adapter GGUF at
    `lora_path` applied at `lora_scale` (llama.cpp's `--lora-scaled`; 1.0 is `--lora`) when given.

    Runs in a child process: ggml aborts the whole process on some inputs (e.g. an unsupported tensor type), and
    that must fail one test with llama.cpp's message, not kill the test runner."""
    library_path()  # a missing package is an error here, not a child-process failure
    with tempfile.TemporaryDirectory() as scratch:
        request = Path(scratch) / "request.json"
        out = Path(scratch) / "logits.npy"
        request.write_text(json.dumps({"model": str(model_path), "tokens": [int(t) for t in tokens],
                                       "lora": None if lora_path is None else str(lora_path),
                                       "lora_scale": lora_scale, "threads": threads}))
        proc = subprocess.run([sys.executable, __file__, str(request), str(out)], capture_output=True, text=True,
                              env={**os.environ, "GGML_NO_BACKTRACE": "1"})
        if proc.returncode != 0:
            raise LlamaCppError(f"llama.cpp failed (exit {proc.returncode}) on {model_path}:\n{proc.stderr.strip()}")
        return np.load(out)


def main(argv):
    request, out = json.loads(Path(argv[1]).read_text()), argv[2]
    try:
        rows = decode_logits(request["model"], request["tokens"], request["lora"], request["lora_scale"],
                             request["threads"])
    except LlamaCppError as error:
        print(error, file=sys.stderr)
        return 1
    np.save(out, rows)
    return 0


def decode_logits(model_path, tokens, lora_path, lora_scale, threads) -> np.ndarray:
    """`logits` in this process (see there)."""
    lib = library().lib
    fail = library().fail
    tokens = [int(t) for t in tokens]
    count = len(tokens)
    model_params = lib.llama_model_default_params()
    model_params.n_gpu_layers = 0
    model_params.load_mode = LOAD_MODE_MMAP
    model = lib.llama_model_load_from_file(str(model_path).encode(), model_params)
    if not model:
        fail(f"llama.cpp could not load the model {model_path}")
    context = adapter = None
    batch = lib.llama_batch_init(count, 0, 1)
    try:
        vocab = lib.llama_vocab_n_tokens(lib.llama_model_get_vocab(model))
        params = lib.llama_context_default_params()
        params.n_ctx = params.n_batch = params.n_ubatch = max(count, 16)
        params.n_threads = params.n_threads_batch = threads
        params.flash_attn_type = FLASH_ATTN_DISABLED
        params.type_k = params.type_v = GGML_TYPE_F32  # keep the KV cache exact, not F16
        params.no_perf = True
        context = lib.llama_init_from_model(model, params)
        if not context:
            fail(f"llama.cpp could not create a context for {model_path}")
        if lora_path is not None:
            adapter = lib.llama_adapter_lora_init(model, str(lora_path).encode())
            if not adapter:
                fail(f"llama.cpp refused the LoRA adapter {lora_path}")
            adapters = (ctypes.c_void_p * 1)(adapter)
            scales = (ctypes.c_float * 1)(lora_scale)
            if lib.llama_set_adapters_lora(context, adapters, 1, scales) != 0:
                fail(f"llama.cpp could not apply the LoRA adapter {lora_path}")
        batch.n_tokens = count
        for i, token in enumerate(tokens):
            batch.token[i], batch.pos[i], batch.n_seq_id[i] = token, i, 1
            batch.seq_id[i][0] = 0
            batch.logits[i] = 1
        status = lib.llama_decode(context, batch)
        if status != 0:
            fail(f"llama_decode returned {status} for {model_path}")
        rows = np.empty((count, vocab), dtype=np.float32)
        for i in range(count):
            row = lib.llama_get_logits_ith(context, i)
            if not row:
                fail(f"llama.cpp has no logits for position {i}")
            rows[i] = np.ctypeslib.as_array(row, shape=(vocab,))
        return rows
    finally:
        lib.llama_batch_free(batch)
        if context:
            lib.llama_free(context)
        if adapter:
            lib.llama_adapter_lora_free(adapter)
        lib.llama_model_free(model)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
