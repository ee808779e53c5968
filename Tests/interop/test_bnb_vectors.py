# SPDX-License-Identifier: Apache-2.0
"""Re-runs the bitsandbytes vector generator and checks it reproduces the committed vectors byte for byte.

Run with numpy==2.4.6 and pytest: `python -m pytest Tests/interop/test_bnb_vectors.py`.
"""
import filecmp
import pathlib
import subprocess
import sys

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "fixtures" / "scripts"
COMMITTED = ROOT / "fixtures" / "bnb-vectors"

sys.path.insert(0, str(SCRIPTS))
import bnb_reference as ref  # noqa: E402

pytestmark = pytest.mark.skipif(np.__version__ != "2.4.6", reason="vectors are pinned to numpy 2.4.6")


def test_generator_reproduces_committed_vectors(tmp_path):
    subprocess.run([sys.executable, str(SCRIPTS / "generate_bnb_vectors.py"), str(tmp_path)], check=True)
    assert filecmp.cmp(tmp_path / "vectors.json", COMMITTED / "vectors.json", shallow=False)


def test_reference_mean_is_numpy_mean():
    rng = np.random.default_rng(1)
    for n in (1, 7, 8, 127, 128, 129, 1000, 70001):
        values = rng.random(n).astype(np.float32) * 3
        assert ref.mean_f32(values).tobytes() == np.mean(values).tobytes()


def test_dynamic_map_is_sorted_and_asymmetric():
    code = ref.dynamic_map()
    assert code.size == 256 and np.all(np.diff(code) > 0)
    assert code[127] == 0 and code[255] == 1 and code.view(np.uint32)[0] == 0xBF7E3333


def test_packing_puts_even_element_in_high_nibble():
    packed, absmax = ref.quantize_4bit(np.array([1.0, -1.0, 0.0], np.float32), 64, "nf4")
    assert packed.tolist() == [0xF0, 0x77] and absmax.tolist() == [1.0]
