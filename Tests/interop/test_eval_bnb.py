# SPDX-License-Identifier: Apache-2.0
"""`quail eval` on bitsandbytes pre-quantized HF directories written by `quail quantize --type nf4|fp4|int8`,
against the NumPy reference forward pass (reference_llama.py) run on weights dequantized from the stored bytes by
the NumPy bitsandbytes reference (fixtures/scripts/bnb_reference.py, written from the bitsandbytes source)."""
import json
import shutil
import sys

import numpy as np
import pytest
from tokenizers import Tokenizer

import reference_llama as ref_llama
from conftest import FIXTURES, REPO, quail_json, run_quail
from reference import as_array, read_checkpoint_raw

sys.path.insert(0, str(REPO / "fixtures" / "scripts"))
import bnb_reference as bnb  # noqa: E402

STATE = ".quant_state.bitsandbytes__"
STATISTICS = (".absmax", ".quant_map", ".nested_absmax", ".nested_quant_map", ".weight_format", ".SCB")


def load_bnb(directory):
    """(config, {hf_name: float32 array}) from a bitsandbytes HF directory, quantized linears dequantized by the
    NumPy bitsandbytes reference from their stored codes, statistics and quant-state JSON."""
    config = json.loads((directory / "config.json").read_text())
    assert config["quantization_config"]["quant_method"] == "bitsandbytes"
    raw = read_checkpoint_raw(directory)
    arrays = {name: as_array(*entry) for name, entry in raw.items()}
    weights = {}
    for name, (dtype, shape, _) in raw.items():
        if STATE in name:
            weight = name[: name.index(STATE)]
            state = json.loads(bytes(arrays[name]).decode())
            n = int(np.prod(state["shape"]))
            if "nested_offset" in state:
                absmax = bnb.dequantize_absmax(
                    arrays[weight + ".absmax"], arrays[weight + ".nested_absmax"], np.float32(state["nested_offset"]))
            else:
                absmax = arrays[weight + ".absmax"]
            assert arrays[weight + ".quant_map"].tobytes() == bnb.CODES[state["quant_type"]].tobytes()
            values = bnb.dequantize_4bit(arrays[weight].reshape(-1), absmax, state["blocksize"], state["quant_type"], n)
            weights[weight] = values.reshape(state["shape"])
        elif name.endswith(".SCB"):
            prefix = name[: -len(".SCB")]
            weights[prefix + ".weight"] = bnb.int8_rowwise_dequantize(arrays[prefix + ".weight"], arrays[name])
        elif not name.endswith(STATISTICS) and dtype != "I8" and dtype != "U8":
            array = arrays[name]
            if dtype == "BF16":
                array = (array.astype(np.uint32) << 16).view(np.float32)
            weights[name] = array.astype(np.float32)
    return ref_llama.normalize_config(config), weights


@pytest.fixture(scope="module")
def fixture_tokens():
    tokenizer = Tokenizer.from_file(str(FIXTURES / "tiny-llama" / "tokenizer.json"))
    return tokenizer.encode((FIXTURES / "text" / "heldout.txt").read_text()).ids


SETTINGS = {
    "nf4": ["--type", "nf4"],
    "nf4-plain": ["--type", "nf4", "--no-double-quant"],
    "fp4": ["--type", "fp4", "--blocksize", "128", "--no-double-quant"],
    "int8": ["--type", "int8"],
}


@pytest.mark.parametrize("model", ["tiny-llama", "tiny-llama-untied"])
@pytest.mark.parametrize("setting", list(SETTINGS))
def test_eval_perplexity_matches_reference(tmp_path, fixture_tokens, model, setting):
    out = tmp_path / setting
    run_quail("quantize", FIXTURES / model, out, *SETTINGS[setting])
    ids = tmp_path / "ids.json"
    tokens = fixture_tokens[:1000]
    ids.write_text(json.dumps(tokens))
    report = quail_json("eval", out, "--tokens-file", ids, "--ctx", "128", "--chunks", "5")
    config, weights = load_bnb(out)
    quantized_type = SETTINGS[setting][1]
    assert report["stored_types"][quantized_type] == 7 * config["num_hidden_layers"]
    assert sum(report["stored_types"].values()) == len(weights)
    expected, count = ref_llama.perplexity(config, weights, tokens, 128, chunks=5, dtype=np.float64)
    assert report["chunks"] == 5 and report["scored_tokens"] == count
    assert abs(report["perplexity"] / expected - 1) < 1e-5
    # The quantization matters: the float model's perplexity is measurably different.
    float_config, float_weights = ref_llama.load_hf(FIXTURES / model)
    unquantized, _ = ref_llama.perplexity(float_config, float_weights, tokens, 128, chunks=5, dtype=np.float64)
    assert abs(expected / unquantized - 1) > 1e-4


def test_dump_activations_match_reference_on_nf4(tmp_path, fixture_tokens):
    out = tmp_path / "nf4"
    run_quail("quantize", FIXTURES / "tiny-llama", out, "--type", "nf4")
    tokens = fixture_tokens[:200]
    ids = tmp_path / "ids.json"
    ids.write_text(json.dumps(tokens))
    quail_json("eval", out, "--tokens-file", ids, "--dump-activations", tmp_path / "dump")
    hidden, final, logits = ref_llama.forward(*load_bnb(out), tokens)
    for i, expected in enumerate(hidden):
        assert np.abs(np.load(tmp_path / "dump" / f"hidden-{i:02d}.npy") - expected).max() <= 1e-4, i
    assert np.abs(np.load(tmp_path / "dump" / "final-norm.npy") - final).max() <= 1e-4
    assert np.abs(np.load(tmp_path / "dump" / "logits.npy") - logits).max() <= 1e-3


def test_eval_names_the_broken_statistic(tmp_path):
    out = tmp_path / "nf4"
    run_quail("quantize", FIXTURES / "tiny-llama", out, "--type", "nf4", "--no-double-quant")
    bad = tmp_path / "bad"
    shutil.copytree(out, bad)
    config = json.loads((bad / "config.json").read_text())
    config["quantization_config"]["bnb_4bit_use_double_quant"] = True  # contradicts the stored statistics
    (bad / "config.json").write_text(json.dumps(config))
    proc = run_quail("eval", bad, "--text", FIXTURES / "text" / "heldout.txt", check=False)
    assert proc.returncode != 0 and proc.stdout == ""
    assert str(bad / "config.json") in proc.stderr and "bnb_4bit_use_double_quant" in proc.stderr
