"""`quail init` end to end on a fixture: the bundle's files load in the peers' readers (gguf-py, safetensors, the
PEFT/llama.cpp layout checks), the stored adapters reproduce the solved Q + s·B·A numerically (NumPy from the
files themselves), `quail eval --adapter` reproduces the perplexities in the report, the signature verifies with
Quail and model_signing, and bad input leaves nothing behind."""
import json
import subprocess
import sys

import gguf
import numpy as np
import pytest
from gguf.quants import dequantize
from safetensors.numpy import load_file

from adapter_checks import check_gguf_lora, check_peft_adapter
from conftest import FIXTURES, REPO, quail_json, run_quail
import reference_llama as ref

sys.path.insert(0, str(REPO / "fixtures" / "scripts"))
import bnb_reference as bnb  # noqa: E402

MODEL = FIXTURES / "tiny-llama-untied"
HELDOUT = FIXTURES / "text" / "heldout.txt"
TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
GROUP = {"q_proj": "attention_input", "k_proj": "attention_input", "v_proj": "attention_input",
         "o_proj": "attention_output", "gate_proj": "feed_forward_input", "up_proj": "feed_forward_input",
         "down_proj": "feed_forward_product"}
RANK, ALPHA = 4, 8.0
EVAL = ["--eval-text", HELDOUT, "--eval-ctx", "64", "--eval-chunks", "4"]


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    root = tmp_path_factory.mktemp("keys")
    run_quail("keygen", "--private", root / "private.pem", "--public", root / "public.pem")
    return root / "private.pem", root / "public.pem"


@pytest.fixture(scope="module")
def stats(tmp_path_factory):
    path = tmp_path_factory.mktemp("stats") / "stats.safetensors"
    run_quail("calibrate", MODEL, "--calib", FIXTURES / "text" / "calibration.txt", "--samples", 8, "--seq-len", 64,
              "-o", path)
    return path


@pytest.fixture(scope="module")
def bundle(tmp_path_factory, stats, keys):
    out = tmp_path_factory.mktemp("init") / "bundle"
    report = quail_json("init", MODEL, "--stats", stats, "--rank", RANK, "--alpha", ALPHA, "--gguf-quant", "q8_0",
                        *EVAL, "--key", keys[0], "-o", out)
    return out, report


def test_bundle_layout_and_report(bundle):
    out, report = bundle
    files = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert files == sorted([
        "quail.json", "model.sig", "gguf/base.gguf", "gguf/adapter.gguf", "gguf/init-errors.svg",
        "peft/init-errors.svg", "peft/adapter/adapter_config.json", "peft/adapter/adapter_model.safetensors",
        "peft/base/config.json", "peft/base/generation_config.json", "peft/base/model.safetensors",
        "peft/base/special_tokens_map.json", "peft/base/tokenizer.json", "peft/base/tokenizer_config.json"])
    assert json.loads((out / "quail.json").read_text()) == report
    assert report["format"] == "quail-bundle" and report["recipe"]["method"] == "quailora"
    assert report["recipe"]["scale"] == ALPHA / RANK
    assert report["calibration"]["model_digest"] == report["base_model"]["digest"]
    assert [v["runtime"] for v in report["variants"]] == ["peft", "gguf"]
    for v in report["variants"]:
        assert len(v["layers"]) == 2 * len(TARGETS)
        assert v["compatibility"]["adapted_layers"] == v["compatibility"]["requested_layers"] == 14
        assert v["compatibility"]["largest_probe_deviation"] <= 1e-5
        assert 0 <= v["mean_relative_calibrated_error"] < 1
        for layer in v["layers"]:
            assert layer["relative_calibrated_error"] <= 1 + 1e-9
        svg = (out / v["plot"]).read_text()
        assert svg.startswith("<svg") or svg.startswith("<?xml")
        assert svg.count("<polyline") == len(TARGETS)


def test_adapters_have_the_runtimes_layout(bundle):
    out, _ = bundle
    config = json.loads((out / "peft" / "base" / "config.json").read_text())
    check_peft_adapter(out / "peft" / "adapter", RANK, ALPHA, TARGETS, model_config=config)
    check_gguf_lora(out / "gguf" / "adapter.gguf", ALPHA, expect_rank=RANK, model_config=config)
    base = gguf.GGUFReader(out / "gguf" / "base.gguf")
    assert base.fields["general.architecture"].contents() == "llama"
    assert base.fields["general.file_type"].types == [gguf.GGUFValueType.UINT32]
    types = {t.name: t.tensor_type.name for t in base.tensors}
    assert types["blk.0.attn_q.weight"] == "Q8_0" and types["blk.0.attn_norm.weight"] == "F32"


def peft_base(out):
    """The dequantized NF4 linears of peft/base (NumPy bitsandbytes reference), HF names."""
    tensors = load_file(str(out / "peft" / "base" / "model.safetensors"))
    weights = {}
    for key in tensors:
        if not key.endswith(".weight.quant_state.bitsandbytes__nf4"):
            continue
        prefix = key.removesuffix(".quant_state.bitsandbytes__nf4")
        state = json.loads(bytes(tensors[key]).decode())
        absmax = bnb.dequantize_absmax(tensors[prefix + ".absmax"], tensors[prefix + ".nested_absmax"],
                                       np.float32(state["nested_offset"]))
        n = int(np.prod(state["shape"]))
        values = bnb.dequantize_4bit(tensors[prefix].reshape(-1), absmax, state["blocksize"], "nf4", n)
        weights[prefix] = values.reshape(state["shape"])
    return weights


def adapter_products(out, runtime, config):
    if runtime == "peft":
        pairs = check_peft_adapter(out / "peft" / "adapter", RANK, ALPHA, TARGETS, model_config=config)
    else:
        pairs = check_gguf_lora(out / "gguf" / "adapter.gguf", ALPHA, expect_rank=RANK, model_config=config)
    return {module: (ALPHA / RANK) * (b.astype(np.float64) @ a.astype(np.float64)) for module, (a, b) in pairs.items()}


@pytest.mark.parametrize("runtime", ["peft", "gguf"])
def test_stored_adapter_reproduces_the_reported_errors(bundle, stats, runtime):
    """W − Q − s·B·A from the files (W: the model, Q: the written base dequantized by the peers' references,
    B·A: the written adapter) gives the relative errors of the report, so the stored adapter is the solved one."""
    out, report = bundle
    config, w = ref.load_hf(MODEL)
    if runtime == "peft":
        q = peft_base(out)
    else:
        _, q = ref.load_gguf(out / "gguf" / "base.gguf")
    grams = load_file(str(stats))
    products = adapter_products(out, runtime, config)
    variant = next(v for v in report["variants"] if v["runtime"] == runtime)
    for layer in variant["layers"]:
        name = layer["module"] + ".weight"
        e0 = w[name].astype(np.float64) - q[name]
        r = e0 - products[layer["module"]]
        h = grams[f"model.layers.{layer['layer']}.{GROUP[layer['module'].split('.')[-1]]}.gram"]
        cal = np.trace(r @ h @ r.T) / np.trace(e0 @ h @ e0.T)
        weight = np.sum(r * r) / np.sum(e0 * e0)
        assert abs(cal - layer["relative_calibrated_error"]) <= 1e-4, name
        assert abs(weight - layer["relative_weight_error"]) <= 1e-4, name


@pytest.mark.parametrize("runtime", ["peft", "gguf"])
def test_eval_with_adapter_gives_the_reported_perplexities(bundle, runtime):
    out, report = bundle
    variant = next(v for v in report["variants"] if v["runtime"] == runtime)
    base = out / variant["base"]
    args = ["--text", HELDOUT, "--ctx", "64", "--chunks", "4"]
    plain = quail_json("eval", base, *args)["perplexity"]
    adapted = quail_json("eval", base, *args, "--adapter", out / variant["adapter"])["perplexity"]
    assert plain == pytest.approx(variant["perplexity"]["base"], rel=1e-9)
    assert adapted == pytest.approx(variant["perplexity"]["adapted"], rel=1e-9)
    full = quail_json("eval", MODEL, *args)["perplexity"]
    assert full == pytest.approx(report["evaluation"]["full_precision_perplexity"], rel=1e-9)
    assert adapted != plain


def test_signature_verifies_with_quail_and_model_signing(bundle, keys):
    out, _ = bundle
    verified = quail_json("verify", out, "--key", keys[1])
    assert verified["ok"] is True
    proc = subprocess.run([sys.executable, "-m", "model_signing", "verify", "key", str(out), "--signature",
                           str(out / "model.sig"), "--public_key", str(keys[1])], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_methods_order_on_calibrated_error(tmp_path, stats):
    means = {}
    for method in ["zero", "svd", "quailora", "exact"]:
        report = quail_json("init", MODEL, "--stats", stats, "--rank", RANK, "--runtime", "gguf", "--quant", "q8_0",
                            "--method", method, "-o", tmp_path / method)
        means[method] = report["variants"][0]["mean_relative_calibrated_error"]
    assert means["zero"] == 1.0
    assert means["exact"] <= means["quailora"] + 1e-6 < means["svd"] < means["zero"]


@pytest.mark.parametrize("args, message", [
    (["--rank", "1000"], "larger than min(out, in)"),
    (["--alpha", "0"], "--alpha"),
    (["--alpha", "nan"], "--alpha"),
    (["--targets", "q,foo,bar"], "foo, bar"),
    (["--rank", "2", "--quant", "int8"], "nf4 or fp4"),
    (["--rank", "2", "--loftq-iterations", "2", "--method", "loftq"], "1 iteration"),
])
def test_bad_input_leaves_nothing(tmp_path, stats, args, message):
    out = tmp_path / "bundle"
    proc = run_quail("init", MODEL, "--stats", stats, *args, "-o", out, check=False)
    assert proc.returncode != 0 and message in proc.stderr, proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_failure_after_quantizing_leaves_nothing(tmp_path, stats):
    out = tmp_path / "bundle"
    proc = run_quail("init", MODEL, "--stats", stats, "--rank", 2, "--key", tmp_path / "missing.pem", "-o", out,
                     check=False)
    assert proc.returncode != 0 and "missing.pem" in proc.stderr
    assert list(tmp_path.iterdir()) == []
