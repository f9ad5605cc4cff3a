"""Shared Hypothesis strategies for specs: arrays in a range, broadcastable shapes, SPD matrices,
probability vectors. Composed from small named pieces so that shrinking stays meaningful."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp


def reals(low: float, high: float) -> st.SearchStrategy[float]:
    """Finite floats in [low, high] (no NaN, no infinity, no subnormals)."""
    return st.floats(low, high, allow_nan=False, allow_infinity=False, allow_subnormal=False)


def arrays(shape, low: float, high: float) -> st.SearchStrategy[np.ndarray]:
    """float64 arrays of ``shape`` with entries in [low, high]."""
    return hnp.arrays(np.float64, shape, elements=reals(low, high))


def broadcastable_shapes(count: int, *, max_dims: int = 2, max_side: int = 3, min_dims: int = 0):
    """``count`` shapes that broadcast together, and their broadcast result."""
    return hnp.mutually_broadcastable_shapes(num_shapes=count, min_dims=min_dims, max_dims=max_dims,
                                             max_side=max_side)


@st.composite
def spd_matrices(draw, d: int, *, batch: tuple = (), max_condition: float = 100.0, scale=(0.1, 10.0)):
    """Symmetric positive-definite (..., d, d) matrices, generally non-diagonal, with condition
    number at most ``max_condition`` (eigenvalues drawn in a bounded ratio, rotated randomly)."""
    seed = draw(st.integers(0, 2**32 - 1))
    low = draw(reals(*scale))
    ratio = draw(reals(1.0, max_condition))
    rng = np.random.default_rng(seed)
    shape = (*batch, d)
    eigenvalues = low * np.exp(rng.uniform(0.0, np.log(ratio), size=shape))
    eigenvalues[..., 0] = low  # pin the extremes so the condition number is exactly reachable
    if d > 1:
        eigenvalues[..., -1] = low * ratio
    q, r = np.linalg.qr(rng.standard_normal((*batch, d, d)))
    q = q * np.sign(np.diagonal(r, axis1=-2, axis2=-1))[..., None, :]
    matrix = (q * eigenvalues[..., None, :]) @ np.swapaxes(q, -1, -2)
    return (matrix + np.swapaxes(matrix, -1, -2)) / 2


@st.composite
def probability_vectors(draw, k: int, *, batch: tuple = (), allow_zeros: bool = True, min_mass: float = 1e-3):
    """Rows on the probability simplex of size ``k``; with ``allow_zeros`` some entries are exactly 0."""
    raw = draw(hnp.arrays(np.float64, (*batch, k), elements=reals(min_mass, 1.0)))
    if allow_zeros and k > 1:
        mask = draw(hnp.arrays(np.bool_, (*batch, k)))
        mask[..., 0] = False  # keep at least one positive entry per row
        raw = np.where(mask, 0.0, raw)
    return raw / raw.sum(axis=-1, keepdims=True)
