# SPDX-License-Identifier: Apache-2.0
"""Proves the committed ggml codec vectors are gguf-py's output: regenerates them and compares every byte.

Run with the pinned environment (numpy, gguf==0.19.0):  python -m pytest Tests/interop/test_ggml_vectors.py
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
from gguf import GGMLQuantizationType
from gguf.quants import dequantize

ROOT = Path(__file__).resolve().parents[2]
VECTORS = ROOT / "fixtures" / "ggml-vectors"
GENERATOR = ROOT / "fixtures" / "scripts" / "make_ggml_vectors.py"


def test_generator_reproduces_committed_vectors(tmp_path: Path) -> None:
    subprocess.run([sys.executable, str(GENERATOR), str(tmp_path)], check=True)
    produced = sorted(p.name for p in tmp_path.iterdir())
    index = json.loads((tmp_path / "index.json").read_text())
    assert produced == sorted([*index["files"], "index.json"])
    for name in produced:
        assert (tmp_path / name).read_bytes() == (VECTORS / name).read_bytes(), f"{name} differs from the committed copy"


def test_ggml_c_vectors_match_their_index() -> None:
    index = json.loads((VECTORS / "ggml-c.json").read_text())
    for name, record in index["files"].items():
        raw = (VECTORS / name).read_bytes()
        assert len(raw) == record["bytes"], name
        assert hashlib.sha256(raw).hexdigest() == record["sha256"], name


def test_ggml_c_vectors_decode_close_to_their_input() -> None:
    """gguf-py decodes the C-quantized blocks to within a type-dependent error of quant-input.f32."""
    bounds = {"Q2_K": 0.45, "Q3_K": 0.22, "Q4_K": 0.11, "Q5_K": 0.06, "Q6_K": 0.03, "IQ4_NL": 0.11}
    index = json.loads((VECTORS / "ggml-c.json").read_text())
    for case in (c for c in index["quantize"] if c["input"] == "quant-input.f32"):
        x = np.frombuffer((VECTORS / case["input"]).read_bytes(), dtype=np.float32).reshape(24, 256)
        blocks = np.frombuffer((VECTORS / case["expected"]).read_bytes(), dtype=np.uint8)
        y = dequantize(blocks, GGMLQuantizationType[case["type"]]).reshape(24, 256)
        # super-blocks 5.. hold ordinary data (0..4 are the edge cases); compare 32-element groups' RMS error
        xs, ys = x[5:].reshape(-1, 32).astype(np.float64), y[5:].reshape(-1, 32).astype(np.float64)
        rel = np.sqrt(((xs - ys) ** 2).mean(axis=1)) / np.sqrt((xs ** 2).mean(axis=1))
        assert np.median(rel) < bounds[case["type"]], case["type"]
