"""`quail tokenize` against the PyPI `tokenizers` package: the same ids (and token texts) for the fixture
tokenizer, for SmolLM2's vocabulary read from its GGUF, and for variants of the fixture tokenizer.json that
exercise every supported pre-tokenizer and added-token option; the same text from `--decode`; clear errors for
tokenizers Quail does not support."""
import copy
import json
import random
import shutil

import gguf
import pytest
from tokenizers import Tokenizer

from conftest import FIXTURES, run_quail

TEXTS = FIXTURES / "text"
TINY = FIXTURES / "tiny-llama"

LLAMA3_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+"
    r"|\s+(?!\S)|\s+"
)
QWEN2_PATTERN = LLAMA3_PATTERN.replace(r"\p{N}{1,3}", r"\p{N}")

# Pieces the stress texts are made of: every class boundary the pre-tokenizer patterns care about.
STRESS_PIECES = [
    " ", "  ", "   ", "\t", "\t\t", "\n", "\n\n", "\r\n", "\r", "\r\n\r\n", " \n", "\n ", "\v", "\f", "\u00a0",
    "\u3000", "\u2028", "\u2029", "\u0085", "\u1680", "\u200b", "\u200d", "\ufeff", "\x00", "\x04", "\x7f",
    "0", "7", "12", "123", "1234", "99999", "3.14", "1,000", "\u0661\u0662\u0663", "\u2460", "\u00bd", "\u00b2",
    "\u216b", "\uff11\uff12",
    "!", "?", "...", "!?!", "((", "))", "[x]", "{}", "<>", "--", "\u2014", "\u2026", "\u00ab", "\u00bb", "@#$%",
    "\\", "/", "`", "\"", "'", "''", "_",
    "'s", "'S", "'t", "'T", "'re", "'RE", "'Re", "'ve", "'VE", "'m", "'M", "'ll", "'LL", "'lL", "'d", "'D",
    "'\u017f", "'x", "'", "n't", "IT'S", "DON'T",
    "a", "the", "Hello", "WORLD", "\u00c0\u00e9\u00ee", "\u03a9\u03bc\u03ad\u03b3\u03b1", "\u041f\u0440\u0438\u0432\u0435\u0442",
    "\u4e2d\u6587", "\ud55c\uad6d\uc5b4", "\u0645\u0631\u062d\u0628\u0627", "\u0928\u092e\u0938\u094d\u0924\u0947",
    "\ufb01", "\u01c5", "\u02b0", "\u00df", "\u0130",
    "\U0001f600", "\U0001f469\u200d\U0001f4bb", "\U0001f3f3\ufe0f\u200d\U0001f308", "\U0001f44d\U0001f3fd",
    "\U0001f1e9\U0001f1ea", "1\ufe0f\u20e3", "\u2764\ufe0f", "\U0001d518\U0001d52b",
    "e\u0301", "a\u0308\u0304", "Z\u0334\u0351", "\u0915\u094d\u0937",
    "<|im_start|>", "<|im_end|>", "<|endoftext|>", "<|im_start", "|>", "<|", "im_end",
]


def stress_text(seed, count):
    rng = random.Random(seed)
    return "".join(rng.choice(STRESS_PIECES) for _ in range(count))


def read_text(name):
    return (TEXTS / name).read_bytes().decode("utf-8")  # bytes, so that CR LF stays as written


def edge_lines():
    return read_text("tokenizer-edge-cases.txt").split("\n")


def quail_tokenize(model, text, tmp_path, *extra):
    path = tmp_path / "input.txt"
    path.write_bytes(text.encode("utf-8"))
    return json.loads(run_quail("tokenize", model, "--text", path, "--json", *extra).stdout)


def first_difference(a, b):
    return next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))


def assert_same_encoding(model, reference, text, tmp_path, *extra, add_special_tokens=True):
    """Same ids and token texts. (tokenizers reports an added token with the whitespace its lstrip/rstrip
    absorbed; Quail reports the vocabulary text, so token texts are compared through the vocabulary.)"""
    ours = quail_tokenize(model, text, tmp_path, *extra)
    expected = reference.encode(text, add_special_tokens=add_special_tokens)
    if ours["ids"] != expected.ids:
        at = first_difference(ours["ids"], expected.ids)
        raise AssertionError(
            f"first difference at token {at}: quail {ours['tokens'][at - 3:at + 4]} vs "
            f"tokenizers {expected.tokens[at - 3:at + 4]}")
    assert ours["tokens"] == [reference.id_to_token(i) for i in expected.ids]
    assert ours["count"] == len(expected.ids)
    return expected.ids


def quail_decode(model, ids, *extra):
    out = run_quail("tokenize", model, "--decode", ",".join(map(str, ids)), "--json", *extra).stdout
    return json.loads(out)["text"]


@pytest.fixture(scope="module")
def smollm2(smollm2_gguf, tmp_path_factory):
    """SmolLM2's GGUF, and the tokenizer.json `quail convert` writes from it, loaded by `tokenizers`."""
    out = tmp_path_factory.mktemp("smollm2") / "hf"
    run_quail("convert", smollm2_gguf, out, "--dtype", "f32")
    return smollm2_gguf, Tokenizer.from_file(str(out / "tokenizer.json"))


@pytest.fixture(scope="module")
def tiny():
    return TINY, Tokenizer.from_file(str(TINY / "tokenizer.json"))


@pytest.fixture(params=["tiny", "smollm2"])
def model(request):
    return request.getfixturevalue(request.param)


# ---------------------------------------------------------------------------------------------- acceptance


@pytest.mark.parametrize("name", ["tokenizer-edge-cases.txt", "calibration.txt", "heldout.txt"])
def test_fixture_texts_match_tokenizers(model, name, tmp_path):
    path, reference = model
    assert_same_encoding(path, reference, read_text(name), tmp_path)


def test_edge_case_lines_match_tokenizers(model, tmp_path):
    path, reference = model
    for line in edge_lines():
        assert_same_encoding(path, reference, line, tmp_path)


@pytest.mark.parametrize("seed", range(4))
def test_stress_texts_match_tokenizers(model, seed, tmp_path):
    path, reference = model
    assert_same_encoding(path, reference, stress_text(seed, 3000), tmp_path)


def test_short_stress_strings_match_tokenizers(model, tmp_path):
    path, reference = model
    for seed in range(100, 140):
        assert_same_encoding(path, reference, stress_text(seed, random.Random(seed).randint(1, 6)), tmp_path)


def test_no_special_matches_without_special_tokens(model, tmp_path):
    path, reference = model
    text = read_text("tokenizer-edge-cases.txt")
    assert_same_encoding(path, reference, text, tmp_path, "--no-special", add_special_tokens=False)


def test_decode_round_trip_matches_tokenizers(model, tmp_path):
    path, reference = model
    for text in [read_text("tokenizer-edge-cases.txt"), stress_text(7, 400)]:
        ids = reference.encode(text).ids
        assert quail_decode(path, ids) == reference.decode(ids, skip_special_tokens=False)
        assert quail_decode(path, ids, "--no-special") == reference.decode(ids, skip_special_tokens=True)


def test_decode_of_partial_byte_sequences_matches_tokenizers(model):
    """Windows of a few ids cut multi-byte characters apart: replacement characters as `from_utf8_lossy` does."""
    path, reference = model
    ids = reference.encode(stress_text(11, 600)).ids
    rng = random.Random(5)
    windows = []
    for _ in range(60):
        start = rng.randrange(len(ids))
        windows.append(ids[start:start + rng.randint(1, 4)])
    for window in windows:
        assert quail_decode(path, window) == reference.decode(window, skip_special_tokens=False), window


def test_every_token_decodes_as_tokenizers_does(model):
    """Each id alone, in batches separated by a special token (ASCII, so it ends any partial UTF-8 sequence)."""
    path, reference = model
    separator = reference.token_to_id("<|im_end|>")
    size = reference.get_vocab_size(with_added_tokens=True)
    for start in range(0, size, 3000):
        batch = [x for i in range(start, min(size, start + 3000)) for x in (i, separator)]
        assert quail_decode(path, batch) == reference.decode(batch, skip_special_tokens=False), start


# ------------------------------------------------------------------------- variants of the fixture tokenizer


def variant_dir(tmp_path, edit, load=True):
    """A copy of tiny-llama's config.json and tokenizer.json with `edit` applied to the tokenizer, and the
    tokenizer `tokenizers` reads from it (when `load`)."""
    out = tmp_path / "variant"
    out.mkdir(parents=True)
    shutil.copy(TINY / "config.json", out / "config.json")
    data = json.loads((TINY / "tokenizer.json").read_text())
    edit(data)
    (out / "tokenizer.json").write_text(json.dumps(data))
    return out, Tokenizer.from_file(str(out / "tokenizer.json")) if load else None


def split_then_byte_level(pattern):
    return {"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": pattern}, "behavior": "Isolated", "invert": False},
        {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False},
    ]}


def set_pre_tokenizer(value, **model_options):
    def edit(data):
        data["pre_tokenizer"] = value
        data["model"].update(model_options)
    return edit


VARIANTS = {
    "gpt-2": set_pre_tokenizer({"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
                                "use_regex": True}),
    "llama-bpe": set_pre_tokenizer(split_then_byte_level(LLAMA3_PATTERN), ignore_merges=True),
    "qwen2": set_pre_tokenizer(split_then_byte_level(QWEN2_PATTERN)),
}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_pre_tokenizer_variants_match_tokenizers(variant, tmp_path):
    path, reference = variant_dir(tmp_path, VARIANTS[variant])
    for text in [read_text("tokenizer-edge-cases.txt"), read_text("heldout.txt"), stress_text(21, 3000)]:
        assert_same_encoding(path, reference, text, tmp_path)
    for line in edge_lines():
        assert_same_encoding(path, reference, line, tmp_path)


def test_nfc_normalizer_matches_tokenizers(tmp_path):
    def edit(data):
        VARIANTS["qwen2"](data)
        data["normalizer"] = {"type": "NFC"}
    path, reference = variant_dir(tmp_path, edit)
    for text in [read_text("tokenizer-edge-cases.txt"), stress_text(22, 2000)]:
        assert_same_encoding(path, reference, text, tmp_path)


def test_ignore_merges_takes_whole_tokens(tmp_path):
    """A vocabulary entry no merge produces is used whole only with ignore_merges."""
    def edit(data, ignore):
        vocab = data["model"]["vocab"]
        vocab["\u0120quick"] = len(vocab)  # "Ġquick" (no merge chain builds it in this vocabulary)
        data["model"]["ignore_merges"] = ignore
    for ignore in [True, False]:
        path, reference = variant_dir(tmp_path / str(ignore), lambda d: edit(d, ignore))
        ids = assert_same_encoding(path, reference, "The quick brown fox", tmp_path)
        assert (reference.token_to_id("\u0120quick") in ids) == ignore


def test_template_processing_adds_bos_and_eos(tmp_path):
    def edit(data):
        data["post_processor"] = {"type": "Sequence", "processors": [
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False},
            {"type": "TemplateProcessing",
             "single": [{"SpecialToken": {"id": "<|im_start|>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                        {"SpecialToken": {"id": "<|im_end|>", "type_id": 0}}],
             "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}],
             "special_tokens": {"<|im_start|>": {"id": "<|im_start|>", "ids": [1], "tokens": ["<|im_start|>"]},
                                "<|im_end|>": {"id": "<|im_end|>", "ids": [2], "tokens": ["<|im_end|>"]}}},
        ]}
    path, reference = variant_dir(tmp_path, edit)
    ids = assert_same_encoding(path, reference, "Hello there", tmp_path)
    assert ids[0] == 1 and ids[-1] == 2
    assert_same_encoding(path, reference, "Hello there", tmp_path, "--no-special", add_special_tokens=False)


def added_token(id_, content, **flags):
    token = {"id": id_, "content": content, "single_word": False, "lstrip": False, "rstrip": False,
             "normalized": False, "special": True}
    token.update(flags)
    return token


def test_added_token_options_match_tokenizers(tmp_path):
    """lstrip, rstrip, single_word, normalized and non-special added tokens, overlapping candidates."""
    def edit(data):
        vocab = data["model"]["vocab"]
        extra = [
            ("<L>", {"lstrip": True}), ("<R>", {"rstrip": True}), ("<LR>", {"lstrip": True, "rstrip": True}),
            ("word", {"single_word": True, "special": False, "normalized": True}),
            ("<N>", {"special": False, "normalized": True}), ("<N>x", {"special": True}),
            ("ab", {"special": False, "normalized": True}), ("abc", {"special": False, "normalized": True}),
        ]
        for content, flags in extra:
            vocab[content] = len(vocab)
            data["added_tokens"].append(added_token(vocab[content], content, **flags))
    path, reference = variant_dir(tmp_path, edit)
    rng = random.Random(3)
    pieces = ["<L>", "<R>", "<LR>", "word", "words", "sword", "<N>", "<N>x", "ab", "abc", "abcd", " ", "  ", "\n",
              "\t", "x", "_", "1", "<|im_end|>", "é"]
    texts = ["".join(rng.choice(pieces) for _ in range(rng.randint(1, 12))) for _ in range(40)]
    assert_same_encoding(path, reference, "\u2029".join(texts), tmp_path)
    for text in texts[:15]:
        assert_same_encoding(path, reference, text, tmp_path)


# ------------------------------------------------------------------------------------------- bad input


def assert_rejected(model, *words):
    proc = run_quail("tokenize", model, "--string", "hello", check=False)
    assert proc.returncode > 0, proc.stderr
    assert "Fatal error" not in proc.stderr
    for word in words:
        assert word in proc.stderr, proc.stderr


def test_unknown_hf_pre_tokenizer_is_named(tmp_path):
    path, _ = variant_dir(tmp_path, set_pre_tokenizer(
        {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always", "split": True}), load=False)
    assert_rejected(path, "tokenizer.json", "pre_tokenizer", "Metaspace")


def test_unknown_model_type_is_named(tmp_path):
    def edit(data):
        data["model"]["type"] = "WordPiece"
    path, _ = variant_dir(tmp_path, edit, load=False)
    assert_rejected(path, "tokenizer.json", "WordPiece")


def test_unsupported_normalizer_is_named(tmp_path):
    def edit(data):
        data["normalizer"] = {"type": "Lowercase"}
    path, _ = variant_dir(tmp_path, edit, load=False)
    assert_rejected(path, "tokenizer.json", "normalizer", "Lowercase")


def test_missing_tokenizer_json_is_named(tmp_path):
    out = tmp_path / "bare"
    out.mkdir()
    shutil.copy(TINY / "config.json", out / "config.json")
    assert_rejected(out, str(out / "tokenizer.json"))


def tokenizer_only_gguf(path, edit):
    """A GGUF with SmolLM-style tokenizer keys from tiny-llama's vocabulary, edited, and no tensors."""
    data = json.loads((TINY / "tokenizer.json").read_text())
    vocab = sorted(data["model"]["vocab"].items(), key=lambda kv: kv[1])
    keys = {
        "tokenizer.ggml.model": "gpt2", "tokenizer.ggml.pre": "smollm",
        "tokenizer.ggml.tokens": [token for token, _ in vocab],
        "tokenizer.ggml.merges": [" ".join(pair) for pair in data["model"]["merges"]],
    }
    edit(keys)
    writer = gguf.GGUFWriter(str(path), "llama")
    for key, value in keys.items():
        if isinstance(value, list):
            writer.add_array(key, value)
        else:
            writer.add_string(key, value)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def test_gguf_without_tokenizer_edits_matches_fixture(tmp_path, tiny):
    path = tokenizer_only_gguf(tmp_path / "ok.gguf", lambda keys: None)
    assert_same_encoding(path, tiny[1], read_text("tokenizer-edge-cases.txt").replace("<|", "<"), tmp_path)


@pytest.mark.parametrize("edit,words", [
    (lambda keys: keys.update({"tokenizer.ggml.model": "llama"}), ["tokenizer.ggml.model", "llama"]),
    (lambda keys: keys.update({"tokenizer.ggml.pre": "deepseek-llm"}), ["pre-tokenizer", "deepseek-llm"]),
    (lambda keys: keys.update({"tokenizer.ggml.pre": "default"}), ["pre-tokenizer", "default"]),
    (lambda keys: keys.pop("tokenizer.ggml.pre"), ["tokenizer.ggml.pre"]),
    (lambda keys: keys["tokenizer.ggml.merges"].append("zz qq"), ["merge #253", "zz"]),
])
def test_unsupported_gguf_tokenizers_are_named(tmp_path, edit, words):
    path = tokenizer_only_gguf(tmp_path / "bad.gguf", edit)
    assert_rejected(path, str(path), *words)


def test_decode_rejects_unknown_ids():
    proc = run_quail("tokenize", TINY, "--decode", "1,99999", check=False)
    assert proc.returncode > 0 and "99999" in proc.stderr


def test_text_that_is_not_utf8_is_named(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes("caf\u00e9".encode("latin-1"))
    proc = run_quail("tokenize", TINY, "--text", path, check=False)
    assert proc.returncode == 1 and str(path) in proc.stderr and "UTF-8" in proc.stderr


def test_exactly_one_input_is_required():
    assert run_quail("tokenize", TINY, check=False).returncode > 0
    assert run_quail("tokenize", TINY, "--string", "a", "--decode", "1", check=False).returncode > 0
