# SPDX-License-Identifier: Apache-2.0
"""NumPy/LAPACK reference implementations of the LoRA initialisation solvers (formats/lora-init.md).

Written from the maths (shared notes: algorithms.md §3.1 for LoftQ as PEFT's `loftq_init` runs it, §5 for the
calibrated objective), with the plain NumPy route a Python user would take, not Quail's code paths:

- svd: full thin `np.linalg.svd` of E = W - Q, top r, singular values split as square roots.
- exact: Cholesky of H + λI (`np.linalg.cholesky`; an eigendecomposition square root if H is singular), thin
  SVD of E·L, product U_r U_rᵀ E (no inverse).
- quailora: the alternation in QR form (Y = E (Hλ (Eᵀ U)), U = qr(Y)) from the SVD start, with the objective
  tr(G) - tr(Uᵀ G U) per step; `quailora_paper` runs the paper's literal A/B updates with linear solves.
- loftq: res = W; repeat: Q = quant(res), SVD of W - Q, res = W - B A.

Factors are PEFT-oriented (a = lora_A [r, in], b = lora_B [out, r], correction b @ a) and rounded to float32,
and errors are computed directly from the rounded factors: tr(R H Rᵀ) and ‖R‖² with R = W - Q' - b a.
"""
import numpy as np


def ridge(h, damping):
    mean = float(np.mean(np.diag(h))) if h.size else 0.0
    return damping * mean if mean > 0 else damping


def balanced(u, e):
    """Factors of u uᵀ e (u orthonormal columns) with the singular values split evenly."""
    p, s, vt = np.linalg.svd(u.T @ e, full_matrices=False)
    root = np.sqrt(s)
    return ((u @ p) * root).astype(np.float32), (root[:, None] * vt).astype(np.float32)


def svd_basis(e, rank):
    u, _, _ = np.linalg.svd(e, full_matrices=False)
    return u[:, :rank]


def square_root(h):
    """L with h = L Lᵀ: Cholesky, or the eigendecomposition square root when h is singular."""
    try:
        return np.linalg.cholesky(h)
    except np.linalg.LinAlgError:
        w, v = np.linalg.eigh(h)
        return v * np.sqrt(np.clip(w, 0, None))


def errors(w, q, h, b, a, base=None):
    e0 = w.astype(np.float64) - q.astype(np.float64)
    r = w.astype(np.float64) - (q if base is None else base).astype(np.float64) - b.astype(np.float64) @ a.astype(np.float64)
    zero_cal = float(np.sum((e0 @ h) * e0))
    cal = float(np.sum((r @ h) * r))
    return {
        "calibrated": cal, "zero_init_calibrated": zero_cal, "weight": float(np.sum(r * r)),
        "zero_init_weight": float(np.sum(e0 * e0)),
        "relative_calibrated": cal / zero_cal if zero_cal > 0 else 0.0,
        "relative_weight": float(np.sum(r * r) / np.sum(e0 * e0)) if np.any(e0) else 0.0,
    }


def solve(w, q, h, rank, method, damping=0.01, steps=20, loftq_iterations=1, quantize=None):
    """Returns dict(b, a, base, errors, history, damping) like `quail solve-layer`."""
    w64 = w.astype(np.float64)
    e = w64 - q.astype(np.float64)
    h = 0.5 * (h + h.T)
    out, inner = e.shape
    lam = ridge(h, damping) if method in ("quailora", "exact") else 0.0
    base, history = None, []
    if method == "zero":
        b, a = np.zeros((out, rank), np.float32), np.zeros((rank, inner), np.float32)
    elif method == "svd":
        b, a = balanced(svd_basis(e, rank), e)
    elif method == "exact":
        l = square_root(h + lam * np.eye(inner))
        u, _, _ = np.linalg.svd(e @ l, full_matrices=False)
        b, a = balanced(u[:, :rank], e)
    elif method == "quailora":
        hl = h + lam * np.eye(inner)
        u = svd_basis(e, rank)
        total = float(np.sum((e @ hl) * e))
        y = e @ (hl @ (e.T @ u))
        history.append(total - float(np.sum(u * y)))
        for _ in range(steps):
            u, _ = np.linalg.qr(y)
            y = e @ (hl @ (e.T @ u))
            history.append(total - float(np.sum(u * y)))
        b, a = balanced(u, e)
    elif method == "loftq":
        res = w.astype(np.float32)
        for i in range(loftq_iterations):
            base = quantize(res)
            et = w64 - base.astype(np.float64)
            b, a = balanced(svd_basis(et, rank), et)
            if i + 1 < loftq_iterations:
                res = (w64 - b.astype(np.float64) @ a.astype(np.float64)).astype(np.float32)
    else:
        raise ValueError(method)
    errs = errors(w, q, h, b, a, base)
    fell_back = errs["calibrated"] > errs["zero_init_calibrated"] * (1 + 1e-9)
    if fell_back:
        b, a, base = np.zeros_like(b), np.zeros_like(a), None
        errs = errors(w, q, h, b, a)
    return {"b": b, "a": a, "base": base, "errors": errs, "history": history, "damping": lam,
            "fell_back_to_zero": fell_back}


def quailora_paper(w, q, h, rank, damping=0.01, steps=20):
    """The paper's literal alternation from the SVD start: A ← E Hλ B (Bᵀ Hλ B)⁻¹, then Bᵀ ← (AᵀA)⁻¹ Aᵀ E
    (paper notation: A is out × r, B is in × r). Returns the product A Bᵀ."""
    e = w.astype(np.float64) - q.astype(np.float64)
    h = 0.5 * (h + h.T)
    hl = h + ridge(h, damping) * np.eye(e.shape[1])
    u, s, vt = np.linalg.svd(e, full_matrices=False)
    a_ = u[:, :rank] * np.sqrt(s[:rank])
    b_ = vt[:rank].T * np.sqrt(s[:rank])
    for _ in range(steps):
        a_ = np.linalg.solve(b_.T @ hl @ b_, (e @ hl @ b_).T).T
        b_ = np.linalg.solve(a_.T @ a_, a_.T @ e).T
    return a_ @ b_.T
