"""llama.cpp itself runs the GGUF files Quail writes, with and without a `--lora` adapter GGUF.

The runtime is the prebuilt llama.cpp CPU library of the pinned PyPI wheel xllamacpp (llama_cpp_runtime.py); it is
installed by scripts/setup.sh, so a missing package fails these tests instead of skipping them. Logits from llama.cpp
are compared with the NumPy reference forward pass (reference_llama.py, float64) and with Quail's own runtime
(`quail eval --dump-activations`). Measured max |difference| on F32 weights (tiny-llama-untied, 34 tokens): base
model 2.2e-6 vs reference and 3.8e-6 vs Quail; with the adapter (which moves logits by up to 10.5) 1.5e-5 vs reference
and 2.5e-5 vs Quail; SmolLM2-135M 6.5e-5 vs Quail (logits up to ~27). A 1% error in the LoRA scale would show as
>= 0.17, so the bounds below (~4x and ~15x the measured values) still catch it.
"""
import json
from importlib import metadata

import gguf
import numpy as np
import pytest

import llama_cpp_runtime as llama_cpp
import reference_llama as ref
from conftest import FIXTURES, REPO, quail_json, run_quail
from test_adapter import random_factors, write_gguf_adapter

TOKENS = list(range(3, 70, 2))
TINY_TOLERANCE = 1e-4
SMOLLM2_TOLERANCE = 1e-3
QUANTIZED_TOLERANCE = 0.25
# tiny-llama (BF16) and tiny-llama-f16 store their norms in the model dtype; `quail convert` writes 1-D tensors as F32
# like llama.cpp's converter, since llama.cpp's CPU `ggml_mul` has no f32 x bf16/f16 kernel ("binary_op: unsupported
# types").
MODELS = ["tiny-llama-untied", "tiny-llama", "tiny-llama-f16"]


def make_adapter(tmp_path, hf_dir):
    """The LoRA adapter GGUF under test (llama.cpp's `--lora` form). Only its path is used: the expected logits are
    computed from what read_adapter finds in the file, so any producer of the same format can replace this one."""
    config, weights = ref.load_hf(hf_dir)
    return write_gguf_adapter(tmp_path / "adapter.gguf", config, random_factors(config, weights, seed=11))


def read_adapter(path, config):
    """(alpha, {hf module name: (A (r, in), B (out, r))}) from a llama.cpp LoRA GGUF, B rows back in HF order."""
    reader = gguf.GGUFReader(path)
    assert reader.fields["general.type"].contents() == "adapter"
    assert reader.fields["adapter.type"].contents() == "lora"
    alpha = float(reader.fields["adapter.lora.alpha"].contents())
    tensors = {t.name: np.asarray(t.data, dtype=np.float32) for t in reader.tensors}
    factors = {}
    for name, a in tensors.items():
        if not name.endswith(".weight.lora_a"):
            continue
        base = name.removesuffix(".lora_a")
        b = tensors[base + ".lora_b"]
        _, layer, suffix = base.split(".", 2)
        if suffix == "attn_q.weight":
            b = ref.unpermute_qk(b, config["num_attention_heads"])
        elif suffix == "attn_k.weight":
            b = ref.unpermute_qk(b, config["num_key_value_heads"])
        module = f"model.layers.{layer}.{ref.GGUF_BLOCK_TO_HF[suffix].removesuffix('.weight')}"
        factors[module] = (a, b)
    assert len(factors) * 2 == len(tensors), "every lora_a has its lora_b"
    return alpha, factors


def merged(weights, alpha, factors, user_scale):
    """W + user_scale·(alpha/r)·B·A per module: llama.cpp's `llama_adapter_lora_weight::get_scale` and
    `build_lora_mm` (r from lora_b, alpha != 0)."""
    out = dict(weights)
    for module, (a, b) in factors.items():
        scale = user_scale * alpha / b.shape[1]
        out[f"{module}.weight"] = weights[f"{module}.weight"] + scale * (b.astype(np.float64) @ a)
    return out


def quail_logits(tmp_path, model, tokens, *adapter):
    ids = tmp_path / "ids.json"
    ids.write_text(json.dumps(tokens))
    out = tmp_path / ("dump-adapter" if adapter else "dump")
    quail_json("eval", model, "--tokens-file", ids, *adapter, "--dump-activations", out)
    return np.load(out / "logits.npy")


def f32_gguf(tmp_path, name):
    path = tmp_path / f"{name}.gguf"
    run_quail("convert", FIXTURES / name, path, "--dtype", "f32")
    return path


def test_the_pinned_llama_cpp_build_is_installed():
    # Fails (does not skip) when xllamacpp is missing: scripts/setup.sh installs it. The struct layouts in
    # llama_cpp_runtime.py are those of this build's llama.h.
    pinned = [line for line in (REPO / "requirements" / "reference.txt").read_text().splitlines()
              if line.startswith(llama_cpp.PACKAGE + "==")]
    assert pinned == [f"{llama_cpp.PACKAGE}=={metadata.version(llama_cpp.PACKAGE)}"]
    assert llama_cpp.library_path().is_file()
    assert llama_cpp.system_info().startswith("CPU :")


@pytest.mark.parametrize("name", MODELS)
def test_base_logits_match_reference_and_quail(name, tmp_path):
    model = f32_gguf(tmp_path, name)
    config, weights = ref.load(model)
    _, _, expected = ref.forward(config, weights, TOKENS)
    got = llama_cpp.logits(model, TOKENS)
    assert got.shape == (len(TOKENS), config["vocab_size"])
    assert np.abs(got - expected).max() <= TINY_TOLERANCE
    assert np.abs(got - quail_logits(tmp_path, model, TOKENS)).max() <= TINY_TOLERANCE


@pytest.mark.parametrize("name", ["tiny-llama", "tiny-llama-f16"])
def test_lossless_half_precision_gguf_runs(name, tmp_path):
    """`quail convert` without --dtype: BF16/F16 matrices and F32 norms, as llama.cpp's converter writes them.
    llama.cpp rounds activations to the weight type in its matmuls (the reference does not): measured max |logit|
    difference 0.060 (BF16) and 0.0096 (F16), logits up to ~9."""
    model = tmp_path / f"{name}.gguf"
    run_quail("convert", FIXTURES / name, model)
    assert {t.tensor_type.name for t in gguf.GGUFReader(model).tensors if len(t.shape) == 1} == {"F32"}
    config, weights = ref.load(model)
    _, _, expected = ref.forward(config, weights, TOKENS)
    got = llama_cpp.logits(model, TOKENS)
    assert np.abs(got - expected).max() <= QUANTIZED_TOLERANCE
    assert np.array_equal(got.argmax(axis=1), expected.argmax(axis=1))


@pytest.mark.parametrize("user_scale", [1.0, 0.5])
def test_lora_adapter_shifts_logits_by_the_merged_delta(user_scale, tmp_path):
    name = "tiny-llama-untied"
    model = f32_gguf(tmp_path, name)
    adapter = make_adapter(tmp_path, FIXTURES / name)
    config, weights = ref.load(model)
    alpha, factors = read_adapter(adapter, config)
    _, _, base = ref.forward(config, weights, TOKENS)
    _, _, expected = ref.forward(config, merged(weights, alpha, factors, user_scale), TOKENS)
    expected_delta = expected - base
    assert np.abs(expected_delta).max() > 0.5  # the adapter matters

    plain = llama_cpp.logits(model, TOKENS)
    adapted = llama_cpp.logits(model, TOKENS, lora_path=adapter, lora_scale=user_scale)
    assert np.abs(adapted - expected).max() <= TINY_TOLERANCE
    assert np.abs((adapted - plain) - expected_delta).max() <= 2 * TINY_TOLERANCE
    if user_scale == 1.0:  # `--lora` = Quail's `eval --adapter` on the same files
        ours = quail_logits(tmp_path, model, TOKENS, "--adapter", adapter)
        assert np.abs(adapted - ours).max() <= TINY_TOLERANCE


def test_llama_cpp_refuses_an_adapter_for_another_architecture(tmp_path):
    name = "tiny-llama-untied"
    model = f32_gguf(tmp_path, name)
    config, weights = ref.load_hf(FIXTURES / name)
    wrong = write_gguf_adapter(tmp_path / "qwen.gguf", config, random_factors(config, weights, seed=2),
                               architecture="qwen2")
    with pytest.raises(llama_cpp.LlamaCppError, match="arch"):
        llama_cpp.logits(model, TOKENS[:4], lora_path=wrong)


def test_smollm2_runs_in_llama_cpp_like_in_quail(smollm2_gguf, tmp_path):
    tokens = quail_json("tokenize", smollm2_gguf, "--string", "The capital of France is")["ids"]
    f32_model = tmp_path / "smollm2-f32.gguf"
    run_quail("convert", smollm2_gguf, f32_model, "--dtype", "f32")
    ours = quail_logits(tmp_path, f32_model, tokens)
    theirs = llama_cpp.logits(f32_model, tokens)
    assert np.isfinite(theirs).all()
    assert np.abs(theirs - ours).max() <= SMOLLM2_TOLERANCE
    # The Q4_1 original: llama.cpp's kernel quantizes activations to Q8_1 (Quail dequantizes the weights
    # instead), so logits differ by up to ~1 here; the greedy next tokens agree.
    quantized = llama_cpp.logits(smollm2_gguf, tokens)
    assert np.isfinite(quantized).all()
    assert np.array_equal(quantized.argmax(axis=1), ours.argmax(axis=1))


@pytest.fixture(scope="module")
def init_bundle(tmp_path_factory):
    """The inference variant `quail init` writes for the F32 fixture: a Q8_0 GGUF base and its LoRA GGUF."""
    root = tmp_path_factory.mktemp("init")
    stats = root / "stats.safetensors"
    run_quail("calibrate", FIXTURES / "tiny-llama-untied", "--calib", FIXTURES / "text" / "calibration.txt",
              "--samples", 8, "--seq-len", 64, "-o", stats)
    out = root / "bundle"
    run_quail("init", FIXTURES / "tiny-llama-untied", "--stats", stats, "--runtime", "gguf", "--quant", "q4_0",
              "--rank", 4, "--alpha", 8, "-o", out)
    return out / "gguf" / "base.gguf", out / "gguf" / "adapter.gguf"


@pytest.mark.parametrize("user_scale", [1.0, 0.5])
def test_llama_cpp_applies_the_init_adapter_exactly(init_bundle, user_scale, tmp_path):
    """The adapter `quail init` solved, on an F32 base (no activation rounding in llama.cpp): logits equal the
    NumPy reference of W + scale·(alpha/r)·B·A, so names, shapes, q/k permutation and alpha are what llama.cpp
    expects."""
    _, adapter = init_bundle
    model = f32_gguf(tmp_path, "tiny-llama-untied")
    config, weights = ref.load(model)
    alpha, factors = read_adapter(adapter, config)
    assert len(factors) == 14 and alpha == 8
    _, _, base = ref.forward(config, weights, TOKENS)
    _, _, expected = ref.forward(config, merged(weights, alpha, factors, user_scale), TOKENS)
    plain = llama_cpp.logits(model, TOKENS)
    adapted = llama_cpp.logits(model, TOKENS, lora_path=adapter, lora_scale=user_scale)
    assert np.abs(expected - base).max() > 0.1  # the adapter matters
    assert np.abs(adapted - expected).max() <= TINY_TOLERANCE
    assert np.abs((adapted - plain) - (expected - base)).max() <= 2 * TINY_TOLERANCE


def test_llama_cpp_runs_the_inference_variant(init_bundle):
    """The bundle as shipped: llama.cpp runs the Q4_0 base with `--lora`, the adapter shifts the logits by about
    the amount the reference predicts, and moves them towards the full-precision model's. llama.cpp's Q4_0 kernel
    rounds activations to 8 bits (the reference does not): measured base deviation 0.11 (max |logit| difference)
    and a shift within 13% (relative norm) of the reference's."""
    base, adapter = init_bundle
    config, quantized = ref.load(base)
    _, full = ref.load_hf(FIXTURES / "tiny-llama-untied")
    alpha, factors = read_adapter(adapter, config)
    _, _, expected_plain = ref.forward(config, quantized, TOKENS)
    _, _, expected = ref.forward(config, merged(quantized, alpha, factors, 1.0), TOKENS)
    _, _, target = ref.forward(config, full, TOKENS)
    plain = llama_cpp.logits(base, TOKENS)
    adapted = llama_cpp.logits(base, TOKENS, lora_path=adapter)
    assert np.isfinite(adapted).all()
    assert np.abs(plain - expected_plain).max() <= QUANTIZED_TOLERANCE
    assert np.abs(adapted - expected).max() <= QUANTIZED_TOLERANCE
    shift, predicted = adapted - plain, expected - expected_plain
    assert np.linalg.norm(shift - predicted) <= 0.25 * np.linalg.norm(predicted)
    assert np.linalg.norm(adapted - target) < np.linalg.norm(plain - target)
