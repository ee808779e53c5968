"""Shared by the benchmarks: the side files of a synthetic llama checkpoint (config.json and the fixture
tokenizer), so each benchmark only generates its weights."""
import json
import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TOKENIZER = REPO / "fixtures" / "tiny-llama"


def fixture_vocab_size() -> int:
    tok = json.loads((TOKENIZER / "tokenizer.json").read_text())
    return max(tok["model"]["vocab"].values()) + 1 + len(tok["added_tokens"])


def write_side_files(directory: Path, *, hidden, ffn, heads, kv_heads, layers, torch_dtype) -> int:
    """Creates `directory` with config.json and the fixture tokenizer files; returns the vocabulary size."""
    vocab = fixture_vocab_size()
    config = {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": hidden,
        "intermediate_size": ffn, "num_hidden_layers": layers, "num_attention_heads": heads,
        "num_key_value_heads": kv_heads, "max_position_embeddings": 4096, "rms_norm_eps": 1e-5,
        "rope_theta": 10000.0, "vocab_size": vocab, "tie_word_embeddings": True, "torch_dtype": torch_dtype,
        "bos_token_id": 0, "eos_token_id": 0,
    }
    directory.mkdir(parents=True)
    (directory / "config.json").write_text(json.dumps(config, indent=2))
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(TOKENIZER / name, directory / name)
    return vocab
