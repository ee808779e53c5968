"""Small NumPy references for the interop tests, written from the formats' specifications.

- read_safetensors_raw: parses a safetensors file per the format README (u64 header length, JSON header,
  data buffer) so BF16 tensors, which numpy cannot hold, can be compared byte for byte.
- permute_qk: llama.cpp's `LlamaModel.permute` (conversion/llama.py): per head, rows (2, hd/2) -> (hd/2, 2).
- bf16_bits: float32 -> bfloat16 round to nearest even with NaN quieting (ggml_compute_fp32_to_bf16).
- as_float32: F32/F16/BF16 tensor bytes widened to float32 (exact).
- converter_type: the GGUF type llama.cpp's converter writes for a tensor (convert_hf_to_gguf.py,
  `ModelBase.prepare_tensors`: tensors with at most one dimension, and `*_norm.weight`, are F32).
"""
import json
import struct

import numpy as np


def read_safetensors_raw(path):
    """Returns (metadata, {name: (dtype, shape, bytes)})."""
    data = open(path, "rb").read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    meta = header.pop("__metadata__", None)
    base = 8 + n
    tensors = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        tensors[name] = (info["dtype"], list(info["shape"]), data[base + begin : base + end])
    return meta, tensors


def read_checkpoint_raw(directory):
    """All tensors of an HF directory (single file or sharded)."""
    from pathlib import Path

    directory = Path(directory)
    index = directory / "model.safetensors.index.json"
    files = sorted(set(json.loads(index.read_text())["weight_map"].values())) if index.exists() else ["model.safetensors"]
    tensors = {}
    for name in files:
        _, part = read_safetensors_raw(directory / name)
        tensors.update(part)
    return tensors


def permute_qk(weights: np.ndarray, heads: int) -> np.ndarray:
    rows = weights.shape[0]
    return weights.reshape(heads, 2, rows // heads // 2, *weights.shape[1:]).swapaxes(1, 2).reshape(weights.shape)


def bf16_bits(values: np.ndarray) -> np.ndarray:
    bits = values.astype(np.float32).view(np.uint32).astype(np.uint64)
    nan = (bits & 0x7FFFFFFF) > 0x7F800000
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16
    quiet = ((bits & 0xFFFF0000) | 0x00400000) >> 16
    return np.where(nan, quiet, rounded).astype(np.uint16)


NUMPY_DTYPES = {"F32": np.float32, "F16": np.float16, "BF16": np.uint16, "F64": np.float64,
                "I64": np.int64, "I32": np.int32, "I16": np.int16, "I8": np.int8, "U8": np.uint8}


def as_array(dtype, shape, raw):
    """A numpy view of raw tensor bytes (BF16 as uint16 bit patterns)."""
    return np.frombuffer(raw, dtype=NUMPY_DTYPES[dtype]).reshape(shape)


def as_float32(dtype, shape, raw):
    """Raw F32/F16/BF16 tensor bytes as float32 values (every value kept exactly)."""
    values = as_array(dtype, shape, raw)
    if dtype == "BF16":
        return (values.astype(np.uint32) << 16).view(np.float32)
    return values.astype(np.float32)


def converter_type(gguf_name, shape, stored):
    """The GGUF type name llama.cpp's converter picks for a tensor stored (or requested) as `stored`: F32 for
    tensors of at most one dimension and for norm weights, otherwise `stored`."""
    return "F32" if len(shape) <= 1 or gguf_name.endswith("_norm.weight") else stored
