# SPDX-License-Identifier: Apache-2.0
"""`quail quantize` against llama.cpp's own quantizer on the real SmolLM2-135M (dequantized to F32).

Bytes: every tensor Quail block-quantizes must equal `ggml_quantize_chunk` of llama.cpp build b11549 (PyPI
`xllamacpp`, see llama_cpp_quantize.py) at the same type, chunked as llama-quantize chunks it.

Types: `quail quantize --type X` is llama-quantize's recipe without its per-layer mixtures
(formats/quantization.md). For each file type below, the tensors where llama-quantize's default recipe
(`llama_tensor_get_type` in llama.cpp `src/llama-quant.cpp`) picks another type than Quail are listed exactly
(`MIXTURES`); then `--type-for` reproduces the mixture and the whole file must carry llama-quantize's types. The
lists were checked once against `llama_model_quantize` itself (llama-cpp-python 0.3.36, not a pinned peer), which
wrote the same types and the same bytes for every tensor."""
import json
import re

import gguf
import numpy as np
import pytest

from conftest import run_quail
from gguf_rewrite import rewrite_with_gguf_py
from llama_cpp_quantize import quantize as llama_quantize

T = gguf.GGMLQuantizationType
N_LAYER = 30  # SmolLM2-135M; 9 query heads, 3 KV heads (n_gqa 3: the `n_gqa() >= 4` rules do not apply)


def use_more_bits(i_layer, n_layer=N_LAYER):
    """llama.cpp `llama_tensor_get_type_impl`'s use_more_bits: the first and last eighth, and every third layer."""
    return i_layer < n_layer // 8 or i_layer >= 7 * n_layer // 8 or (i_layer - n_layer // 8) % 3 == 2


MORE_BITS = [i for i in range(N_LAYER) if use_more_bits(i)]


def layers(role, indices, ggml_type):
    return {f"blk.{i}.{role}.weight": ggml_type for i in indices}


# llama-quantize file type -> (quail --type, {tensor: type where llama-quantize differs from Quail}).
# SmolLM2's hidden size is 576, not a multiple of 256: a k-quant there falls back (Q5_K -> Q5_1, Q6_K -> Q8_0),
# for llama.cpp and Quail alike (`tensor_type_fallback`); ffn_down (rows of 1536) keeps its k-quant.
MIXTURES = {
    "Q8_0": ("q8_0", {}),
    "Q4_0": ("q4_0", {}),
    "Q6_K": ("q6_k", {}),
    "Q5_K_S": ("q5_k", {}),
    # attn_v and ffn_down of the use_more_bits layers get Q6_K.
    "Q4_K_M": ("q4_k", {**layers("attn_v", MORE_BITS, T.Q8_0), **layers("ffn_down", MORE_BITS, T.Q6_K)}),
    # attn_v of the first 4 layers and ffn_down of the first n_layer/8 get Q5_K.
    "Q4_K_S": ("q4_k", {**layers("attn_v", range(4), T.Q5_1), **layers("ffn_down", range(N_LAYER // 8), T.Q5_K)}),
    # without an importance matrix, ffn_down of the first n_layer/8 layers gets Q5_K.
    "IQ4_NL": ("iq4_nl", layers("ffn_down", range(N_LAYER // 8), T.Q5_K)),
}
# IQ4_NL quantizes slowly (llama.cpp and Quail alike: a 15-scale search per block), so its byte comparison covers
# the layers on both sides of its ffn_down boundary (2 and 3) and gives the other layers Q8_0 (compared as well).
IQ4_NL_LAYERS = (2, 3)


@pytest.fixture(scope="module")
def smollm2_f32(smollm2_gguf, tmp_path_factory):
    """SmolLM2 converted to F32 by quail, rewritten by gguf-py without the tokenizer.ggml.* keys: quantization does
    not read them, and gguf-py's reader spends seconds on the 49 152-entry token arrays each time it opens a file."""
    directory = tmp_path_factory.mktemp("smol")
    full = directory / "smol-f32-full.gguf"
    run_quail("convert", smollm2_gguf, full, "--dtype", "f32")
    reader = gguf.GGUFReader(full)
    rewrite_with_gguf_py(reader, directory / "smol-f32.gguf", drop_prefixes=("tokenizer.",))
    full.unlink()
    return directory / "smol-f32.gguf"


def planned_types(source, out, *args):
    report = json.loads(run_quail("quantize", source, out, *args, "--dry-run", "--json").stdout)
    return {t["name"]: T[t["type"].upper()] for t in report["tensors"]}


@pytest.mark.parametrize("ftype", list(MIXTURES))
def test_types_differ_from_llama_quantize_only_by_its_mixture(smollm2_f32, tmp_path, ftype):
    qtype, mixture = MIXTURES[ftype]
    quail = planned_types(smollm2_f32, tmp_path / "out.gguf", "--type", qtype)
    assert len(quail) == 272
    differing = {name: ggml_type for name, ggml_type in mixture.items() if quail[name] != ggml_type}
    assert differing == mixture  # every mixture entry is a real difference, none is Quail's choice already


def override_arguments(mixture):
    """--type-for patterns that give the tensors of `mixture` their types (one anchored pattern per tensor)."""
    return [arg for name, ggml_type in mixture.items()
            for arg in ("--type-for", f"^{re.escape(name)}$={ggml_type.name.lower()}")]


@pytest.mark.parametrize("ftype", list(MIXTURES))
def test_reproduced_mixture_is_byte_identical_to_llama_cpp(smollm2_f32, tmp_path, ftype):
    """ACCEPTANCE: with llama-quantize's mixture given by --type-for, every tensor has llama-quantize's type and
    every block-quantized tensor equals llama.cpp's `ggml_quantize_chunk` bytes."""
    qtype, mixture = MIXTURES[ftype]
    expected = {**planned_types(smollm2_f32, tmp_path / "plain.gguf", "--type", qtype), **mixture}
    args = ["--type", qtype, *override_arguments(mixture)]
    if ftype == "IQ4_NL":
        others = [str(i) for i in range(N_LAYER) if i not in IQ4_NL_LAYERS]
        args += ["--type-for", f"^blk\\.({'|'.join(others)})\\.=q8_0"]
        expected.update({name: T.Q8_0 for name, t in expected.items()
                         if t == T.IQ4_NL and int(name.split(".")[1]) not in IQ4_NL_LAYERS})
    out = tmp_path / f"smol-{ftype}.gguf"
    run_quail("quantize", smollm2_f32, out, *args)

    source = {t.name: t for t in gguf.GGUFReader(smollm2_f32).tensors}
    written = {t.name: t for t in gguf.GGUFReader(out).tensors}
    assert list(written) == list(source)
    assert {name: t.tensor_type for name, t in written.items()} == expected
    quantized = {name: t for name, t in expected.items() if t != T.F32}
    assert len(quantized) == 211  # 30 layers x 7 Linear weights + token_embd (tied output: Q8_0)
    for name in set(written) - set(quantized):
        assert np.asarray(written[name].data).tobytes() == np.asarray(source[name].data).tobytes(), name

    reference, _ = llama_quantize(smollm2_f32, {name: int(t) for name, t in quantized.items()}, nthread=2)
    differing = [name for name in quantized if np.asarray(written[name].data).tobytes() != reference[name]]
    assert differing == [], f"{len(differing)} of {len(quantized)} tensors differ from llama.cpp, first {differing[:3]}"
