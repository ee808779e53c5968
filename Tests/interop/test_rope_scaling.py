"""RoPE scaling: config.json `rope_scaling` of type linear, dynamic and llama3, GGUF `rope.scaling.type` linear and
GGUF `rope_freqs.weight` (how llama.cpp's converter stores Llama 3's scaling).

The model is the F32 tiny-llama-untied fixture (head dimension 8, so four frequencies) with each scaling written
into its config.json; 150 positions, with the original context set to 64 where the rule depends on it, so every
frequency band of the llama3 rule and the dynamic base change are exercised. Quail's logits are checked against the
NumPy reference (reference_llama.py, transcribing transformers' rope initialisers), and the GGUF forms against
llama.cpp itself (xllamacpp), which reads the linear keys and `rope_freqs.weight` with its own code.
"""
import json
import shutil

import gguf
import numpy as np
import pytest

import llama_cpp_runtime as llama_cpp
import reference_llama as ref
from conftest import FIXTURES, quail_json, run_quail
from gguf_rewrite import rewrite_with_gguf_py

TOKENS = [(7 * i + 3) % 256 for i in range(150)]
LLAMA3 = {"factor": 8.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0, "original_max_position_embeddings": 64,
          "rope_type": "llama3"}
SCALINGS = {
    "linear": ({"factor": 2.0, "rope_type": "linear"}, {}),
    "dynamic": ({"factor": 4.0, "rope_type": "dynamic"}, {"max_position_embeddings": 64}),
    "llama3": (LLAMA3, {}),
}


def scaled_model(tmp_path, rope_scaling, **config_changes):
    model = tmp_path / "model"
    shutil.copytree(FIXTURES / "tiny-llama-untied", model)
    config = json.loads((model / "config.json").read_text())
    config.update(rope_scaling=rope_scaling, **config_changes)
    (model / "config.json").write_text(json.dumps(config, indent=2))
    return model


def quail_logits(model, tmp_path):
    tmp_path.mkdir(exist_ok=True)
    ids = tmp_path / "ids.json"
    ids.write_text(json.dumps(TOKENS))
    quail_json("eval", model, "--tokens-file", ids, "--dump-activations", tmp_path / "dump")
    return np.load(tmp_path / "dump" / "logits.npy")


def llama3_factors(scaling, head_dim, theta):
    """`rope_freqs.weight` as llama.cpp's converter (`LlamaModel.generate_extra_tensors`) computes it."""
    factor, low, high = scaling["factor"], scaling["low_freq_factor"], scaling["high_freq_factor"]
    old_context = scaling["original_max_position_embeddings"]
    factors = []
    for freq in 1.0 / theta ** (np.arange(0, head_dim, 2, dtype=np.float64) / head_dim):
        wavelen = 2 * np.pi / freq
        if wavelen < old_context / high:
            factors.append(1.0)
        elif wavelen > old_context / low:
            factors.append(factor)
        else:
            smooth = (old_context / wavelen - low) / (high - low)
            factors.append(1 / ((1 - smooth) / factor + smooth))
    return np.array(factors, dtype=np.float32)


@pytest.mark.parametrize("kind", SCALINGS)
def test_hf_rope_scaling_matches_reference(kind, tmp_path):
    rope_scaling, changes = SCALINGS[kind]
    model = scaled_model(tmp_path, rope_scaling, **changes)
    got = quail_logits(model, tmp_path)
    expected = ref.forward(*ref.load_hf(model), TOKENS)[2]
    plain = ref.forward(*ref.load_hf(FIXTURES / "tiny-llama-untied"), TOKENS)[2]
    assert np.abs(expected - plain).max() > 0.05  # the scaling changes the logits far beyond the tolerance
    assert np.abs(got - expected).max() <= 1e-3


def test_linear_scaling_in_gguf_round_trips_and_runs_in_llama_cpp(tmp_path):
    model = scaled_model(tmp_path, SCALINGS["linear"][0])
    gguf_path = tmp_path / "linear.gguf"
    run_quail("convert", model, gguf_path)
    fields = gguf.GGUFReader(gguf_path).fields
    assert fields["llama.rope.scaling.type"].contents() == "linear"
    assert fields["llama.rope.scaling.factor"].contents() == 2.0
    expected = ref.forward(*ref.load_hf(model), TOKENS)[2]
    assert np.abs(quail_logits(gguf_path, tmp_path / "q") - expected).max() <= 1e-3
    assert np.abs(llama_cpp.logits(gguf_path, TOKENS) - expected).max() <= 1e-4
    run_quail("convert", gguf_path, tmp_path / "back")
    assert json.loads((tmp_path / "back" / "config.json").read_text())["rope_scaling"] == SCALINGS["linear"][0]
    run_quail("convert", tmp_path / "back", tmp_path / "again.gguf")
    assert (tmp_path / "again.gguf").read_bytes() == gguf_path.read_bytes()


def test_rope_freqs_tensor_runs_like_llama3(tmp_path):
    """A GGUF with llama.cpp's `rope_freqs.weight` (written here with gguf-py) gives the llama3 config's logits."""
    plain = tmp_path / "plain.gguf"
    run_quail("convert", FIXTURES / "tiny-llama-untied", plain)
    config, _ = ref.load_hf(FIXTURES / "tiny-llama-untied")
    factors = llama3_factors(LLAMA3, config["head_dim"], config["rope_theta"])
    assert len(set(factors.tolist())) == 3  # kept, blended and divided bands
    with_freqs = tmp_path / "llama3.gguf"
    rewrite_with_gguf_py(gguf.GGUFReader(plain), with_freqs, extra_tensors=[("rope_freqs.weight", factors)])
    expected = ref.forward(*ref.load_hf(scaled_model(tmp_path, LLAMA3)), TOKENS)[2]
    assert np.abs(quail_logits(with_freqs, tmp_path / "q") - expected).max() <= 1e-3
    assert np.abs(llama_cpp.logits(with_freqs, TOKENS) - expected).max() <= 1e-4
    for args in (["convert", with_freqs, tmp_path / "hf"], ["quantize", with_freqs, tmp_path / "q8.gguf",
                                                            "--type", "q8_0"]):
        proc = run_quail(*args, check=False)
        assert proc.returncode != 0 and "rope_freqs.weight" in proc.stderr and str(with_freqs) in proc.stderr
        assert not (tmp_path / "hf").exists() and not (tmp_path / "q8.gguf").exists()


@pytest.mark.parametrize("kind", ["dynamic", "llama3"])
def test_scalings_without_a_gguf_form_are_refused_for_gguf_output(kind, tmp_path):
    model = scaled_model(tmp_path, SCALINGS[kind][0])
    proc = run_quail("convert", model, tmp_path / "out.gguf", check=False)
    assert proc.returncode != 0 and "rope_scaling" in proc.stderr and "config.json" in proc.stderr
    assert not (tmp_path / "out.gguf").exists()


@pytest.mark.parametrize("rope_scaling, message", [
    ({"factor": 4.0, "rope_type": "yarn", "original_max_position_embeddings": 64}, "yarn"),
    ({"rope_type": "linear"}, "rope_scaling.factor"),
    ({"factor": 8.0, "rope_type": "llama3", "low_freq_factor": 4.0, "high_freq_factor": 1.0,
      "original_max_position_embeddings": 64}, "rope_scaling.high_freq_factor"),
    ("linear", "rope_scaling"),
])
def test_bad_rope_scaling_is_named(rope_scaling, message, tmp_path):
    model = scaled_model(tmp_path, rope_scaling)
    ids = tmp_path / "ids.json"
    ids.write_text(json.dumps(TOKENS))
    proc = run_quail("eval", model, "--tokens-file", ids, check=False)
    assert proc.returncode != 0 and message in proc.stderr and "config.json" in proc.stderr


def test_bad_rope_freqs_tensor_is_named(tmp_path):
    plain = tmp_path / "plain.gguf"
    run_quail("convert", FIXTURES / "tiny-llama-untied", plain)
    bad = tmp_path / "bad.gguf"
    rewrite_with_gguf_py(gguf.GGUFReader(plain), bad, extra_tensors=[("rope_freqs.weight", np.ones(3, np.float32))])
    ids = tmp_path / "ids.json"
    ids.write_text(json.dumps(TOKENS))
    proc = run_quail("eval", bad, "--tokens-file", ids, check=False)
    assert proc.returncode != 0 and "rope_freqs.weight" in proc.stderr and "[4]" in proc.stderr
