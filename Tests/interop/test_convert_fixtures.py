"""HF <-> GGUF conversion of the fixture models, checked with gguf-py, safetensors and tokenizers."""
import json

import gguf
import numpy as np
import pytest
from safetensors import safe_open
from tokenizers import Tokenizer

from conftest import FIXTURES, quail_json, run_quail
from gguf_rewrite import field_value, rewrite_with_gguf_py
from reference import as_array, as_float32, converter_type, permute_qk, read_checkpoint_raw

MODELS = ["tiny-llama", "tiny-llama-untied", "tiny-llama-f16"]

# Types llama.cpp's loader checks exactly (formats.md §3.3, llama-model-loader get_kv).
REQUIRED_TYPES = {
    "general.architecture": gguf.GGUFValueType.STRING,
    "llama.context_length": gguf.GGUFValueType.UINT32,
    "llama.embedding_length": gguf.GGUFValueType.UINT32,
    "llama.block_count": gguf.GGUFValueType.UINT32,
    "llama.feed_forward_length": gguf.GGUFValueType.UINT32,
    "llama.attention.head_count": gguf.GGUFValueType.UINT32,
    "llama.attention.head_count_kv": gguf.GGUFValueType.UINT32,
    "llama.attention.layer_norm_rms_epsilon": gguf.GGUFValueType.FLOAT32,
    "llama.rope.freq_base": gguf.GGUFValueType.FLOAT32,
    "llama.rope.dimension_count": gguf.GGUFValueType.UINT32,
    "general.file_type": gguf.GGUFValueType.UINT32,
    "tokenizer.ggml.model": gguf.GGUFValueType.STRING,
    "tokenizer.ggml.bos_token_id": gguf.GGUFValueType.UINT32,
    "tokenizer.ggml.eos_token_id": gguf.GGUFValueType.UINT32,
}


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("dtype", [None, "f32", "f16", "bf16"])
def test_hf_to_gguf_is_read_by_gguf_py(model, dtype, tmp_path):
    src = FIXTURES / model
    out = tmp_path / "model.gguf"
    report = quail_json("convert", src, out, *(["--dtype", dtype] if dtype else []))
    config = json.loads((src / "config.json").read_text())
    reader = gguf.GGUFReader(out)

    for key, expected in REQUIRED_TYPES.items():
        assert key in reader.fields, key
        assert reader.fields[key].types[0] == expected, key
    assert reader.fields["llama.embedding_length"].contents() == config["hidden_size"]
    assert reader.fields["llama.attention.head_count_kv"].contents() == config["num_key_value_heads"]
    assert np.float32(reader.fields["llama.attention.layer_norm_rms_epsilon"].contents()) == np.float32(config["rms_norm_eps"])

    tokenizer = Tokenizer.from_file(str(src / "tokenizer.json"))
    vocab = tokenizer.get_vocab(with_added_tokens=True)
    tokens = field_value(reader.fields["tokenizer.ggml.tokens"])
    assert len(tokens) == config["vocab_size"]
    for token, index in vocab.items():
        assert tokens[index] == token
    types = field_value(reader.fields["tokenizer.ggml.token_type"])
    for added in json.loads((src / "tokenizer.json").read_text())["added_tokens"]:
        assert types[added["id"]] == (3 if added["special"] else 4)
    merges = json.loads((src / "tokenizer.json").read_text())["model"]["merges"]
    assert field_value(reader.fields["tokenizer.ggml.merges"]) == [m if isinstance(m, str) else " ".join(m) for m in merges]

    name_map = gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA, config["num_hidden_layers"])
    hf = read_checkpoint_raw(src)
    gguf_tensors = {t.name: t for t in reader.tensors}
    assert len(gguf_tensors) == len(hf)
    casts = {c["tensor"]: c for c in report["casts"]}
    for name, (stored, shape, raw) in hf.items():
        target = name_map.get_name(name, try_suffixes=(".weight", ".bias"))
        tensor = gguf_tensors[target]
        assert list(tensor.shape) == shape[::-1], name
        # The type llama.cpp's converter writes: 1-D (norm) tensors F32 whatever --dtype says.
        expected_type = converter_type(target, shape, dtype.upper() if dtype else stored)
        assert tensor.tensor_type.name == expected_type, name
        if expected_type == stored:
            assert name not in casts, name
            expected = as_array(stored, shape, raw)
        else:
            assert (casts[name]["from"], casts[name]["to"]) == (stored, expected_type), name
            assert casts[name]["lossless"] == (expected_type == "F32"), name
            if expected_type != "F32":
                continue  # narrowing casts are checked in test_dtype_cast_is_reported_and_exact
            expected = as_float32(stored, shape, raw)
        if "q_proj" in name:
            expected = permute_qk(expected, config["num_attention_heads"])
        elif "k_proj" in name:
            expected = permute_qk(expected, config["num_key_value_heads"])
        assert tensor.data.tobytes() == np.ascontiguousarray(expected).tobytes(), name
    assert set(casts) <= set(hf)


@pytest.mark.parametrize("model", MODELS)
def test_round_trips_are_bit_identical(model, tmp_path):
    src = FIXTURES / model
    run_quail("convert", src, tmp_path / "a.gguf")
    run_quail("convert", tmp_path / "a.gguf", tmp_path / "hf")
    run_quail("convert", tmp_path / "hf", tmp_path / "b.gguf")
    run_quail("convert", tmp_path / "a.gguf", tmp_path / "copy.gguf")
    # HF -> GGUF -> HF: the same tensor bytes, dtypes and shapes (the fixtures store their norms in the model
    # dtype, which the GGUF widens to F32 and the HF side narrows back because every value fits).
    original, back = read_checkpoint_raw(src), read_checkpoint_raw(tmp_path / "hf")
    assert original.keys() == back.keys()
    for name in original:
        assert original[name] == back[name], name
    assert not (tmp_path / "hf" / "gguf-metadata.json").exists()
    assert all(t.tensor_type.name == "F32" for t in gguf.GGUFReader(tmp_path / "a.gguf").tensors if len(t.shape) == 1)
    # GGUF -> HF -> GGUF and GGUF -> GGUF: the same GGUF bytes.
    assert (tmp_path / "a.gguf").read_bytes() == (tmp_path / "b.gguf").read_bytes()
    assert (tmp_path / "a.gguf").read_bytes() == (tmp_path / "copy.gguf").read_bytes()
    # The HF output loads in the peers.
    Tokenizer.from_file(str(tmp_path / "hf" / "tokenizer.json"))
    with safe_open(tmp_path / "hf" / "model.safetensors", framework="numpy") as f:
        assert f.metadata() == {"format": "pt"}


def test_gguf_written_by_gguf_py_converts_and_inspects(tmp_path):
    """A GGUF built by gguf-py's GGUFWriter from the fixture is read by Quail with identical content."""
    src = FIXTURES / "tiny-llama-untied"
    config = json.loads((src / "config.json").read_text())
    run_quail("convert", src, tmp_path / "quail.gguf")
    reader = gguf.GGUFReader(tmp_path / "quail.gguf")
    rewrite_with_gguf_py(reader, tmp_path / "py.gguf")

    report = quail_json("inspect", tmp_path / "py.gguf")
    assert report["architecture"] == "llama"
    assert report["tensor_count"] == len(reader.tensors)
    for row, tensor in zip(report["tensors"], reader.tensors):
        assert row["name"] == tensor.name
        assert row["shape"] == [int(d) for d in tensor.shape[::-1]]
        assert row["bytes"] == tensor.n_bytes
    assert report["hyperparameters"]["llama.block_count"] == config["num_hidden_layers"]
    run_quail("convert", tmp_path / "py.gguf", tmp_path / "hf")
    original, back = read_checkpoint_raw(src), read_checkpoint_raw(tmp_path / "hf")
    assert {k: v for k, v in original.items()} == back


def test_dtype_cast_is_reported_and_exact(tmp_path):
    src = FIXTURES / "tiny-llama"  # BF16
    report = quail_json("convert", src, tmp_path / "f32.gguf", "--dtype", "f32")
    assert report["casts"] and all(c["from"] == "BF16" and c["to"] == "F32" and c["lossless"] for c in report["casts"])
    reader = gguf.GGUFReader(tmp_path / "f32.gguf")
    hf = read_checkpoint_raw(src)
    tensor = next(t for t in reader.tensors if t.name == "blk.0.ffn_up.weight")
    dtype, shape, raw = hf["model.layers.0.mlp.up_proj.weight"]
    expected = (as_array(dtype, shape, raw).astype(np.uint32) << 16).view(np.float32)
    assert np.array_equal(tensor.data, expected)
    plain = quail_json("convert", src, tmp_path / "same.gguf")
    vectors = sorted(name for name, (_, shape, _) in hf.items() if len(shape) == 1)
    assert len(vectors) == 5
    assert sorted(c["tensor"] for c in plain["casts"]) == vectors  # only the norms, widened as llama.cpp does
    assert all((c["from"], c["to"], c["lossless"]) == ("BF16", "F32", True) for c in plain["casts"])


def test_gguf_from_llama_cpp_style_bf16_gets_model_dtype_norms(tmp_path):
    """A GGUF laid out like llama.cpp's converter writes a BF16 model (BF16 matrices, F32 norms), built by gguf-py:
    the HF side stores the norms as BF16 again when every value fits (and as F32 when one does not), and converting
    back gives the same GGUF bytes."""
    src = FIXTURES / "tiny-llama"
    run_quail("convert", src, tmp_path / "quail.gguf")
    reader = gguf.GGUFReader(tmp_path / "quail.gguf")
    for odd in (False, True):
        path = tmp_path / f"py-{odd}.gguf"

        def data(tensor, odd=odd):
            values = np.array(tensor.data)
            if odd and tensor.name == "output_norm.weight":
                values[0] = np.float32(1 + 2.0 ** -20)  # not a BF16 value
            return values

        rewrite_with_gguf_py(reader, path, tensor_data=data)

        hf = tmp_path / f"hf-{odd}"
        report = quail_json("convert", path, hf)
        back = read_checkpoint_raw(hf)
        original = read_checkpoint_raw(src)
        narrowed = {c["tensor"] for c in report["casts"]}
        assert all((c["from"], c["to"], c["lossless"]) == ("F32", "BF16", True) for c in report["casts"])
        if odd:
            assert back["model.norm.weight"][0] == "F32"
            assert as_float32(*back["model.norm.weight"])[0] == np.float32(1 + 2.0 ** -20)
            assert len(narrowed) == 4 and "model.norm.weight" not in narrowed
        else:
            assert back == original
            assert len(narrowed) == 5
        run_quail("convert", hf, tmp_path / f"back-{odd}.gguf")
        assert (tmp_path / f"back-{odd}.gguf").read_bytes() == path.read_bytes()
