"""Malformed inputs through the CLI: a non-zero exit with a message naming the file, never a crash, and
no output left behind."""
import struct

import pytest

from conftest import FIXTURES, run_quail


def assert_clean_failure(proc, path):
    assert proc.returncode > 0, f"exit {proc.returncode} (negative means killed by a signal)\n{proc.stderr}"
    assert str(path) in proc.stderr, proc.stderr
    assert "Fatal error" not in proc.stderr and "Stack dump" not in proc.stderr


def small_gguf(tmp_path):
    out = tmp_path / "small.gguf"
    run_quail("convert", FIXTURES / "tiny-llama", out)
    return out.read_bytes()


def test_truncated_gguf_fails_cleanly_everywhere(tmp_path):
    data = small_gguf(tmp_path)
    path = tmp_path / "cut.gguf"
    cuts = sorted(set(list(range(0, 64)) + list(range(64, len(data), max(1, len(data) // 97)))))
    for cut in cuts:
        path.write_bytes(data[:cut])
        assert_clean_failure(run_quail("inspect", path, check=False), path)


def test_truncated_safetensors_fails_cleanly_everywhere(tmp_path):
    data = (FIXTURES / "tiny-llama" / "model.safetensors").read_bytes()
    path = tmp_path / "cut.safetensors"
    (n,) = struct.unpack("<Q", data[:8])
    cuts = sorted(set(list(range(0, 8 + n + 16, 7)) + list(range(8 + n, len(data), max(1, len(data) // 97)))))
    for cut in cuts:
        path.write_bytes(data[:cut])
        assert_clean_failure(run_quail("inspect", path, check=False), path)


@pytest.mark.parametrize("case", ["lfs", "html", "huge-header"])
def test_lookalike_files_are_named(case, tmp_path):
    path = tmp_path / "model.safetensors"
    content = {
        "lfs": b"version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 123\n",
        "html": b"<!DOCTYPE html><html><body>Not found</body></html>",
        "huge-header": struct.pack("<Q", 1 << 40) + b"{}",
    }[case]
    path.write_bytes(content)
    assert_clean_failure(run_quail("inspect", path, check=False), path)


def test_failed_convert_leaves_nothing(tmp_path):
    src = tmp_path / "broken"
    src.mkdir()
    for f in (FIXTURES / "tiny-llama").iterdir():
        (src / f.name).write_bytes(f.read_bytes())
    weights = src / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-10])
    out = tmp_path / "out.gguf"
    proc = run_quail("convert", src, out, check=False)
    assert_clean_failure(proc, weights)
    assert list(tmp_path.glob("*out*")) == []
    hf_out = tmp_path / "hf-out"
    good = tmp_path / "good.gguf"
    run_quail("convert", FIXTURES / "tiny-llama", good)
    good.write_bytes(good.read_bytes()[:-40])
    proc = run_quail("convert", good, hf_out, check=False)
    assert_clean_failure(proc, good)
    assert list(tmp_path.glob("*hf-out*")) == []


def test_existing_output_is_not_replaced_without_force(tmp_path):
    out = tmp_path / "m.gguf"
    out.write_bytes(b"keep me")
    proc = run_quail("convert", FIXTURES / "tiny-llama", out, check=False)
    assert proc.returncode != 0 and "--force" in proc.stderr
    assert out.read_bytes() == b"keep me"
    run_quail("convert", FIXTURES / "tiny-llama", out, "--force")
    assert out.read_bytes()[:4] == b"GGUF"


def test_quantized_gguf_to_hf_needs_dtype(smollm2_gguf, tmp_path):
    proc = run_quail("convert", smollm2_gguf, tmp_path / "hf", check=False)
    assert proc.returncode != 0 and "--dtype" in proc.stderr and str(smollm2_gguf) in proc.stderr
    assert not (tmp_path / "hf").exists()
