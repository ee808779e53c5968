"""`quail eval --adapter`: a random LoRA adapter, stored as a PEFT directory and as a llama.cpp LoRA GGUF, merged into
the fixture models; logits match the NumPy reference forward pass with W + s·B·A merged, both adapter forms agree,
and bad adapters are refused naming the file."""
import json

import gguf
import numpy as np
import pytest
from safetensors.numpy import save_file

import reference_llama as ref
from conftest import FIXTURES, quail_json, run_quail
from reference import permute_qk

MODELS = ["tiny-llama-untied", "tiny-llama"]  # MHA 4/4 and GQA 4/2
TARGETS = {"self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
           "self_attn.o_proj": "attn_output", "mlp.gate_proj": "ffn_gate", "mlp.down_proj": "ffn_down"}
RANK, ALPHA = 4, 12.0
TOKENS = list(range(3, 70, 2))


def random_factors(config, weights, seed):
    """{hf module name: (A (r, in), B (out, r))} for TARGETS in every block."""
    rng = np.random.default_rng(seed)
    factors = {}
    for layer in range(config["num_hidden_layers"]):
        for module in TARGETS:
            out, width = weights[f"model.layers.{layer}.{module}.weight"].shape
            factors[f"model.layers.{layer}.{module}"] = (
                rng.normal(0, 0.2, (RANK, width)).astype(np.float32),
                rng.normal(0, 0.2, (out, RANK)).astype(np.float32))
    return factors


def write_peft(directory, factors, rslora=False, extra=None):
    directory.mkdir()
    config = {"peft_type": "LORA", "r": RANK, "lora_alpha": ALPHA, "use_rslora": rslora,
              "target_modules": sorted({m.split(".")[-1] for m in TARGETS})}
    (directory / "adapter_config.json").write_text(json.dumps(config))
    tensors = {}
    for module, (a, b) in factors.items():
        tensors[f"base_model.model.{module}.lora_A.weight"] = a
        tensors[f"base_model.model.{module}.lora_B.weight"] = b
    tensors.update(extra or {})
    save_file(tensors, str(directory / "adapter_model.safetensors"))
    return directory


def write_gguf_adapter(path, config, factors, architecture="llama"):
    writer = gguf.GGUFWriter(str(path), architecture)
    writer.add_string("general.type", "adapter")
    writer.add_string("adapter.type", "lora")
    writer.add_float32("adapter.lora.alpha", ALPHA)
    for module, (a, b) in factors.items():
        layer, name = module.split(".", 3)[2], TARGETS[module.split(".", 3)[3]]
        if name == "attn_q":
            b = permute_qk(b, config["num_attention_heads"])
        elif name == "attn_k":
            b = permute_qk(b, config["num_key_value_heads"])
        writer.add_tensor(f"blk.{layer}.{name}.weight.lora_a", np.ascontiguousarray(a))
        writer.add_tensor(f"blk.{layer}.{name}.weight.lora_b", np.ascontiguousarray(b))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def dumped_logits(tmp_path, model, adapter, label):
    ids = tmp_path / "ids.json"
    ids.write_text(json.dumps(TOKENS))
    report = quail_json("eval", model, "--tokens-file", ids, "--adapter", adapter,
                        "--dump-activations", tmp_path / f"dump-{label}")
    return report, np.load(tmp_path / f"dump-{label}" / "logits.npy")


@pytest.mark.parametrize("name", MODELS)
def test_adapter_logits_match_reference(name, tmp_path):
    hf_dir = FIXTURES / name
    config, weights = ref.load_hf(hf_dir)
    factors = random_factors(config, weights, seed=len(name))
    peft = write_peft(tmp_path / "peft", factors)
    gguf_adapter = write_gguf_adapter(tmp_path / "adapter.gguf", config, factors)
    gguf_model = tmp_path / "model.gguf"
    run_quail("convert", hf_dir, gguf_model)

    scale = ALPHA / RANK
    merged = dict(weights)
    for module, (a, b) in factors.items():
        merged[f"{module}.weight"] = weights[f"{module}.weight"] + scale * (b.astype(np.float64) @ a)
    _, _, expected = ref.forward(config, merged, TOKENS)
    _, _, base = ref.forward(config, weights, TOKENS)
    assert np.abs(expected - base).max() > 1e-2  # the adapter matters

    report, from_peft = dumped_logits(tmp_path, hf_dir, peft, "peft")
    assert report["adapter"]["format"] == "peft"
    assert report["adapter"]["scales"] == [scale]
    assert len(report["adapter"]["modules"]) == len(factors)
    assert np.abs(from_peft - expected).max() <= 1e-3
    _, from_gguf = dumped_logits(tmp_path, hf_dir, gguf_adapter, "gguf")
    assert np.abs(from_gguf - from_peft).max() <= 1e-4
    report, gguf_on_gguf = dumped_logits(tmp_path, gguf_model, gguf_adapter, "gguf-gguf")
    assert report["adapter"]["format"] == "gguf"
    assert np.abs(gguf_on_gguf - expected).max() <= 1e-3


def test_rslora_scale_is_reported(tmp_path):
    hf_dir = FIXTURES / "tiny-llama-untied"
    config, weights = ref.load_hf(hf_dir)
    peft = write_peft(tmp_path / "peft", random_factors(config, weights, seed=3), rslora=True)
    report, _ = dumped_logits(tmp_path, hf_dir, peft, "dump")
    assert report["adapter"]["scales"] == [pytest.approx(ALPHA / RANK ** 0.5)]


def test_bad_adapters_exit_nonzero_naming_the_file(tmp_path):
    hf_dir = FIXTURES / "tiny-llama-untied"
    config, weights = ref.load_hf(hf_dir)
    factors = random_factors(config, weights, seed=5)
    module = "model.layers.0.self_attn.q_proj"
    a, b = factors[module]
    ids = tmp_path / "ids.json"
    ids.write_text(json.dumps(TOKENS))
    cases = {
        "unknown-key": write_peft(tmp_path / "unknown", factors,
                                  extra={"base_model.model.model.layers.0.mystery.weight": a}),
        "wrong-shape": write_peft(tmp_path / "shape", {module: (a[:, :-1].copy(), b)}),
        "embedding": write_peft(tmp_path / "embedding", {"model.embed_tokens": (a, b)}),
    }
    wrong_arch = write_gguf_adapter(tmp_path / "qwen.gguf", config, factors, architecture="qwen2")
    cases["architecture"] = wrong_arch
    for label, adapter in cases.items():
        proc = run_quail("eval", hf_dir, "--tokens-file", ids, "--adapter", adapter, "--dump-activations",
                         tmp_path / f"out-{label}", check=False)
        assert proc.returncode != 0, label
        assert str(adapter) in proc.stderr, (label, proc.stderr)
        assert not (tmp_path / f"out-{label}").exists()
