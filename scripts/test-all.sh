#!/usr/bin/env bash
# Runs every test tier: hermetic `swift test`, then the interop and real-model tests (pytest) that check
# Quail's output with the real peer packages (gguf, safetensors, tokenizers, numpy references).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
scripts/setup.sh

# One optimised build serves both tiers: the hermetic tests (built with testability for @testable imports)
# and the quail binary the interop tests run.
build=(-c release -Xswiftc -enable-testing)
echo "== swift test (hermetic)"
swift build "${build[@]}" --build-tests
swift test "${build[@]}" --skip-build

echo "== interop and real-model tests"
export QUAIL_BIN="$root/.build/release/quail"
.venv/bin/python -m pytest -q --durations=15 Tests/interop
