"""Checks that a LoRA adapter on disk is what PEFT and llama.cpp load: a PEFT adapter directory
(`adapter_config.json` + `adapter_model.safetensors`) and a llama.cpp LoRA GGUF. Each check raises AssertionError
naming the broken rule; the loaders return the factors in HF orientation and row order so that the two forms can be
compared numerically.

Rules: PEFT `LoraConfig` / `save_pretrained` key layout (`base_model.model.<module>.lora_A.weight` (r, in),
`.lora_B.weight` (out, r), no adapter name in keys, explicit `target_modules`); llama.cpp `llama-adapter.cpp`
(`general.type` adapter, `adapter.type` lora, `adapter.lora.alpha` FLOAT32, `<base>.lora_a` ne [in, r] and `.lora_b`
ne [r, out], q/k lora_b rows in GGUF RoPE order)."""
import json
import re
from pathlib import Path

import numpy as np
from gguf import GGMLQuantizationType, GGUFReader, GGUFValueType
from safetensors import safe_open

GGUF_MODULES = {"attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj", "attn_v": "self_attn.v_proj",
                "attn_output": "self_attn.o_proj", "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj",
                "ffn_down": "mlp.down_proj"}
PEFT_KEY = re.compile(r"base_model\.model\.(model\.layers\.\d+\.(?:self_attn|mlp)\.[a-z_]+)\.lora_([AB])\.weight")
GGUF_KEY = re.compile(r"blk\.(\d+)\.([a-z_]+)\.weight\.lora_([ab])")


def linear_shape(config, module):
    """(out, in) of an HF block linear (`model.layers.N.self_attn.q_proj`) for an HF config dict."""
    hidden, heads = config["hidden_size"], config["num_attention_heads"]
    kv_heads = config.get("num_key_value_heads", heads)
    head_dim = config.get("head_dim") or hidden // heads
    shapes = {"q_proj": (heads * head_dim, hidden), "k_proj": (kv_heads * head_dim, hidden),
              "v_proj": (kv_heads * head_dim, hidden), "o_proj": (hidden, heads * head_dim),
              "gate_proj": (config["intermediate_size"], hidden), "up_proj": (config["intermediate_size"], hidden),
              "down_proj": (hidden, config["intermediate_size"])}
    return shapes[module.rsplit(".", 1)[-1]]


def unpermute_qk(rows, heads):
    """GGUF → HF row order of a q/k tensor (inverse of `reference.permute_qk`)."""
    count = rows.shape[0]
    return rows.reshape(heads, count // heads // 2, 2, *rows.shape[1:]).swapaxes(1, 2).reshape(rows.shape)


def _pairs(modules, path):
    """Asserts every module has both factors; returns them sorted."""
    for module, factors in modules.items():
        assert set(factors) == {"a", "b"}, f"{path}: {module} lacks lora_{({'a', 'b'} - set(factors)).pop()}"
    return dict(sorted(modules.items()))


def check_peft_adapter(directory, expect_rank, expect_alpha, expect_modules, model_config=None, expect_rslora=None):
    """Asserts `directory` is a PEFT LoRA adapter PEFT loads with every factor; returns {module: (A, B)} (float32).

    `expect_modules` are the short names (`q_proj`, …) that must equal `target_modules`; with `model_config`
    (an HF config dict) the factor shapes are checked against the model."""
    directory = Path(directory)
    config = json.loads((directory / "adapter_config.json").read_text())
    where = directory / "adapter_config.json"
    assert config.get("peft_type") == "LORA", f"{where}: peft_type {config.get('peft_type')!r}"
    assert config.get("r") == expect_rank, f"{where}: r {config.get('r')!r} != {expect_rank}"
    assert isinstance(config.get("lora_alpha"), (int, float)) and not isinstance(config["lora_alpha"], bool)
    assert float(config["lora_alpha"]) == float(expect_alpha), f"{where}: lora_alpha {config['lora_alpha']!r}"
    targets = config.get("target_modules")
    assert isinstance(targets, list), f"{where}: target_modules must be an explicit list, got {targets!r}"
    assert sorted(targets) == sorted(expect_modules), f"{where}: target_modules {targets}"
    if expect_rslora is not None:
        assert config.get("use_rslora", False) is expect_rslora, f"{where}: use_rslora {config.get('use_rslora')!r}"
    for key, allowed in {"bias": ["none"], "fan_in_fan_out": [False], "use_dora": [False],
                         "task_type": ["CAUSAL_LM", None], "rank_pattern": [{}], "alpha_pattern": [{}],
                         "modules_to_save": [None]}.items():
        if key in config:
            assert config[key] in allowed, f"{where}: {key} {config[key]!r} (expected one of {allowed})"

    weights = directory / "adapter_model.safetensors"
    modules = {}
    with safe_open(str(weights), "np") as handle:
        assert handle.metadata() == {"format": "pt"}, f"{weights}: __metadata__ {handle.metadata()!r}"
        for key in handle.keys():
            match = PEFT_KEY.fullmatch(key)
            assert match, f"{weights}: {key} is not base_model.model.<linear>.lora_A/B.weight"
            tensor = handle.get_tensor(key)
            assert tensor.dtype == np.float32 and tensor.ndim == 2, f"{weights}: {key} is {tensor.dtype} {tensor.shape}"
            modules.setdefault(match.group(1), {})[match.group(2).lower()] = tensor
    modules = _pairs(modules, weights)
    assert modules, f"{weights}: no LoRA factors"
    result = {}
    for module, factors in modules.items():
        a, b = factors["a"], factors["b"]
        short = module.rsplit(".", 1)[-1]
        assert short in targets, f"{weights}: {module} is not in target_modules, PEFT would drop it"
        assert a.shape[0] == expect_rank and b.shape[1] == expect_rank, f"{weights}: {module} A {a.shape} B {b.shape}"
        if model_config is not None:
            out, width = linear_shape(model_config, module)
            assert (b.shape[0], a.shape[1]) == (out, width), f"{weights}: {module} gives {(b.shape[0], a.shape[1])}"
        result[module] = (a, b)
    return result


def check_gguf_lora(path, expect_alpha, expect_rank=None, model_config=None):
    """Asserts `path` is a llama.cpp LoRA GGUF that llama.cpp loads; returns {HF module: (A, B)} with B in HF row
    order (q/k un-permuted, which needs `model_config`) or in stored order without it."""
    reader = GGUFReader(str(path))

    def string(key):
        field = reader.fields.get(key)
        assert field is not None, f"{path}: {key} missing"
        assert field.types == [GGUFValueType.STRING], f"{path}: {key} has type {field.types}"
        return bytes(field.parts[field.data[0]]).decode()

    assert string("general.architecture") == "llama", f"{path}: general.architecture"
    assert string("general.type") == "adapter", f"{path}: general.type"
    assert string("adapter.type") == "lora", f"{path}: adapter.type"
    alpha = reader.fields.get("adapter.lora.alpha")
    assert alpha is not None, f"{path}: adapter.lora.alpha missing"
    assert alpha.types == [GGUFValueType.FLOAT32], \
        f"{path}: adapter.lora.alpha is {alpha.types}, llama.cpp needs FLOAT32"
    stored = alpha.parts[alpha.data[0]][0]
    assert stored == np.float32(expect_alpha), f"{path}: adapter.lora.alpha {stored} != {np.float32(expect_alpha)}"

    modules = {}
    for tensor in reader.tensors:
        match = GGUF_KEY.fullmatch(tensor.name)
        assert match and match.group(2) in GGUF_MODULES, f"{path}: unexpected tensor {tensor.name}"
        assert tensor.tensor_type == GGMLQuantizationType.F32, f"{path}: {tensor.name} is {tensor.tensor_type.name}"
        assert len(tensor.shape) == 2, f"{path}: {tensor.name} has ne {list(tensor.shape)}"
        module = f"model.layers.{match.group(1)}.{GGUF_MODULES[match.group(2)]}"
        data = np.array(tensor.data, dtype=np.float32).reshape(int(tensor.shape[1]), int(tensor.shape[0]))
        modules.setdefault(module, {})[match.group(3)] = data
    modules = _pairs(modules, path)
    assert modules, f"{path}: no LoRA tensors"
    result = {}
    for module, factors in modules.items():
        a, b = factors["a"], factors["b"]  # numpy (r, in) and (out, r): ne [in, r] and [r, out]
        assert a.shape[0] == b.shape[1], f"{path}: {module} lora_a ne[1] {a.shape[0]} != lora_b ne[0] {b.shape[1]}"
        if expect_rank is not None:
            assert a.shape[0] == expect_rank, f"{path}: {module} has rank {a.shape[0]}"
        if model_config is not None:
            out, width = linear_shape(model_config, module)
            assert (b.shape[0], a.shape[1]) == (out, width), f"{path}: {module} gives {(b.shape[0], a.shape[1])}"
            if module.endswith("q_proj"):
                b = unpermute_qk(b, model_config["num_attention_heads"])
            elif module.endswith("k_proj"):
                b = unpermute_qk(b, model_config.get("num_key_value_heads", model_config["num_attention_heads"]))
        result[module] = (a, b)
    return result
