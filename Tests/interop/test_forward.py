"""The model runtime against a NumPy reference forward pass (reference_llama.py, written from transformers'
LlamaForCausalLM): hidden states and logits of the fixture models in HF and GGUF form, llama.cpp's perplexity
rule, bad input, and SmolLM2-135M perplexity on the held-out text."""
import json
import shutil

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file
from tokenizers import Tokenizer

import reference_llama as ref
from conftest import FIXTURES, quail_json, run_quail

MODELS = ["tiny-llama", "tiny-llama-untied", "tiny-llama-f16"]
HELDOUT = FIXTURES / "text" / "heldout.txt"


@pytest.fixture(scope="module")
def fixture_tokens():
    tokenizer = Tokenizer.from_file(str(FIXTURES / "tiny-llama" / "tokenizer.json"))
    return tokenizer.encode(HELDOUT.read_text()).ids


def write_tokens(path, tokens):
    path.write_text(json.dumps([int(t) for t in tokens]))
    return path


@pytest.fixture(scope="module", params=MODELS)
def model_forms(request, tmp_path_factory):
    """(name, HF directory, GGUF converted by quail) for each fixture."""
    name = request.param
    gguf_path = tmp_path_factory.mktemp(name) / f"{name}.gguf"
    run_quail("convert", FIXTURES / name, gguf_path)
    return name, FIXTURES / name, gguf_path


@pytest.mark.parametrize("form", ["hf", "gguf"])
def test_hidden_states_and_logits_match_reference(model_forms, form, fixture_tokens, tmp_path):
    name, hf_dir, gguf_path = model_forms
    tokens = fixture_tokens[:200]  # more than one 128-row attention block
    model = hf_dir if form == "hf" else gguf_path
    report = quail_json("eval", model, "--tokens-file", write_tokens(tmp_path / "ids.json", tokens),
                        "--dump-activations", tmp_path / "dump")
    config, weights = ref.load_hf(hf_dir)
    hidden, final, logits = ref.forward(config, weights, tokens)
    assert report["files"] == [f"hidden-{i:02d}.npy" for i in range(len(hidden))] + ["final-norm.npy", "logits.npy"]
    for i, expected in enumerate(hidden):
        got = np.load(tmp_path / "dump" / f"hidden-{i:02d}.npy")
        assert got.shape == expected.shape
        assert np.abs(got - expected).max() <= 1e-4, (name, form, i)
    assert np.abs(np.load(tmp_path / "dump" / "final-norm.npy") - final).max() <= 1e-4
    got_logits = np.load(tmp_path / "dump" / "logits.npy")
    assert got_logits.shape == (len(tokens), config["vocab_size"])
    assert np.abs(got_logits - logits).max() <= 1e-3


def test_reference_reads_gguf_like_hf(model_forms, fixture_tokens):
    """The reference's own GGUF path (gguf-py + unpermute) agrees with its HF path: it is fit to check SmolLM2."""
    _, hf_dir, gguf_path = model_forms
    tokens = fixture_tokens[:64]
    _, _, from_hf = ref.forward(*ref.load_hf(hf_dir), tokens)
    _, _, from_gguf = ref.forward(*ref.load_gguf(gguf_path), tokens)
    assert np.abs(from_hf - from_gguf).max() <= 1e-9


@pytest.mark.parametrize("add_bos", [False, True])
def test_perplexity_follows_llama_cpp_rule(tmp_path, fixture_tokens, add_bos):
    model = tmp_path / "model"
    shutil.copytree(FIXTURES / "tiny-llama-f16", model)
    if add_bos:  # the BOS policy comes from tokenizer_config.json
        config = json.loads((model / "tokenizer_config.json").read_text())
        config["add_bos_token"] = True
        (model / "tokenizer_config.json").write_text(json.dumps(config))
    tokens = fixture_tokens[:1000]
    report = quail_json("eval", model, "--tokens-file", write_tokens(tmp_path / "ids.json", tokens), "--ctx", "128",
                        "--chunks", "5")
    config, weights = ref.load_hf(model)
    expected, count = ref.perplexity(config, weights, tokens, 128, chunks=5, add_bos=add_bos, bos_id=1,
                                     dtype=np.float64)
    assert report["adds_bos"] is add_bos
    assert report["chunks"] == 5 and report["scored_tokens"] == count == 5 * 63
    assert report["tokens"] == 1000 and report["context"] == 128
    assert abs(report["perplexity"] / expected - 1) < 1e-5
    assert len(report["running_perplexity"]) == 5 and report["running_perplexity"][-1] == report["perplexity"]
    assert report["perplexity_stderr"] > 0


def test_all_chunks_and_streamed_weights_agree(tmp_path, fixture_tokens):
    ids = write_tokens(tmp_path / "ids.json", fixture_tokens)
    resident = quail_json("eval", FIXTURES / "tiny-llama", "--tokens-file", ids, "--ctx", "256")
    streamed = quail_json("eval", FIXTURES / "tiny-llama", "--tokens-file", ids, "--ctx", "256",
                          "--residency", "streamed", "--threads", "1")
    assert resident["chunks"] == len(fixture_tokens) // 256  # the tail is dropped
    assert streamed["residency"] == "streamed" and streamed["threads"] == 1
    assert abs(resident["perplexity"] / streamed["perplexity"] - 1) < 1e-6


# MARK: - bad input


def fails(*args):
    proc = run_quail(*args, check=False)
    assert proc.returncode != 0, proc.stdout
    return proc.stderr


def test_missing_config_key_is_named(tmp_path):
    model = tmp_path / "model"
    shutil.copytree(FIXTURES / "tiny-llama", model)
    config = json.loads((model / "config.json").read_text())
    del config["hidden_size"]
    (model / "config.json").write_text(json.dumps(config))
    err = fails("eval", model, "--tokens-file", write_tokens(tmp_path / "ids.json", range(600)))
    assert "hidden_size" in err and "config.json" in err


def test_shape_mismatch_and_missing_tensor_are_named(tmp_path):
    model = tmp_path / "model"
    shutil.copytree(FIXTURES / "tiny-llama-untied", model)
    ids = write_tokens(tmp_path / "ids.json", range(600))
    config = json.loads((model / "config.json").read_text())
    (model / "config.json").write_text(json.dumps({**config, "num_key_value_heads": 2}))
    err = fails("eval", model, "--tokens-file", ids)
    assert "k_proj" in err and "shape" in err
    (model / "config.json").write_text(json.dumps(config))
    tensors = {}
    for shard in sorted(model.glob("model-*.safetensors")):
        tensors.update(load_file(shard))
        shard.unlink()
    (model / "model.safetensors.index.json").unlink()
    del tensors["model.layers.1.mlp.up_proj.weight"]
    save_file(tensors, model / "model.safetensors", metadata={"format": "pt"})
    err = fails("eval", model, "--tokens-file", ids)
    assert "model.layers.1.mlp.up_proj.weight" in err and "missing" in err


def test_bad_texts_and_tokens_fail_before_work(tmp_path):
    model = FIXTURES / "tiny-llama"
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    assert "empty" in fails("eval", model, "--text", empty)
    assert "fewer than one context of 512" in fails("eval", model, "--tokens-file",
                                                       write_tokens(tmp_path / "short.json", range(100)))
    assert "outside the vocabulary of 512" in fails("eval", model, "--tokens-file",
                                                    write_tokens(tmp_path / "big.json", [5] * 600 + [512]))
    (tmp_path / "bad.json").write_text('{"ids": [1, 2]}')
    assert "not a JSON array" in fails("eval", model, "--tokens-file", tmp_path / "bad.json")
    assert "exactly one of" in fails("eval", model)
    assert "--ctx" in fails("eval", model, "--tokens-file", tmp_path / "big.json", "--ctx", "2")
    assert "not an HF checkpoint directory or a GGUF file" in fails(
        "eval", FIXTURES / "tiny-llama" / "model.safetensors", "--tokens-file", tmp_path / "big.json")


# MARK: - real model


@pytest.fixture(scope="module")
def smollm2_tokens(smollm2_gguf, tmp_path_factory):
    """Held-out text tokenized by the PyPI tokenizers package on the tokenizer.json quail convert writes."""
    directory = tmp_path_factory.mktemp("smol") / "hf"
    run_quail("convert", smollm2_gguf, directory, "--dtype", "f32")
    tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
    return tokenizer.encode(HELDOUT.read_text()).ids, directory


def test_smollm2_perplexity_matches_reference(smollm2_gguf, smollm2_tokens, tmp_path):
    tokens, hf_dir = smollm2_tokens
    ids = write_tokens(tmp_path / "ids.json", tokens)
    # Quail tokenizes the text itself (from the GGUF's vocabulary) into the same ids as the PyPI tokenizers.
    report = quail_json("eval", smollm2_gguf, "--text", HELDOUT, "--chunks", "2")
    assert report["context"] == 512 and report["chunks"] == 2 and report["tokens"] == len(tokens)
    assert report["adds_bos"] is False  # SmolLM2's GGUF says tokenizer.ggml.add_bos_token = false
    config, weights = ref.load_gguf(smollm2_gguf)
    expected, count = ref.perplexity(config, weights, tokens, 512, chunks=2)
    assert report["scored_tokens"] == count
    assert abs(report["perplexity"] / expected - 1) < 1e-3, (report["perplexity"], expected)
    # The same weights as an F32 HF directory (GQA 9/3, tied) give the same first-chunk perplexity.
    hf = quail_json("eval", hf_dir, "--tokens-file", ids, "--chunks", "1")
    assert abs(hf["perplexity"] / report["running_perplexity"][0] - 1) < 1e-5
