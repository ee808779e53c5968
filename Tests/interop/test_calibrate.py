"""`quail calibrate`: the Gram matrices equal a NumPy forward pass over the documented sampler's sequences, shards
merge into the single-run result, and bad input is refused with nothing written."""
import json

import numpy as np
import pytest
from safetensors import safe_open
from safetensors.numpy import load_file
from tokenizers import Tokenizer

from conftest import FIXTURES, run_quail
import reference_llama

MODEL = FIXTURES / "tiny-llama"
TEXT = FIXTURES / "text" / "calibration.txt"
GROUPS = ["attention_input", "attention_output", "feed_forward_input", "feed_forward_product"]
MASK = (1 << 64) - 1


def splitmix64(seed):
    """The sampler's generator (formats/calibration-stats.md): SplitMix64 outputs from `seed`."""
    state = seed
    while True:
        state = (state + 0x9E3779B97F4A7C15) & MASK
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        yield z ^ (z >> 31)


def reference_samples(stream, samples, seq_len, seed):
    """Sample k takes seq_len stream tokens from u_k mod (n - seq_len + 1) (the fixture adds no BOS)."""
    draws = splitmix64(seed)
    starts = [next(draws) % (len(stream) - seq_len + 1) for _ in range(samples)]
    return [stream[s:s + seq_len] for s in starts]


def reference_grams(samples):
    config, weights = reference_llama.load(MODEL)
    grams = {}

    def observe(layer, group, x):
        key = f"model.layers.{layer}.{group}.gram"
        grams[key] = grams.get(key, 0) + x.T.astype(np.float64) @ x.astype(np.float64)

    for tokens in samples:
        reference_llama.forward(config, weights, tokens, dtype=np.float64, observe=observe)
    return grams


def calibrate(tmp_path, name, *extra, samples=6, seq_len=40):
    out = tmp_path / name
    run_quail("calibrate", MODEL, "--calib", TEXT, "--samples", samples, "--seq-len", seq_len, "-o", out, *extra)
    return out


def test_grams_match_numpy_forward_over_documented_samples(tmp_path):
    stats = calibrate(tmp_path, "stats.safetensors", "--seed", 7)
    stream = Tokenizer.from_file(str(MODEL / "tokenizer.json")).encode(TEXT.read_text(), add_special_tokens=False).ids
    expected = reference_grams(reference_samples(stream, 6, 40, 7))
    got = load_file(str(stats))
    assert sorted(got) == sorted(expected) and len(got) == 2 * len(GROUPS)
    for key, h in expected.items():
        assert got[key].dtype == np.float64 and got[key].shape == h.shape
        assert np.array_equal(got[key], got[key].T), key
        assert np.linalg.norm(got[key] - h) <= 1e-5 * np.linalg.norm(h), key
    with safe_open(str(stats), "np") as f:
        meta = f.metadata()
    assert meta["format"] == "quail-calibration-statistics" and meta["shard"] == "1/1"
    assert (meta["samples"], meta["seq_len"], meta["seed"], meta["tokens"]) == ("6", "40", "7", "240")
    assert json.loads(meta["data_files"]) == ["calibration.txt"]


def test_shards_merge_into_the_single_run(tmp_path):
    single = calibrate(tmp_path, "single.safetensors")
    parts = [calibrate(tmp_path, f"part{i}.safetensors", "--shard", f"{i}/3") for i in (1, 2, 3)]
    tokens = [json.loads(safe_open(str(p), "np").metadata()["tokens"]) for p in parts]
    assert sum(tokens) == 240 and all(t > 0 for t in tokens)
    merged = tmp_path / "merged.safetensors"
    run_quail("calibrate", "merge", *reversed(parts), "-o", merged)
    a, b = load_file(str(single)), load_file(str(merged))
    for key in a:
        assert np.abs(a[key] - b[key]).max() <= 1e-12 * np.abs(a[key]).max(), key
    meta = safe_open(str(merged), "np").metadata()
    assert meta["shard"] == "1/1" and meta["tokens"] == "240" and meta["sequences"] == "6"


def test_merge_refuses_incomplete_or_mixed_shards(tmp_path):
    p1 = calibrate(tmp_path, "p1.safetensors", "--shard", "1/3")
    p3 = calibrate(tmp_path, "p3.safetensors", "--shard", "3/3")
    out = tmp_path / "merged.safetensors"
    proc = run_quail("calibrate", "merge", p1, p3, "-o", out, check=False)
    assert proc.returncode != 0 and "missing 2" in proc.stderr and not out.exists()
    other = calibrate(tmp_path, "other.safetensors", "--shard", "2/3", "--seed", "1")
    proc = run_quail("calibrate", "merge", p1, other, p3, "-o", out, check=False)
    assert proc.returncode != 0 and "seed" in proc.stderr and not out.exists()


def test_jsonl_field(tmp_path):
    lines = [json.dumps({"id": i, "body": para}) for i, para in enumerate(TEXT.read_text().split("\n\n")) if para]
    data = tmp_path / "data.jsonl"
    data.write_text("\n".join(lines) + "\n")
    out = tmp_path / "s.safetensors"
    run_quail("calibrate", MODEL, "--calib", data, "--field", "body", "--samples", 4, "--seq-len", 32, "-o", out)
    assert safe_open(str(out), "np").metadata()["field"] == "body"
    proc = run_quail("calibrate", MODEL, "--calib", data, "--samples", 4, "--seq-len", 32, "-o", tmp_path / "x",
                     check=False)
    assert proc.returncode != 0 and "data.jsonl:1" in proc.stderr and '"text"' in proc.stderr
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("args, message", [
    (["--samples", "1", "--seq-len", "8"], "per dimension"),
    (["--seq-len", "100000", "--samples", "1"], "a sample needs"),
    (["--shard", "4/3"], "1 ≤ i ≤ N"),
    (["--samples", "0"], "must be ≥ 1"),
])
def test_bad_settings_are_refused(tmp_path, args, message):
    out = tmp_path / "s.safetensors"
    proc = run_quail("calibrate", MODEL, "--calib", TEXT, *args, "-o", out, check=False)
    assert proc.returncode != 0 and message in proc.stderr, proc.stderr
    assert not out.exists()


def test_statistics_of_another_model_are_refused_by_init(tmp_path):
    stats = calibrate(tmp_path, "stats.safetensors")
    gguf = tmp_path / "tiny.gguf"
    run_quail("convert", MODEL, gguf)
    out = tmp_path / "bundle"
    proc = run_quail("init", gguf, "--stats", stats, "--rank", 2, "-o", out, check=False)
    assert proc.returncode != 0 and "model digest" in proc.stderr and not out.exists()
    other = FIXTURES / "tiny-llama-f16"
    proc = run_quail("init", other, "--stats", stats, "--rank", 2, "-o", out, check=False)
    assert proc.returncode != 0 and "stats.safetensors" in proc.stderr and not out.exists()
