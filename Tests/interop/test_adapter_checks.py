"""The adapter checkers in adapter_checks.py accept the PEFT and llama.cpp adapters test_adapter.py builds with the
reference libraries (and return the same factors from both), and reject the mistakes PEFT or llama.cpp would
silently or loudly mishandle."""
import json

import gguf
import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

import reference_llama as ref
from adapter_checks import check_gguf_lora, check_peft_adapter
from conftest import FIXTURES
from test_adapter import ALPHA, RANK, TARGETS, random_factors, write_gguf_adapter, write_peft

MODULES = sorted({m.split(".")[-1] for m in TARGETS})


def with_pt_metadata(directory):
    """Re-saves the weights with `{"format": "pt"}` (what PEFT and Quail write; safetensors.numpy omits it)."""
    weights = directory / "adapter_model.safetensors"
    save_file(load_file(str(weights)), str(weights), metadata={"format": "pt"})
    return directory


@pytest.mark.parametrize("name", ["tiny-llama", "tiny-llama-f16"])  # GQA 4/2 and 4/1
def test_checkers_accept_reference_adapters_and_agree(name, tmp_path):
    config, weights = ref.load_hf(FIXTURES / name)
    factors = random_factors(config, weights, seed=7)
    peft = with_pt_metadata(write_peft(tmp_path / "peft", factors))
    path = write_gguf_adapter(tmp_path / "adapter.gguf", config, factors)

    from_peft = check_peft_adapter(peft, RANK, ALPHA, MODULES, model_config=config, expect_rslora=False)
    from_gguf = check_gguf_lora(path, ALPHA, expect_rank=RANK, model_config=config)
    assert sorted(from_peft) == sorted(from_gguf) == sorted(factors)
    for module, (a, b) in factors.items():
        for got_a, got_b in (from_peft[module], from_gguf[module]):
            assert np.array_equal(got_a, a) and np.array_equal(got_b, b), module
    # Without the model config the GGUF q rows stay in stored (permuted) order.
    raw = check_gguf_lora(path, ALPHA)
    q = "model.layers.0.self_attn.q_proj"
    assert not np.array_equal(raw[q][1], factors[q][1])


def test_peft_checker_rejects_broken_adapters(tmp_path):
    config, weights = ref.load_hf(FIXTURES / "tiny-llama")
    factors = random_factors(config, weights, seed=8)
    good = with_pt_metadata(write_peft(tmp_path / "good", factors))
    check_peft_adapter(good, RANK, ALPHA, MODULES, model_config=config)

    with pytest.raises(AssertionError, match="__metadata__"):
        check_peft_adapter(write_peft(tmp_path / "nometa", factors), RANK, ALPHA, MODULES)
    null_targets = with_pt_metadata(write_peft(tmp_path / "null", factors))
    cfg = json.loads((null_targets / "adapter_config.json").read_text())
    cfg["target_modules"] = None
    (null_targets / "adapter_config.json").write_text(json.dumps(cfg))
    with pytest.raises(AssertionError, match="explicit list"):
        check_peft_adapter(null_targets, RANK, ALPHA, MODULES)
    with pytest.raises(AssertionError, match="lora_alpha"):
        check_peft_adapter(good, RANK, ALPHA + 1, MODULES)
    with pytest.raises(AssertionError, match="target_modules"):
        check_peft_adapter(good, RANK, ALPHA, MODULES[:-1])
    module = "model.layers.0.mlp.down_proj"  # (hidden, intermediate): not square, so a swap shows
    a, b = factors[module]
    transposed = with_pt_metadata(write_peft(tmp_path / "transposed", {module: (b.T.copy(), a.T.copy())}))
    with pytest.raises(AssertionError, match="gives"):
        check_peft_adapter(transposed, RANK, ALPHA, MODULES, model_config=config)
    named = with_pt_metadata(write_peft(
        tmp_path / "named", {}, extra={f"base_model.model.{module}.lora_A.default.weight": a}))
    with pytest.raises(AssertionError, match="not base_model.model"):
        check_peft_adapter(named, RANK, ALPHA, MODULES)


def test_gguf_checker_rejects_float64_alpha_and_missing_factor(tmp_path):
    config, weights = ref.load_hf(FIXTURES / "tiny-llama")
    factors = random_factors(config, weights, seed=9)
    module = "model.layers.1.mlp.down_proj"
    a, b = factors[module]

    def write(path, alpha_type, tensors):
        writer = gguf.GGUFWriter(str(path), "llama")
        writer.add_string("general.type", "adapter")
        writer.add_string("adapter.type", "lora")
        writer.add_key_value("adapter.lora.alpha", ALPHA, alpha_type)
        for name, value in tensors.items():
            writer.add_tensor(name, value)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        return path

    both = {"blk.1.ffn_down.weight.lora_a": a, "blk.1.ffn_down.weight.lora_b": b}
    check_gguf_lora(write(tmp_path / "ok.gguf", gguf.GGUFValueType.FLOAT32, both), ALPHA, model_config=config)
    with pytest.raises(AssertionError, match="FLOAT32"):
        check_gguf_lora(write(tmp_path / "f64.gguf", gguf.GGUFValueType.FLOAT64, both), ALPHA)
    with pytest.raises(AssertionError, match="lacks lora_b"):
        check_gguf_lora(write(tmp_path / "half.gguf", gguf.GGUFValueType.FLOAT32,
                              {"blk.1.ffn_down.weight.lora_a": a}), ALPHA)
    with pytest.raises(AssertionError, match="F16"):
        check_gguf_lora(write(tmp_path / "f16.gguf", gguf.GGUFValueType.FLOAT32,
                              {k: v.astype(np.float16) for k, v in both.items()}), ALPHA)
