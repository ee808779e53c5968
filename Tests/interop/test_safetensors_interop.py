"""safetensors written by the PyPI package are read identically by Quail; files Quail writes are read by it."""
import json

import numpy as np
from safetensors import safe_open
from safetensors.numpy import save_file

from conftest import quail_json, run_quail
from reference import read_safetensors_raw


def test_python_written_file_is_inspected_identically(tmp_path):
    rng = np.random.default_rng(3)
    tensors = {
        "a.f32": rng.standard_normal((3, 5)).astype(np.float32),
        "b.f16": rng.standard_normal((7,)).astype(np.float16),
        "c.i64": np.arange(4, dtype=np.int64),
        "d.u8": np.frombuffer(b"quail", dtype=np.uint8).copy(),
        "e.empty": np.zeros((0, 3), dtype=np.float32),
        "f.scalar": np.array(2.5, dtype=np.float64),
        "g.i8": np.array([[-1, 2], [3, -4]], dtype=np.int8),
    }
    path = tmp_path / "py.safetensors"
    save_file(tensors, path, metadata={"format": "pt", "note": "written by safetensors"})
    report = quail_json("inspect", path)
    assert report["format"] == "safetensors"
    assert report["metadata"] == {"format": "pt", "note": "written by safetensors"}
    rows = {row["name"]: row for row in report["tensors"]}
    assert rows.keys() == tensors.keys()
    for name, array in tensors.items():
        assert rows[name]["shape"] == list(array.shape)
        assert rows[name]["bytes"] == array.nbytes


def test_quail_written_safetensors_match_python_bytes(tmp_path):
    """Quail's writer orders and pads exactly like the reference writer: same bytes as save_file."""
    from conftest import FIXTURES

    run_quail("convert", FIXTURES / "tiny-llama-f16", tmp_path / "m.gguf")
    run_quail("convert", tmp_path / "m.gguf", tmp_path / "hf")
    path = tmp_path / "hf" / "model.safetensors"
    with safe_open(path, framework="numpy") as f:
        arrays = {k: f.get_tensor(k) for k in f.keys()}
        assert f.metadata() == {"format": "pt"}
    save_file(arrays, tmp_path / "py.safetensors", metadata={"format": "pt"})
    assert (tmp_path / "py.safetensors").read_bytes() == path.read_bytes()
    meta, raw = read_safetensors_raw(path)
    assert meta == {"format": "pt"} and raw.keys() == arrays.keys()
