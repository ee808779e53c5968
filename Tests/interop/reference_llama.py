"""A NumPy reference forward pass for llama-family checkpoints, written from transformers' LlamaForCausalLM
(and Qwen2ForCausalLM, which adds biases to the q, k and v projections).

It shares no code with Quail: weights are read with the PyPI `safetensors`-format parser in reference.py (HF
directories) or with gguf-py's reader and dequantizer (GGUF), and the math follows transformers'
modeling_llama.py: `LlamaRMSNorm`, `LlamaRotaryEmbedding` (rope types default, linear, dynamic and llama3 as
modeling_rope_utils.py computes them; GGUF `rope_freqs.weight` divides the frequencies as llama.cpp does) with
`rotate_half`,
`LlamaAttention` (`repeat_kv` for grouped-query heads, scaled dot product with a causal mask, softmax),
`LlamaMLP` (`down(silu(gate(x)) * up(x))`), the final norm and the (tied or separate) `lm_head`.

GGUF q/k weights of the `llama` architecture are stored with llama.cpp's conversion permutation (rows of each
head interleaved for the "NORM" RoPE kernel); `unpermute_qk` restores HF order so the rotate-half formula applies,
exactly as transformers' GGUF loader does (`reverse_permute_weights` in integrations/ggml.py). `qwen2` GGUF files
keep HF order (llama.cpp runs them with the "NEOX" rotate-half kernel).

Usage as a script: python reference_llama.py MODEL TOKENS.json OUT_DIR  (writes the same .npy files as
`quail eval --dump-activations`).
"""
import json
import sys
from pathlib import Path

import numpy as np

from reference import as_array, read_checkpoint_raw


def unpermute_qk(weights: np.ndarray, heads: int) -> np.ndarray:
    """Inverse of llama.cpp's `LlamaModel.permute`: per head, rows (hd/2, 2) -> (2, hd/2)."""
    rows = weights.shape[0]
    return weights.reshape(heads, rows // heads // 2, 2, *weights.shape[1:]).swapaxes(1, 2).reshape(weights.shape)


def load_hf(directory):
    """(config, {hf_name: float32 array}) from an HF checkpoint directory."""
    directory = Path(directory)
    config = json.loads((directory / "config.json").read_text())
    weights = {}
    for name, (dtype, shape, raw) in read_checkpoint_raw(directory).items():
        array = as_array(dtype, shape, raw)
        if dtype == "BF16":
            array = (array.astype(np.uint32) << 16).view(np.float32)
        weights[name] = array.astype(np.float32)
    return normalize_config(config), weights


GGUF_TO_HF = {
    "token_embd.weight": "model.embed_tokens.weight", "output_norm.weight": "model.norm.weight",
    "output.weight": "lm_head.weight",
}
GGUF_BLOCK_TO_HF = {
    "attn_norm.weight": "input_layernorm.weight", "attn_q.weight": "self_attn.q_proj.weight",
    "attn_k.weight": "self_attn.k_proj.weight", "attn_v.weight": "self_attn.v_proj.weight",
    "attn_output.weight": "self_attn.o_proj.weight", "ffn_norm.weight": "post_attention_layernorm.weight",
    "ffn_gate.weight": "mlp.gate_proj.weight", "ffn_up.weight": "mlp.up_proj.weight",
    "ffn_down.weight": "mlp.down_proj.weight", "attn_q.bias": "self_attn.q_proj.bias",
    "attn_k.bias": "self_attn.k_proj.bias", "attn_v.bias": "self_attn.v_proj.bias",
}


def load_gguf(path):
    """(config, {hf_name: float32 array}) from a llama or qwen2 GGUF file, dequantized by gguf-py, q/k rows in HF
    order."""
    import gguf
    from gguf.quants import dequantize

    reader = gguf.GGUFReader(path)

    def field(key, default=None):
        f = reader.fields.get(key)
        return default if f is None else f.contents()

    arch = field("general.architecture")
    assert arch in ("llama", "qwen2"), arch
    heads = field(f"{arch}.attention.head_count")
    config = normalize_config({
        "model_type": arch,
        "hidden_size": field(f"{arch}.embedding_length"), "intermediate_size": field(f"{arch}.feed_forward_length"),
        "num_hidden_layers": field(f"{arch}.block_count"), "num_attention_heads": heads,
        "num_key_value_heads": field(f"{arch}.attention.head_count_kv", heads),
        "head_dim": field(f"{arch}.attention.key_length"),
        "rms_norm_eps": field(f"{arch}.attention.layer_norm_rms_epsilon"),
        "rope_theta": field(f"{arch}.rope.freq_base", 10000.0),
        "vocab_size": field(f"{arch}.vocab_size") or len(field("tokenizer.ggml.tokens")),
        "tie_word_embeddings": all(t.name != "output.weight" for t in reader.tensors),
    })
    if field(f"{arch}.rope.scaling.type", "none") == "linear" and field(f"{arch}.rope.scaling.factor"):
        config["rope_scaling"] = {"rope_type": "linear", "factor": float(field(f"{arch}.rope.scaling.factor"))}
    weights = {}
    for tensor in reader.tensors:
        if tensor.name == "rope_freqs.weight":
            config["rope_freqs"] = np.asarray(tensor.data, dtype=np.float64)
            continue
        shape = [int(d) for d in tensor.shape[::-1]]
        array = dequantize(tensor.data, tensor.tensor_type).reshape(shape).astype(np.float32)
        if tensor.name in GGUF_TO_HF:
            name = GGUF_TO_HF[tensor.name]
        else:
            _, block, suffix = tensor.name.split(".", 2)
            name = f"model.layers.{block}.{GGUF_BLOCK_TO_HF[suffix]}"
        if arch != "llama":
            pass
        elif name.endswith("q_proj.weight"):
            array = unpermute_qk(array, config["num_attention_heads"])
        elif name.endswith("k_proj.weight"):
            array = unpermute_qk(array, config["num_key_value_heads"])
        weights[name] = array
    return config, weights


def load(path):
    path = Path(path)
    return load_hf(path) if path.is_dir() else load_gguf(path)


def normalize_config(config):
    config = dict(config)
    config.setdefault("num_key_value_heads", config["num_attention_heads"])
    if not config.get("head_dim"):
        config["head_dim"] = config["hidden_size"] // config["num_attention_heads"]
    config.setdefault("rope_theta", 10000.0)
    config["tie_word_embeddings"] = bool(config.get("tie_word_embeddings", False))
    return config


def rms_norm(x, weight, eps):
    variance = np.mean(x * x, axis=-1, keepdims=True)
    return weight * (x / np.sqrt(variance + eps))


def inverse_frequencies(config, seq_len):
    """transformers' `inv_freq` for the config's rope type (`_compute_default_rope_parameters`,
    `_compute_linear_scaling_rope_parameters`, `_compute_dynamic_ntk_parameters` for a fresh model on `seq_len`
    positions, `_compute_llama3_parameters`), divided by GGUF `rope_freqs` when the file has it."""
    hd, base = config["head_dim"], config["rope_theta"]
    scaling = config.get("rope_scaling") or {}
    kind = scaling.get("rope_type", scaling.get("type", "default"))
    assert kind in ("default", "linear", "dynamic", "llama3"), kind
    if kind == "dynamic" and seq_len > config["max_position_embeddings"]:
        factor, max_positions = scaling["factor"], config["max_position_embeddings"]
        base = base * ((factor * seq_len / max_positions) - (factor - 1)) ** (hd / (hd - 2))
    inv_freq = 1.0 / base ** (np.arange(0, hd, 2, dtype=np.float64) / hd)
    if kind == "linear":
        inv_freq = inv_freq / scaling["factor"]
    elif kind == "llama3":
        factor, low, high = scaling["factor"], scaling["low_freq_factor"], scaling["high_freq_factor"]
        old_context = scaling["original_max_position_embeddings"]
        low_wavelen, high_wavelen = old_context / low, old_context / high
        wavelen = 2 * np.pi / inv_freq
        inv_freq_llama = np.where(wavelen > low_wavelen, inv_freq / factor, inv_freq)
        smooth = (old_context / wavelen - low) / (high - low)
        smoothed = (1 - smooth) * inv_freq_llama / factor + smooth * inv_freq_llama
        medium = ~(wavelen < high_wavelen) & ~(wavelen > low_wavelen)
        inv_freq = np.where(medium, smoothed, inv_freq_llama)
    if "rope_freqs" in config:
        inv_freq = inv_freq / config["rope_freqs"]
    return inv_freq


def rotary(positions, inv_freq, dtype):
    """cos, sin of shape (T, hd): transformers' `emb = cat(freqs, freqs)`."""
    freqs = np.outer(positions.astype(np.float64), inv_freq)
    emb = np.concatenate([freqs, freqs], axis=-1)
    return np.cos(emb).astype(dtype), np.sin(emb).astype(dtype)


def rotate_half(x):
    half = x.shape[-1] // 2
    return np.concatenate([-x[..., half:], x[..., :half]], axis=-1)


def softmax(x):
    x = x - x.max(axis=-1, keepdims=True)
    e = np.exp(x)
    return e / e.sum(axis=-1, keepdims=True)


def forward(config, weights, tokens, dtype=np.float64, logit_rows=None, observe=None):
    """Returns (hidden_states, final_norm, logits): hidden_states[0] is the embedding output and
    hidden_states[i] the output of block i-1, each (T, C); logits are (rows, V) for `logit_rows` (all by default).
    `observe(layer, group, x)` receives the input matrix (T, in) of each group of linear layers: "attention_input"
    (q/k/v), "attention_output" (o), "feed_forward_input" (gate/up), "feed_forward_product" (down)."""
    observe = observe or (lambda layer, group, x: None)
    w = {k: v.astype(dtype) for k, v in weights.items()} if dtype != np.float32 else weights
    c = config
    hd, heads, kv = c["head_dim"], c["num_attention_heads"], c["num_key_value_heads"]
    eps = c["rms_norm_eps"]
    tokens = np.asarray(tokens)
    T = len(tokens)
    x = w["model.embed_tokens.weight"][tokens].astype(dtype)
    hidden = [x.copy()]
    cos, sin = rotary(np.arange(T), inverse_frequencies(c, T), dtype)
    mask = np.triu(np.full((T, T), -np.inf, dtype=dtype), k=1)
    for layer in range(c["num_hidden_layers"]):
        p = f"model.layers.{layer}."
        h = rms_norm(x, w[p + "input_layernorm.weight"], eps)
        observe(layer, "attention_input", h)
        q, k, v = (h @ w[f"{p}self_attn.{n}_proj.weight"].T + w.get(f"{p}self_attn.{n}_proj.bias", 0) for n in "qkv")
        q = q.reshape(T, heads, hd).transpose(1, 0, 2)
        k = k.reshape(T, kv, hd).transpose(1, 0, 2)
        v = v.reshape(T, kv, hd).transpose(1, 0, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k = np.repeat(k, heads // kv, axis=0)  # repeat_kv
        v = np.repeat(v, heads // kv, axis=0)
        # one 2-D product per head (numpy's stacked matmul does not reach BLAS speed)
        attn = np.concatenate([softmax(q[i] @ k[i].T / np.sqrt(hd) + mask) @ v[i] for i in range(heads)], axis=-1)
        observe(layer, "attention_output", attn)
        x = x + attn @ w[p + "self_attn.o_proj.weight"].T
        h = rms_norm(x, w[p + "post_attention_layernorm.weight"], eps)
        observe(layer, "feed_forward_input", h)
        gate = h @ w[p + "mlp.gate_proj.weight"].T
        up = h @ w[p + "mlp.up_proj.weight"].T
        product = gate / (1 + np.exp(-gate)) * up
        observe(layer, "feed_forward_product", product)
        x = x + product @ w[p + "mlp.down_proj.weight"].T
        hidden.append(x.copy())
    final = rms_norm(x, w["model.norm.weight"], eps)
    head = w["model.embed_tokens.weight" if c["tie_word_embeddings"] else "lm_head.weight"]
    rows = final if logit_rows is None else final[logit_rows]
    return hidden, final, rows @ head.T


def perplexity(config, weights, tokens, ctx, chunks=None, add_bos=False, bos_id=None, dtype=np.float32):
    """llama.cpp's llama-perplexity rule: independent ctx-token chunks (tail dropped), first token replaced by
    BOS when the model adds it, scoring positions ctx/2 .. ctx-2 predicting the next token. Returns (ppl, count)."""
    n_chunks = len(tokens) // ctx if chunks is None else min(chunks, len(tokens) // ctx)
    first = ctx // 2
    nll, count = 0.0, 0
    for i in range(n_chunks):
        chunk = list(tokens[i * ctx:(i + 1) * ctx])
        if add_bos:
            chunk[0] = bos_id
        _, _, logits = forward(config, weights, chunk, dtype=dtype, logit_rows=slice(first, ctx - 1))
        logits = logits.astype(np.float64)
        targets = np.asarray(tokens[i * ctx + first + 1:(i + 1) * ctx])
        m = logits.max(axis=-1, keepdims=True)
        log_probs = logits - m - np.log(np.exp(logits - m).sum(axis=-1, keepdims=True))
        nll -= log_probs[np.arange(len(targets)), targets].sum()
        count += len(targets)
    return float(np.exp(nll / count)), count


def main(argv):
    model, tokens_path, out = argv[1:4]
    config, weights = load(model)
    tokens = json.loads(Path(tokens_path).read_text())
    hidden, final, logits = forward(config, weights, tokens)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for i, h in enumerate(hidden):
        np.save(out / f"hidden-{i:02d}.npy", h.astype(np.float32))
    np.save(out / "final-norm.npy", final.astype(np.float32))
    np.save(out / "logits.npy", logits.astype(np.float32))


if __name__ == "__main__":
    main(sys.argv)
