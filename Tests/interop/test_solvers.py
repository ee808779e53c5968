# SPDX-License-Identifier: Apache-2.0
"""LoRA initialisation solvers: Quail (hidden `quail solve-layer` hook) against the NumPy reference in
reference_solvers.py on seeded random problems.

Factors are not unique (signs, rotations within equal singular values), so the comparisons are on errors and
products. Tolerances (relative): reported errors vs NumPy's direct computation from Quail's own factors 1e-9;
Quail vs reference relative errors 1e-6 and products 1e-4 (svd, exact, quailora, loftq T=1: both sides solve
the same deterministic problem in float64 and round the factors to float32); loftq T=3 1e-3 on the errors (a
one-ulp difference in W - B·A can move a value across a quantization boundary).
"""
import json

import numpy as np
import pytest
from gguf import GGMLQuantizationType
from gguf.quants import dequantize, quantize

import reference_solvers as ref
from conftest import run_quail

SHAPES = [(48, 96), (96, 64), (64, 64)]


def q4_0(m):
    return dequantize(quantize(np.ascontiguousarray(m, dtype=np.float32), GGMLQuantizationType.Q4_0),
                      GGMLQuantizationType.Q4_0)


def make_problem(seed, rows, columns, tokens):
    rng = np.random.default_rng(seed)
    w = (0.05 * rng.standard_normal((rows, columns))).astype(np.float32)
    q = q4_0(w)
    scales = 10.0 ** (-2.0 * np.arange(columns) / columns)
    x = rng.standard_normal((tokens, columns)) * scales + 0.3 * rng.standard_normal((tokens, 1))
    h = x.T @ x
    return w, q, h


def write(tmp_path, w, q, h):
    paths = {name: tmp_path / f"{name}.npy" for name in ("W", "Q", "H")}
    np.save(paths["W"], w)
    np.save(paths["Q"], q)
    np.save(paths["H"], h)
    return paths


def solve_layer(paths, out, rank, method, *extra):
    proc = run_quail("solve-layer", "--w", paths["W"], "--q", paths["Q"], "--h", paths["H"], "--rank", rank,
                     "--method", method, "--out", out, "--json", *extra)
    report = json.loads(proc.stdout)
    a, b = np.load(out / "a.npy"), np.load(out / "b.npy")
    base = np.load(out / "base.npy") if (out / "base.npy").exists() else None
    return report, a, b, base


def relative(x, y):
    return float(np.linalg.norm(x - y) / max(np.linalg.norm(y), 1e-300))


CASES = [(method, shape, tokens) for method in ("svd", "quailora", "exact") for shape in SHAPES for tokens in (40, 600)]


@pytest.mark.parametrize("method,shape,tokens", CASES)
def test_calibrated_methods_match_reference(tmp_path, method, shape, tokens):
    w, q, h = make_problem(hash((method, shape, tokens)) % 2**32, *shape, tokens)
    paths = write(tmp_path, w, q, h)
    report, a, b, _ = solve_layer(paths, tmp_path / "out", 8, method)
    assert a.shape == (8, shape[1]) and b.shape == (shape[0], 8) and a.dtype == np.float32
    mine = ref.errors(w, q, h, b, a)
    for key in ("calibrated", "weight"):
        assert abs(report["errors"][key] - mine[key]) <= 1e-9 * mine[f"zero_init_{key}"], key
    expected = ref.solve(w, q, h, 8, method)
    for key in ("relative_calibrated", "relative_weight"):
        assert abs(report["errors"][key] - expected["errors"][key]) <= 1e-6, (key, report["errors"][key], expected["errors"][key])
    assert relative(b.astype(np.float64) @ a, expected["b"].astype(np.float64) @ expected["a"]) <= 1e-4
    assert report["damping"] == pytest.approx(expected["damping"], rel=1e-12)
    if method == "quailora":
        history = np.array(report["objective_history"])
        assert len(history) == 21
        assert np.all(np.diff(history) <= 1e-12 * history[0])
        np.testing.assert_allclose(history, expected["history"], rtol=1e-7, atol=1e-10 * history[0])
        paper = ref.quailora_paper(w, q, h, 8)
        assert relative(b.astype(np.float64) @ a, paper) <= 1e-4


@pytest.mark.parametrize("shape", SHAPES)
def test_ordering_on_singular_gram(tmp_path, shape):
    """exact ≤ quailora ≤ svd ≤ zero on the undamped calibrated error, H from fewer tokens than inputs."""
    w, q, h = make_problem(7, *shape, tokens=shape[1] // 3)
    assert np.linalg.matrix_rank(h) < shape[1]
    paths = write(tmp_path, w, q, h)
    values = []
    for method in ("exact", "quailora", "svd", "zero"):
        report, *_ = solve_layer(paths, tmp_path / method, 6, method, "--damping", "0")
        values.append(report["errors"]["relative_calibrated"])
        assert not report["fell_back_to_zero"]
    assert values[0] <= values[1] + 1e-7 <= values[2] + 2e-7 <= values[3] + 3e-7, values
    assert values[3] == 1


@pytest.mark.parametrize("iterations", [1, 3])
def test_loftq_matches_reference(tmp_path, iterations):
    w, q, h = make_problem(11, 64, 96, 300)
    paths = write(tmp_path, w, q, h)
    report, a, b, base = solve_layer(paths, tmp_path / "out", 8, "loftq", "--quant", "q4_0",
                                     "--loftq-iterations", iterations)
    expected = ref.solve(w, q, h, 8, "loftq", loftq_iterations=iterations, quantize=q4_0)
    assert base is not None and base.shape == w.shape
    if iterations == 1:
        np.testing.assert_array_equal(base, q)
        assert relative(b.astype(np.float64) @ a, expected["b"].astype(np.float64) @ expected["a"]) <= 1e-4
    mine = ref.errors(w, q, h, b, a, base)
    assert abs(report["errors"]["calibrated"] - mine["calibrated"]) <= 1e-9 * mine["zero_init_calibrated"]
    tolerance = 1e-6 if iterations == 1 else 1e-3
    for key in ("relative_calibrated", "relative_weight"):
        assert abs(report["errors"][key] - expected["errors"][key]) <= tolerance, key
    assert report["errors"]["relative_weight"] < 1


def test_scale_split_and_zero(tmp_path):
    w, q, h = make_problem(5, 32, 64, 100)
    paths = write(tmp_path, w, q, h)
    _, a, b, _ = solve_layer(paths, tmp_path / "plain", 4, "exact")
    _, a2, b2, _ = solve_layer(paths, tmp_path / "scaled", 4, "exact", "--scale", "0.25")
    np.testing.assert_array_equal(a2, 2 * a)
    np.testing.assert_array_equal(b2, 2 * b)
    np.testing.assert_array_equal(0.25 * (b2 @ a2), b @ a)
    report, a0, b0, _ = solve_layer(paths, tmp_path / "zero", 4, "zero")
    assert not a0.any() and not b0.any()
    assert report["errors"]["relative_calibrated"] == 1


def test_bad_input_is_rejected_and_writes_nothing(tmp_path):
    w, q, h = make_problem(3, 16, 32, 50)
    paths = write(tmp_path, w, q, h)
    out = tmp_path / "out"
    base = ["solve-layer", "--w", paths["W"], "--q", paths["Q"], "--h", paths["H"], "--out", out]
    proc = run_quail(*base, "--rank", 17, "--method", "svd", check=False)
    assert proc.returncode != 0 and "rank 17" in proc.stderr and "W.npy" in proc.stderr
    h_bad = h.copy()
    h_bad[2, 5] = np.nan
    np.save(paths["H"], h_bad)
    proc = run_quail(*base, "--rank", 4, "--method", "exact", check=False)
    assert proc.returncode != 0 and "H holds a non-finite value at [2, 5]" in proc.stderr
    np.save(paths["H"], np.asfortranarray(h + np.triu(h, 1)))
    proc = run_quail(*base, "--rank", 4, "--method", "exact", check=False)
    assert proc.returncode != 0 and "fortran_order" in proc.stderr
    proc = run_quail(*base, "--rank", 4, "--method", "loftq", check=False)
    assert proc.returncode != 0
    assert not out.exists()
