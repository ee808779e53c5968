# SPDX-License-Identifier: Apache-2.0
"""`quail quantize` against the reference implementations: gguf-py's NumPy ggml quantizers (byte identity on the
real SmolLM2 model), gguf-py's reader, safetensors, and the NumPy bitsandbytes reference
(fixtures/scripts/bnb_reference.py, which follows the bitsandbytes source step by step)."""
import json
import sys

import gguf
import numpy as np
import pytest
from safetensors import safe_open
from safetensors.numpy import load_file

from conftest import FIXTURES, REPO, run_quail

sys.path.insert(0, str(REPO / "fixtures" / "scripts"))
import bnb_reference as ref  # noqa: E402


@pytest.fixture(scope="module")
def smollm2_f32(smollm2_gguf, tmp_path_factory):
    out = tmp_path_factory.mktemp("smol") / "smol-f32.gguf"
    run_quail("convert", smollm2_gguf, out, "--dtype", "f32")
    return out


@pytest.mark.parametrize("qtype", ["q8_0", "q4_0"])
def test_acceptance_smollm2_requantized_equals_gguf_py(smollm2_f32, tmp_path, qtype):
    """ACCEPTANCE: the real SmolLM2 dequantized to F32, requantized by quail, equals gguf-py's quantizer."""
    out = tmp_path / f"smol-{qtype}.gguf"
    report = json.loads(run_quail("quantize", smollm2_f32, out, "--type", qtype,
                                  "--type-for", f".*={qtype}", "--json").stdout)
    assert report["tensor_count"] == 272
    assert 0 < report["quantize_seconds"] < report.get("seconds", float("inf"))
    source = {t.name: t for t in gguf.GGUFReader(smollm2_f32).tensors}
    quantized = gguf.GGUFReader(out)
    ggml_type = gguf.GGMLQuantizationType[qtype.upper()]
    checked = 0
    for tensor in quantized.tensors:
        values = np.asarray(source[tensor.name].data, dtype=np.float32)
        if values.ndim == 1:
            assert tensor.tensor_type == gguf.GGMLQuantizationType.F32
            assert np.asarray(tensor.data).tobytes() == values.tobytes()
            continue
        assert tensor.tensor_type == ggml_type, tensor.name
        expected = gguf.quants.quantize(values, ggml_type)
        assert np.asarray(tensor.data).tobytes() == expected.tobytes(), tensor.name
        checked += 1
    assert checked == 211  # every 2-D tensor: 30 layers x 7 linears + token_embd


def test_gguf_py_reads_metadata_and_file_type(smollm2_f32, tmp_path):
    out = tmp_path / "smol-q4_0.gguf"
    run_quail("quantize", smollm2_f32, out, "--type", "q4_0")
    reader = gguf.GGUFReader(out)
    source = gguf.GGUFReader(smollm2_f32)
    fields = reader.fields
    assert fields["general.file_type"].types == [gguf.GGUFValueType.UINT32]
    assert fields["general.file_type"].parts[-1][0] == gguf.LlamaFileType.MOSTLY_Q4_0
    assert fields["general.quantization_version"].types == [gguf.GGUFValueType.UINT32]
    assert fields["general.quantization_version"].parts[-1][0] == 2
    for key, field in source.fields.items():
        if key.startswith("GGUF.") or key in ("general.file_type", "general.quantization_version"):
            continue
        assert fields[key].types == field.types, key
        assert [bytes(p) for p in fields[key].parts] == [bytes(p) for p in field.parts], key
    types = {t.name: t.tensor_type.name for t in reader.tensors}
    # llama-quantize's rule for the tied embedding: Q6_K, which 576-wide rows cannot take, so Q8_0.
    assert types["token_embd.weight"] == "Q8_0"
    assert types["blk.0.attn_q.weight"] == "Q4_0" and types["blk.0.attn_norm.weight"] == "F32"


@pytest.mark.parametrize("double", [True, False])
def test_nf4_hf_output_matches_bnb_reference(tmp_path, double):
    src = FIXTURES / "tiny-llama"
    out = tmp_path / "nf4"
    args = ["quantize", src, out, "--type", "nf4"] + ([] if double else ["--no-double-quant"])
    run_quail(*args)
    tensors = load_raw(out / "model.safetensors")
    with safe_open(out / "model.safetensors", "np") as f:
        assert f.metadata() == {"format": "pt"}
        assert set(f.keys()) == set(tensors)
        for key in f.keys():
            if tensors[key].dtype != np.uint16:  # numpy has no bfloat16
                assert f.get_tensor(key).tobytes() == tensors[key].tobytes(), key
    source = {k: widen(v) for k, v in load_raw(src / "model.safetensors").items()}
    names = list(source)
    expected_keys = set()
    for name in names:
        values = source[name]
        if values.ndim != 2 or ".layers." not in name:
            expected_keys.add(name)
            assert tensors[name].dtype == np.uint16  # BF16 kept: raw 16-bit words
            assert widen(tensors[name]).tobytes() == values.tobytes(), name
            continue
        prefix = name[: -len(".weight")]
        suffixes = ["weight", "weight.absmax", "weight.quant_map", "weight.quant_state.bitsandbytes__nf4"]
        if double:
            suffixes += ["weight.nested_absmax", "weight.nested_quant_map"]
        expected_keys.update(f"{prefix}.{s}" for s in suffixes)

        flat = values.astype(np.float32).reshape(-1)
        packed, absmax = ref.quantize_4bit(flat, 64, "nf4")
        n = flat.size
        assert tensors[name].dtype == np.uint8 and tensors[name].shape == ((n + 1) // 2, 1)
        assert tensors[name].reshape(-1).tobytes() == packed.tobytes(), name
        qmap = tensors[prefix + ".weight.quant_map"]
        assert qmap.dtype == np.float32 and qmap.tobytes() == ref.NF4_CODE.tobytes()
        state = json.loads(bytes(tensors[prefix + ".weight.quant_state.bitsandbytes__nf4"]).decode())
        if double:
            codes, nested, offset = ref.double_quantize(absmax)
            assert tensors[prefix + ".weight.absmax"].dtype == np.uint8
            assert tensors[prefix + ".weight.absmax"].tobytes() == codes.tobytes(), name
            assert tensors[prefix + ".weight.nested_absmax"].dtype == np.float32
            assert tensors[prefix + ".weight.nested_absmax"].tobytes() == nested.tobytes(), name
            assert tensors[prefix + ".weight.nested_quant_map"].tobytes() == ref.dynamic_map().tobytes()
            text = ref.quant_state_json("nf4", 64, "bfloat16", values.shape, offset)
            stored_absmax = ref.dequantize_absmax(
                tensors[prefix + ".weight.absmax"], tensors[prefix + ".weight.nested_absmax"],
                np.float32(state["nested_offset"]))
        else:
            assert tensors[prefix + ".weight.absmax"].tobytes() == absmax.tobytes(), name
            text = ref.quant_state_json("nf4", 64, "bfloat16", values.shape)
            stored_absmax = tensors[prefix + ".weight.absmax"]
        assert bytes(tensors[prefix + ".weight.quant_state.bitsandbytes__nf4"]).decode() == text
        assert set(state) == ({"quant_type", "blocksize", "dtype", "shape"}
                              | ({"nested_blocksize", "nested_dtype", "nested_offset"} if double else set()))
        # The reference's dequantization of Quail's stored tensors equals its dequantization of its own.
        ours = ref.dequantize_4bit(tensors[name].reshape(-1), stored_absmax, 64, "nf4", n)
        if double:
            absmax = ref.dequantize_absmax(codes, nested, offset)
        theirs = ref.dequantize_4bit(packed, absmax, 64, "nf4", n)
        assert ours.tobytes() == theirs.tobytes(), name
    assert set(tensors) == expected_keys

    config = json.loads((out / "config.json").read_text())
    block = config["quantization_config"]
    assert list(block) == sorted(block) and len(block) == 13
    assert block == {
        "_load_in_4bit": True, "_load_in_8bit": False, "bnb_4bit_compute_dtype": "bfloat16",
        "bnb_4bit_quant_storage": "uint8", "bnb_4bit_quant_type": "nf4", "bnb_4bit_use_double_quant": double,
        "llm_int8_enable_fp32_cpu_offload": False, "llm_int8_has_fp16_weight": False,
        "llm_int8_skip_modules": None, "llm_int8_threshold": 6.0, "load_in_4bit": True, "load_in_8bit": False,
        "quant_method": "bitsandbytes"}
    assert config["torch_dtype"] == "bfloat16" and "rope_theta" in config


def test_int8_hf_output_matches_reference(tmp_path):
    src = FIXTURES / "tiny-llama-untied"
    out = tmp_path / "int8"
    run_quail("quantize", src, out, "--type", "int8", "--max-shard-bytes", "60000")
    index = json.loads((out / "model.safetensors.index.json").read_text())
    tensors = {}
    for shard in sorted(set(index["weight_map"].values())):
        tensors.update(load_file(out / shard))
    assert set(index["weight_map"]) == set(tensors)
    source = {}
    for shard in sorted((src).glob("model-*.safetensors")):
        source.update(load_file(shard))
    for name, values in source.items():
        if values.ndim == 2 and ".layers." in name:
            prefix = name[: -len(".weight")]
            cb, scb = ref.int8_rowwise_quantize(values)
            assert tensors[name].dtype == np.int8 and tensors[name].tobytes() == cb.tobytes(), name
            assert tensors[prefix + ".SCB"].tobytes() == scb.tobytes(), name
            assert tensors[prefix + ".weight_format"].shape == () and int(tensors[prefix + ".weight_format"]) == 0
        else:
            assert tensors[name].tobytes() == values.tobytes(), name
    config = json.loads((out / "config.json").read_text())["quantization_config"]
    assert config["load_in_8bit"] is True and config["load_in_4bit"] is False and len(config) == 13


def test_dry_run_writes_nothing_and_strict_fails(tmp_path):
    out = tmp_path / "a.gguf"
    proc = run_quail("quantize", FIXTURES / "tiny-llama", out, "--type", "q4_k", "--dry-run")
    dry = json.loads(run_quail("quantize", FIXTURES / "tiny-llama", out, "--type", "q4_k", "--dry-run",
                               "--json").stdout)
    assert dry["quantize_seconds"] is None
    assert "fallback from q4_k" in proc.stdout and "bits per weight: nominal 4.500" in proc.stdout
    proc = run_quail("quantize", FIXTURES / "tiny-llama", out, "--type", "q4_k", "--dry-run", "--strict", check=False)
    assert proc.returncode != 0 and "--strict" in proc.stderr
    proc = run_quail("quantize", FIXTURES / "tiny-llama", out, "--type", "q4_k", "--strict", check=False)
    assert proc.returncode != 0 and "blk.0.attn_q.weight" in proc.stderr
    assert list(tmp_path.iterdir()) == []


def assert_clean_failure(proc, path, tmp_path, keep=()):
    assert proc.returncode > 0, proc.stderr
    assert str(path) in proc.stderr, proc.stderr
    assert "Fatal error" not in proc.stderr and "Stack dump" not in proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(keep)


def test_cli_bad_input_names_the_file_and_leaves_nothing(tmp_path):
    missing = tmp_path / "missing.gguf"
    assert_clean_failure(run_quail("quantize", missing, tmp_path / "o.gguf", "--type", "q4_0", check=False),
                         missing, tmp_path)
    truncated = tmp_path / "cut.gguf"
    run_quail("convert", FIXTURES / "tiny-llama", truncated)
    truncated.write_bytes(truncated.read_bytes()[:5000])
    assert_clean_failure(run_quail("quantize", truncated, tmp_path / "o.gguf", "--type", "q4_0", check=False),
                         truncated, tmp_path, keep=["cut.gguf"])
    for bad in (["--type", "q4_z"], ["--type", "nf4"], ["--type", "q4_0", "--blocksize", "64"]):
        out = tmp_path / "o.gguf"
        assert_clean_failure(run_quail("quantize", FIXTURES / "tiny-llama", out, *bad, check=False), out,
                             tmp_path, keep=["cut.gguf"])
    out = tmp_path / "hf"
    assert_clean_failure(run_quail("quantize", FIXTURES / "tiny-llama", out, "--type", "nf4", "--blocksize", "48",
                                   check=False), out, tmp_path, keep=["cut.gguf"])


def test_nan_weight_is_reported_by_name(tmp_path):
    model = tmp_path / "model"
    model.mkdir()
    for f in (FIXTURES / "tiny-llama").iterdir():
        (model / f.name).write_bytes(f.read_bytes())
    path = model / "model.safetensors"
    data = bytearray(path.read_bytes())
    header_len = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + header_len])
    start = 8 + header_len + header["model.layers.1.mlp.up_proj.weight"]["data_offsets"][0]
    data[start + 10:start + 12] = (0x7FC0).to_bytes(2, "little")  # a BF16 NaN
    path.write_bytes(bytes(data))
    for out, qtype in ((tmp_path / "o.gguf", "q8_0"), (tmp_path / "o-hf", "nf4")):
        proc = run_quail("quantize", model, out, "--type", qtype, check=False)
        assert_clean_failure(proc, model, tmp_path, keep=["model"])
        assert "up_proj" in proc.stderr or "ffn_up" in proc.stderr
        assert "NaN" in proc.stderr


RAW_DTYPES = {"U8": np.uint8, "I8": np.int8, "F32": np.float32, "BF16": np.uint16, "F16": np.float16}


def load_raw(path):
    """A safetensors file's tensors as NumPy arrays; BF16 comes back as raw uint16 words."""
    data = path.read_bytes()
    header_len = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + header_len])
    base = 8 + header_len
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        out[name] = np.frombuffer(data[base + start:base + end], RAW_DTYPES[info["dtype"]]).reshape(info["shape"])
    return out


def widen(array):
    """BF16 words (uint16) to float32, exactly; other arrays unchanged."""
    if array.dtype != np.uint16:
        return array
    return (array.astype(np.uint32) << 16).view(np.float32)
