"""Qwen2 (q/k/v biases, HF row order in GGUF) through the runtime, the converter, the quantizer and init.

The model is the tiny-llama fixture (GQA 4/2, tied head) turned into a Qwen2ForCausalLM checkpoint here: its
weights as F32, random q/k/v biases large enough to move every logit, `model_type: qwen2`, rope_theta 1e6. Quail's
hidden states and logits are checked against the NumPy reference (reference_llama.py, which adds the biases as
transformers' Qwen2Attention does), its GGUF against gguf-py and against llama.cpp itself (the xllamacpp wheel runs
`qwen2` files with the rotate-half RoPE kernel, so a wrongly permuted q/k or a missing bias shows in its logits),
and an init bundle's GGUF adapter against llama.cpp's `--lora`.
"""
import json
import shutil

import gguf
import numpy as np
import pytest
from safetensors.numpy import save_file

import llama_cpp_runtime as llama_cpp
import reference_llama as ref
from conftest import FIXTURES, quail_json, run_quail

TOKENS = list(range(3, 140, 3))
BIASES = ("q", "k", "v")


@pytest.fixture(scope="module")
def qwen2(tmp_path_factory):
    """(HF directory of the tiny Qwen2 model, its GGUF written by `quail convert`)."""
    model = tmp_path_factory.mktemp("qwen2") / "tiny-qwen2"
    shutil.copytree(FIXTURES / "tiny-llama", model)
    (model / "model.safetensors").unlink()
    config, weights = ref.load_hf(FIXTURES / "tiny-llama")
    rng = np.random.default_rng(7)
    hd = config["head_dim"]
    for layer in range(config["num_hidden_layers"]):
        for name in BIASES:
            heads = config["num_attention_heads"] if name == "q" else config["num_key_value_heads"]
            weights[f"model.layers.{layer}.self_attn.{name}_proj.bias"] = rng.normal(0, 0.5, heads * hd).astype(
                np.float32)
    save_file(weights, model / "model.safetensors", metadata={"format": "pt"})
    hf_config = json.loads((model / "config.json").read_text())
    for key in ("attention_bias", "mlp_bias", "pretraining_tp"):
        hf_config.pop(key, None)
    hf_config.update(architectures=["Qwen2ForCausalLM"], model_type="qwen2", rope_theta=1000000.0,
                     use_sliding_window=False, torch_dtype="float32")
    (model / "config.json").write_text(json.dumps(hf_config, indent=2))
    gguf_path = model.parent / "tiny-qwen2.gguf"
    run_quail("convert", model, gguf_path)
    return model, gguf_path


def write_tokens(path, tokens):
    path.write_text(json.dumps(tokens))
    return path


@pytest.mark.parametrize("form", ["hf", "gguf"])
def test_activations_match_reference(qwen2, form, tmp_path):
    hf_dir, gguf_path = qwen2
    model = hf_dir if form == "hf" else gguf_path
    report = quail_json("eval", model, "--tokens-file", write_tokens(tmp_path / "ids.json", TOKENS),
                        "--dump-activations", tmp_path / "dump")
    config, weights = ref.load_hf(hf_dir)
    hidden, final, logits = ref.forward(config, weights, TOKENS)
    _, _, without_bias = ref.forward(config, {k: v for k, v in weights.items() if not k.endswith("bias")}, TOKENS)
    assert np.abs(logits - without_bias).max() > 0.5  # the biases matter, so a dropped one would fail below
    assert len(report["files"]) == len(hidden) + 2
    for i, expected in enumerate(hidden):
        assert np.abs(np.load(tmp_path / "dump" / f"hidden-{i:02d}.npy") - expected).max() <= 1e-4, (form, i)
    assert np.abs(np.load(tmp_path / "dump" / "final-norm.npy") - final).max() <= 1e-4
    assert np.abs(np.load(tmp_path / "dump" / "logits.npy") - logits).max() <= 1e-3


def test_gguf_is_what_llama_cpp_converter_writes(qwen2):
    hf_dir, gguf_path = qwen2
    reader = gguf.GGUFReader(gguf_path)
    fields = {name: field.contents() for name, field in reader.fields.items() if not name.startswith("GGUF.")}
    assert fields["general.architecture"] == "qwen2"
    assert fields["qwen2.rope.freq_base"] == 1000000.0
    assert fields["qwen2.attention.head_count_kv"] == 2
    assert not any(name.startswith("llama.") for name in fields)
    assert "qwen2.vocab_size" not in fields and "qwen2.rope.dimension_count" not in fields  # as Qwen2Model writes
    tensors = {t.name: t for t in reader.tensors}
    config, weights = ref.load_hf(hf_dir)
    for name in BIASES:
        bias = tensors[f"blk.1.attn_{name}.bias"]
        assert bias.tensor_type == gguf.GGMLQuantizationType.F32
        np.testing.assert_array_equal(bias.data, weights[f"model.layers.1.self_attn.{name}_proj.bias"])
    # q/k rows stay in HF order (no llama permutation)
    q = np.asarray(tensors["blk.0.attn_q.weight"].data).reshape(weights["model.layers.0.self_attn.q_proj.weight"].shape)
    np.testing.assert_array_equal(q, weights["model.layers.0.self_attn.q_proj.weight"])
    assert len(tensors) == len(weights)


def test_round_trip_is_lossless(qwen2, tmp_path):
    hf_dir, gguf_path = qwen2
    run_quail("convert", gguf_path, tmp_path / "back")
    config = json.loads((tmp_path / "back" / "config.json").read_text())
    assert config["model_type"] == "qwen2" and config["architectures"] == ["Qwen2ForCausalLM"]
    assert "attention_bias" not in config and config["use_sliding_window"] is False
    run_quail("convert", tmp_path / "back", tmp_path / "again.gguf")
    assert (tmp_path / "again.gguf").read_bytes() == gguf_path.read_bytes()
    _, original = ref.load_hf(hf_dir)
    _, back = ref.load_hf(tmp_path / "back")
    assert original.keys() == back.keys()
    for name, values in original.items():
        np.testing.assert_array_equal(back[name], values, err_msg=name)


def test_llama_cpp_runs_the_gguf_like_the_reference(qwen2):
    hf_dir, gguf_path = qwen2
    config, weights = ref.load_hf(hf_dir)
    _, _, expected = ref.forward(config, weights, TOKENS)
    got = llama_cpp.logits(gguf_path, TOKENS)
    assert np.abs(got - expected).max() <= 1e-4


def test_quantized_gguf_keeps_biases_and_matches_its_dequantized_weights(qwen2, tmp_path):
    _, gguf_path = qwen2
    out = tmp_path / "q8.gguf"
    run_quail("quantize", gguf_path, out, "--type", "q8_0")
    reader = gguf.GGUFReader(out)
    types = {t.name: t.tensor_type for t in reader.tensors}
    assert types["blk.0.attn_q.bias"] == gguf.GGMLQuantizationType.F32
    assert types["blk.0.attn_q.weight"] == gguf.GGMLQuantizationType.Q8_0
    report = quail_json("eval", out, "--tokens-file", write_tokens(tmp_path / "ids.json", TOKENS),
                        "--dump-activations", tmp_path / "dump")
    assert report["files"][-1] == "logits.npy"
    _, _, expected = ref.forward(*ref.load_gguf(out), TOKENS)
    assert np.abs(np.load(tmp_path / "dump" / "logits.npy") - expected).max() <= 1e-3


def test_init_adapter_runs_in_llama_cpp(qwen2, tmp_path):
    """The bundle's adapter applied by llama.cpp and by Quail to the exact F32 GGUF (on the bundle's Q8_0 base,
    llama.cpp's activation rounding would be as large as the adapter's effect on this tiny model)."""
    hf_dir, f32_gguf = qwen2
    stats = tmp_path / "stats.safetensors"
    run_quail("calibrate", hf_dir, "--calib", FIXTURES / "text" / "calibration.txt", "--samples", 4, "--seq-len", 64,
              "-o", stats)
    report = quail_json("init", hf_dir, "--stats", stats, "--rank", 4, "--runtime", "gguf", "--quant", "q8_0",
                        "--method", "svd", "-o", tmp_path / "bundle")
    assert report["variants"][0]["mean_relative_calibrated_error"] < 1
    base, adapter = tmp_path / "bundle" / "gguf" / "base.gguf", tmp_path / "bundle" / "gguf" / "adapter.gguf"
    assert gguf.GGUFReader(adapter).fields["general.architecture"].contents() == "qwen2"
    assert gguf.GGUFReader(base).fields["general.architecture"].contents() == "qwen2"
    quail_json("eval", f32_gguf, "--tokens-file", write_tokens(tmp_path / "ids.json", TOKENS), "--adapter", adapter,
               "--dump-activations", tmp_path / "dump")
    ours = np.load(tmp_path / "dump" / "logits.npy")
    theirs = llama_cpp.logits(f32_gguf, TOKENS, lora_path=adapter)
    without = llama_cpp.logits(f32_gguf, TOKENS)
    assert np.abs(theirs - ours).max() <= 1e-4
    assert np.abs(theirs - without).max() > 0.01  # the adapter's effect, 100x the tolerance


def test_sliding_window_and_llama_biases_are_refused(qwen2, tmp_path):
    hf_dir, _ = qwen2
    model = tmp_path / "model"
    shutil.copytree(hf_dir, model)
    config = json.loads((model / "config.json").read_text())
    (model / "config.json").write_text(json.dumps({**config, "use_sliding_window": True}))
    proc = run_quail("eval", model, "--tokens-file", write_tokens(tmp_path / "ids.json", TOKENS), check=False)
    assert proc.returncode != 0 and "use_sliding_window" in proc.stderr and "config.json" in proc.stderr
    (model / "config.json").write_text(json.dumps({**config, "model_type": "llama"}))
    proc = run_quail("eval", model, "--tokens-file", tmp_path / "ids.json", check=False)
    assert proc.returncode != 0 and "self_attn.q_proj.bias" in proc.stderr
