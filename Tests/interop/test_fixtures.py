# SPDX-License-Identifier: Apache-2.0
"""Checks that the committed fixtures are reproducible and readable by the reference Python packages.

Opt-in interop tier: needs numpy, safetensors and tokenizers at the versions pinned in fixtures/MANIFEST.json.

    python -m pytest Tests/interop/test_fixtures.py
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

import jinja2
import numpy as np
import safetensors
import safetensors.numpy as safetensors_numpy
import tokenizers

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "fixtures"
SCRIPT = FIXTURES / "scripts" / "make_fixtures.py"
MANIFEST = json.loads((FIXTURES / "MANIFEST.json").read_text(encoding="utf-8"))
MODEL_DIRS = sorted({path.split("/")[0] for path in MANIFEST["files"] if path.startswith("tiny-llama")})
SAFETENSORS_FILES = sorted(path for path in MANIFEST["files"] if path.endswith(".safetensors"))
NUMPY_DTYPES = {"F32": np.float32, "F16": np.float16}
DTYPE_FOR_TORCH_NAME = {"float32": "F32", "float16": "F16", "bfloat16": "BF16"}

# Keys of a config.json that transformers' LlamaConfig.save_pretrained writes (4.4x-4.5x releases).
LLAMA_CONFIG_KEYS = {
    "architectures", "attention_bias", "attention_dropout", "bos_token_id", "eos_token_id", "head_dim", "hidden_act",
    "hidden_size", "initializer_range", "intermediate_size", "max_position_embeddings", "mlp_bias", "model_type",
    "num_attention_heads", "num_hidden_layers", "num_key_value_heads", "pretraining_tp", "rms_norm_eps",
    "rope_scaling", "rope_theta", "tie_word_embeddings", "torch_dtype", "transformers_version", "use_cache",
    "vocab_size",
}


def load_generator():
    spec = importlib.util.spec_from_file_location("make_fixtures", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["make_fixtures"] = module
    spec.loader.exec_module(module)
    return module


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def config(model_dir: str) -> dict:
    return json.loads((FIXTURES / model_dir / "config.json").read_text(encoding="utf-8"))


def expected_shapes(cfg: dict) -> dict[str, list[int]]:
    """HF llama tensor names and shapes derived from config.json alone."""
    h, i, v, d = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"], cfg["head_dim"]
    q, kv = cfg["num_attention_heads"] * d, cfg["num_key_value_heads"] * d
    shapes = {"model.embed_tokens.weight": [v, h], "model.norm.weight": [h]}
    for n in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{n}."
        shapes |= {
            p + "input_layernorm.weight": [h], p + "post_attention_layernorm.weight": [h],
            p + "self_attn.q_proj.weight": [q, h], p + "self_attn.k_proj.weight": [kv, h],
            p + "self_attn.v_proj.weight": [kv, h], p + "self_attn.o_proj.weight": [h, q],
            p + "mlp.gate_proj.weight": [i, h], p + "mlp.up_proj.weight": [i, h], p + "mlp.down_proj.weight": [h, i],
        }
    if not cfg["tie_word_embeddings"]:
        shapes["lm_head.weight"] = [v, h]
    return shapes


def raw_header(path: Path) -> tuple[dict, bytes]:
    blob = path.read_bytes()
    n = int.from_bytes(blob[:8], "little")
    return json.loads(blob[8:8 + n]), blob[8 + n:]


# MARK: - Reproducibility


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("fixtures")
    result = subprocess.run([sys.executable, str(SCRIPT), "--out", str(out)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return out


def test_installed_packages_are_the_pinned_versions():
    installed = {name: importlib.metadata.version(name) for name in MANIFEST["packages"]}
    assert installed == MANIFEST["packages"] == load_generator().PINNED


def test_regenerating_gives_byte_identical_files(regenerated):
    produced = sorted(p.relative_to(regenerated).as_posix() for p in regenerated.rglob("*") if p.is_file())
    assert produced == sorted([*MANIFEST["files"], "MANIFEST.json"])
    different = [p for p in produced if (regenerated / p).read_bytes() != (FIXTURES / p).read_bytes()]
    assert different == []


def test_manifest_digests_match_committed_files():
    for path, entry in {**MANIFEST["files"], **MANIFEST["inputs"]}.items():
        assert (FIXTURES / path).stat().st_size == entry["size"], path
        assert sha256(FIXTURES / path) == entry["sha256"], path
    assert sha256(SCRIPT) == MANIFEST["generator_sha256"]


def test_model_directories_hold_only_generated_files():
    for model_dir in MODEL_DIRS:
        on_disk = {p.name for p in (FIXTURES / model_dir).iterdir()}
        listed = {path.split("/", 1)[1] for path in MANIFEST["files"] if path.startswith(model_dir + "/")}
        assert on_disk == listed, model_dir


# MARK: - Tokenizer


@pytest.mark.parametrize("model_dir", MODEL_DIRS)
def test_tokenizer_round_trips_the_edge_cases(model_dir):
    tokenizer = tokenizers.Tokenizer.from_file(str(FIXTURES / model_dir / "tokenizer.json"))
    text = (FIXTURES / "text" / "tokenizer-edge-cases.txt").read_bytes().decode("utf-8")
    assert "\r\n" in text and "\u200d" in text and text.endswith("   ")
    assert tokenizer.decode(tokenizer.encode(text).ids, skip_special_tokens=False) == text
    for line in text.splitlines(keepends=True):
        assert tokenizer.decode(tokenizer.encode(line).ids, skip_special_tokens=False) == line


@pytest.mark.parametrize("model_dir", MODEL_DIRS)
def test_tokenizer_special_tokens_agree_with_the_configs(model_dir):
    tokenizer = tokenizers.Tokenizer.from_file(str(FIXTURES / model_dir / "tokenizer.json"))
    tokenizer_config = json.loads((FIXTURES / model_dir / "tokenizer_config.json").read_text(encoding="utf-8"))
    cfg = config(model_dir)
    assert tokenizer.get_vocab_size() == cfg["vocab_size"] == tokenizer_config["vocab_size"]
    assert [tokenizer.id_to_token(i) for i in range(3)] == ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    assert tokenizer.token_to_id(tokenizer_config["bos_token"]) == cfg["bos_token_id"]
    assert tokenizer.token_to_id(tokenizer_config["eos_token"]) == cfg["eos_token_id"]
    assert tokenizer.encode("<|im_start|>user\nhi<|im_end|>").ids[0] == 1
    assert tokenizer.encode("<|im_start|>user\nhi<|im_end|>").ids[-1] == 2
    assert tokenizer_config["add_bos_token"] is False
    assert tokenizer.encode("a").ids == [tokenizer.token_to_id("a")]  # no BOS/EOS added by the post-processor


def test_tokenizer_pipeline_is_smollm2s():
    document = json.loads((FIXTURES / "tiny-llama" / "tokenizer.json").read_text(encoding="utf-8"))
    assert document["normalizer"] is None
    assert document["pre_tokenizer"] == {"type": "Sequence", "pretokenizers": [
        {"type": "Digits", "individual_digits": True},
        {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
    ]}
    assert document["decoder"] == {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True,
                                   "use_regex": True}
    assert document["post_processor"]["type"] == "ByteLevel"
    model = document["model"]
    assert model["type"] == "BPE" and model["byte_fallback"] is False and model["unk_token"] is None
    byte_alphabet = set(tokenizers.pre_tokenizers.ByteLevel.alphabet())
    assert len(byte_alphabet) == 256 and byte_alphabet <= set(model["vocab"])
    assert len(model["merges"]) == len(model["vocab"]) - 3 - 256
    for model_dir in MODEL_DIRS:  # one tokenizer shared by every model
        for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
            assert (FIXTURES / model_dir / name).read_bytes() == (FIXTURES / "tiny-llama" / name).read_bytes()


def test_chat_template_renders_chatml():
    tokenizer_config = json.loads((FIXTURES / "tiny-llama" / "tokenizer_config.json").read_text(encoding="utf-8"))
    template = jinja2.Environment().from_string(tokenizer_config["chat_template"])
    rendered = template.render(messages=[{"role": "user", "content": "Hi"}], add_generation_prompt=True)
    assert rendered == "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"


# MARK: - Checkpoints


@pytest.mark.parametrize("model_dir", MODEL_DIRS)
def test_config_has_the_llama_config_shape(model_dir):
    cfg = config(model_dir)
    assert set(cfg) == LLAMA_CONFIG_KEYS
    assert cfg["architectures"] == ["LlamaForCausalLM"] and cfg["model_type"] == "llama"
    assert cfg["head_dim"] * cfg["num_attention_heads"] == cfg["hidden_size"]
    assert cfg["num_attention_heads"] % cfg["num_key_value_heads"] == 0
    raw = (FIXTURES / model_dir / "config.json").read_text(encoding="utf-8")
    assert raw == json.dumps(cfg, indent=2, sort_keys=True) + "\n"


@pytest.mark.parametrize("model_dir", MODEL_DIRS)
def test_checkpoint_tensors_match_the_config(model_dir):
    cfg = config(model_dir)
    dtype = DTYPE_FOR_TORCH_NAME[cfg["torch_dtype"]]
    found: dict[str, list[int]] = {}
    for path in sorted((FIXTURES / model_dir).glob("*.safetensors")):
        with safetensors.safe_open(str(path), framework="numpy") as handle:
            assert handle.metadata() == {"format": "pt"}
            for name in handle.keys():
                piece = handle.get_slice(name)
                assert piece.get_dtype() == dtype, name
                assert name not in found, f"{name} appears in two shards"
                found[name] = piece.get_shape()
                if dtype in NUMPY_DTYPES:
                    tensor = handle.get_tensor(name)
                    assert tensor.dtype == NUMPY_DTYPES[dtype] and np.all(np.isfinite(tensor)), name
    assert found == expected_shapes(cfg)


@pytest.mark.parametrize("path", [p for p in SAFETENSORS_FILES if not p.startswith("tiny-llama/")])
def test_reference_writer_reproduces_the_float_files(path):
    arrays = safetensors_numpy.load_file(str(FIXTURES / path))
    assert safetensors_numpy.save(arrays, metadata={"format": "pt"}) == (FIXTURES / path).read_bytes()


def test_bf16_weights_are_the_nearest_even_rounding_of_the_float32_weights():
    generator = load_generator()
    spec = next(s for s in generator.MODELS if s.directory == "tiny-llama")
    header, data = raw_header(FIXTURES / "tiny-llama" / "model.safetensors")
    for name, master in generator.make_weights(spec).items():
        begin, end = header[name]["data_offsets"]
        bits = np.frombuffer(data[begin:end], dtype="<u2").reshape(master.shape).astype(np.uint32)
        chosen = (bits << 16).view(np.float32)
        up, down = ((bits + 1) << 16).view(np.float32), ((bits - 1) << 16).view(np.float32)
        error = np.abs(chosen.astype(np.float64) - master)
        assert np.all(error <= np.abs(up.astype(np.float64) - master)), name
        assert np.all(error <= np.abs(down.astype(np.float64) - master)), name
        tie = (error == np.abs(up.astype(np.float64) - master)) | (error == np.abs(down.astype(np.float64) - master))
        assert np.all(bits[tie] % 2 == 0), name


def test_sharded_index_follows_huggingface_hub():
    model_dir = FIXTURES / "tiny-llama-untied"
    raw = (model_dir / "model.safetensors.index.json").read_text(encoding="utf-8")
    index = json.loads(raw)
    assert raw == json.dumps(index, indent=2)
    shards = sorted(p.name for p in model_dir.glob("*.safetensors"))
    assert shards == ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]
    expected_map, total = {}, 0
    for shard in shards:
        header, data = raw_header(model_dir / shard)
        expected_map |= {name: shard for name in header if name != "__metadata__"}
        total += len(data)
    assert index["weight_map"] == expected_map
    assert index["metadata"] == {"total_size": total}
    layer = ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj", "mlp.gate_proj",
             "mlp.up_proj", "mlp.down_proj", "input_layernorm", "post_attention_layernorm"]
    layers = range(config("tiny-llama-untied")["num_hidden_layers"])
    state_dict_order = ["model.embed_tokens.weight", *[f"model.layers.{n}.{m}.weight" for n in layers for m in layer],
                        "model.norm.weight", "lm_head.weight"]
    assert list(index["weight_map"]) == state_dict_order


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
