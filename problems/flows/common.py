"""Shared by the flows problems' specs: radial flows in closed form (computed in the grader, in float64, in the
forms that keep their precision at the boundary beta = -alpha and near z0), float32-aware tolerances that
follow their conditioning, and strategies over the whole admissible range beta >= -alpha."""

import numpy as np

from grader.spec import FLOAT32_HALF_ULP, call_text, st
from grader.strategies import arrays, reals

ALPHAS = (0.1, 3.0)
# float32 implementations are right: about 1e-7 relative rounding per operation, with a margin.
EPS = 1e-6


def radial_terms(r, alpha, beta):
    """A = 1 + beta h(r) and B = 1 + beta h + beta h'(r) r = 1 + beta alpha h^2, h = 1 / (alpha + r), without
    cancellation at beta = -alpha (A = r h there, B = r (r + 2 alpha) h^2)."""
    h = 1 / (alpha + r)
    return (alpha + beta + r) * h, (r * r + 2 * alpha * r + alpha * (alpha + beta)) * h * h


def radial_forward(z, z0, alpha, beta):
    """y = z + beta h(r) (z - z0) and log|det dy/dz| = (D - 1) log A + log B."""
    diff = z - z0
    r = np.linalg.norm(diff, axis=-1)
    tangential, radial = radial_terms(r, alpha, beta)
    return z0 + tangential[..., None] * diff, (z.shape[-1] - 1) * np.log(tangential) + np.log(radial)


def rounding_scale(z, z0):
    """|z| + |z0| per row: float32 rounding of the inputs moves r = ||z - z0|| by about EPS times this."""
    return np.linalg.norm(z, axis=-1) + np.linalg.norm(z0, axis=-1)


def log_det_tolerance(z, z0, alpha, beta):
    """What float32 rounding costs log|det|: relative errors of A and B (about EPS (1 + |beta| h) / A, since
    1 + beta h cancels near the boundary) and of r, amplified by D."""
    d = z.shape[-1]
    r = np.linalg.norm(z - z0, axis=-1)
    tangential, radial = radial_terms(r, alpha, beta)
    amplification = (1 + abs(beta) / (alpha + r)) * (1 / tangential + 1 / radial) + rounding_scale(z, z0) / r
    return 1e-6 + EPS * d * amplification


def flow_tolerance(z, z0, alpha, beta):
    """Per-row absolute tolerance on y (or on a recovered z, divided by the smallest eigenvalue)."""
    return EPS * (1 + rounding_scale(z, z0)) * (1 + abs(beta) / alpha)


def inverse_tolerance(z, z0, alpha, beta):
    """Per-row absolute tolerance on a recovered z: the inverse amplifies errors in y by up to max(1/A, 1/B)."""
    r = np.linalg.norm(z - z0, axis=-1)
    tangential, radial = radial_terms(r, alpha, beta)
    return flow_tolerance(z, z0, alpha, beta) * (1 / tangential + 1 / radial)


@st.composite
def radial_parameters(draw, boundary=None):
    """(alpha, beta): alpha > 0 a float, beta on the boundary -alpha (a third of the time, or always /
    never with ``boundary``), or in (-alpha, 5], within 1e-3 alpha of the boundary a quarter of the time."""
    alpha = draw(reals(*ALPHAS))
    on_boundary = draw(st.integers(0, 2)) == 0 if boundary is None else boundary
    if on_boundary:
        return alpha, -alpha
    gap = draw(st.one_of(reals(1e-6, 1e-3), reals(1e-3, (5.0 + alpha) / alpha), reals(1e-3, (5.0 + alpha) / alpha),
                         reals(1e-3, (5.0 + alpha) / alpha)))
    return alpha, alpha * (gap - 1)


@st.composite
def points_around(draw, d, batch, radii=(1e-3, 10.0)):
    """(z (*batch, d), z0 (d,)): each z at a log-uniform distance in ``radii`` from z0, in a random direction."""
    z0 = draw(arrays((d,), -2.0, 2.0))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    direction = rng.standard_normal((*batch, d))
    direction /= np.linalg.norm(direction, axis=-1, keepdims=True)
    radius = np.exp(rng.uniform(np.log(radii[0]), np.log(radii[1]), size=(*batch, 1)))
    return z0 + radius * direction, z0


batch_shapes = st.sampled_from(((), (1,), (4,), (2, 3)))
dimensions = st.integers(1, 5)


def pair(result, names: str, call: str):
    """The two results of a function that returns a tuple (say, (y, log_det)), or a clear failure."""
    if not (isinstance(result, tuple) and len(result) == 2):
        got = f"a tuple of {len(result)}" if isinstance(result, tuple) else "a single array"
        raise AssertionError(f"the result should be a tuple {names}, but is {got} [{call}]")
    return result


# --- affine coupling layers: built in the worker, parameters re-drawn, probed through their outputs ------------

COUPLING_STD = 0.3  # the standard deviation of the re-drawn parameters: scales exp(s) of order e^{+-2}
# A layer may compute in float32 (the contract allows it: it casts the grader's float64 input and parameters), so
# each of its outputs carries the rounding of its input to float32 and of a few operations, 2^-24 relative each.
FLOAT32 = FLOAT32_HALF_ULP
# The relative allowance of an output whose float32 error is at most a few 2^-24 of the terms it is made of (the
# AffineCoupling spec's TOL, also used by the diagnosis' scenario): 16 * 2^-24 = 9.5e-7.
COUPLING_TOL = 16 * FLOAT32
# The step of the central differences of a coupling layer. Its Jacobian is block triangular with diagonal blocks
# (masked rows: the identity; free rows: diag(exp(s(m x))), exactly linear in the free coordinates), so the
# determinant of the central-difference Jacobian is exact for any step, however rough the networks: the step only
# sets the float32 rounding, FLOAT32 |y| / step per entry (see `finite_difference_log_det`). 1e-2 keeps that near
# 1e-5 relative (the previous 1e-5 made it 1e-2) while a layer that is not affine in the free coordinates (a
# mistake) is still differentiated to O(step^2).
FD_STEP = 1e-2


def coupling(module, d, mask, seed, **kwargs):
    """An AffineCoupling(d, mask, **kwargs) of ``module`` (the student's, or trusted code) with every parameter
    re-drawn from N(0, COUPLING_STD^2) by ``seed``: the layer is never the identity, whatever its initialisation."""
    layer = module.construct("AffineCoupling", d, np.asarray(mask, dtype=np.float64), **kwargs)
    layer.redraw_parameters(seed, COUPLING_STD)
    return layer


def coupling_call(layer, method: str, x):
    """(output, log_det) of ``layer.method(x)`` for x (n, d), with the shapes checked."""
    call = call_text(f"AffineCoupling.{method}", x)
    out, log_det = pair(getattr(layer, method)(x), "(output, log_det)", call)
    if np.shape(out) != x.shape or np.shape(log_det) != x.shape[:1]:
        raise AssertionError(f"{method} returned shapes {np.shape(out)} and {np.shape(log_det)}, but should return "
                             f"{x.shape} and {x.shape[:1]} [{call}]")
    return out, log_det, call


def finite_difference_log_det(layer, method: str, x, step=FD_STEP):
    """(log|det| of the central-difference Jacobian of ``layer.method`` at each row of x (n, d), in float64, and
    the float32 rounding it may carry).

    For a coupling layer the rows of the masked coordinates are unit vectors and the free block is diagonal and
    linear in the free coordinates, so the determinant is exact up to rounding, however rough the networks; it is
    the product of the diagonal entries J_jj. Rounding: a float32 output y_j(x +- step e_j) is off by up to
    FLOAT32 (|y_j| + 3 |J_jj| (|x_j| + step)) (its own rounding, and the rounding of its input and of x_j exp(s_j),
    carried by the slope J_jj), so J_jj by FLOAT32 ((|y_j^+| + |y_j^-|) / 2 + 3 |J_jj| (|x_j| + step)) / step; and
    the layer's own log_det, a float32 sum of the s_j = log J_jj (exp(s_j) rounded once more in y), by
    FLOAT32 (1 + |log J_jj|) per coordinate. The bound is the sum over j of both, relative to J_jj (floored at
    1e-3, |s_j| <= 6.9: a layer that is not affine in its free coordinates cannot buy an unbounded tolerance)."""
    n, d = x.shape
    offsets = step * np.concatenate([np.eye(d), -np.eye(d)])
    shifted = (x[:, None, :] + offsets).reshape(n * 2 * d, d)
    out, _, _ = coupling_call(layer, method, shifted)
    out = out.reshape(n, 2 * d, d)
    jacobian = (out[:, :d, :] - out[:, d:, :]).transpose(0, 2, 1) / (2 * step)
    sign, log_abs = np.linalg.slogdet(jacobian)
    diagonal = np.maximum(np.abs(np.diagonal(jacobian, axis1=1, axis2=2)), 1e-3)  # (n, d): J_jj
    outputs = (np.abs(np.diagonal(out[:, :d, :], axis1=1, axis2=2))
               + np.abs(np.diagonal(out[:, d:, :], axis1=1, axis2=2))) / 2  # (|y_j^+| + |y_j^-|) / 2
    relative = FLOAT32 * ((outputs / diagonal + 3 * (np.abs(x) + step)) / step + 1 + np.abs(np.log(diagonal)))
    return np.where(sign != 0, log_abs, -np.inf), relative.sum(-1)


def free_directions(rng, mask, n):
    """Random moves (n, d) of the free coordinates only (mask 0), each entry of size 0.3 to 1."""
    size = rng.uniform(0.3, 1.0, size=(n, len(mask))) * rng.choice([-1.0, 1.0], size=(n, len(mask)))
    return size * (1 - np.asarray(mask))


def free_slopes(layer, x, moves):
    """(y(x + move) - y(x)) / move on the free coordinates for two moves, the change of the masked ones, and the
    size of the terms whose float32 rounding the slopes carry: an affine coupling gives the same slopes exp(s(m x))
    for both moves, and no change of the masked outputs.

    The size: each output y is off by up to FLOAT32 (|y| + 3 slope (|x| + |move|)) in float32 (its own rounding and
    that of its input and of x exp(s), carried by the slope), |move| <= 1; a slope is a difference of two outputs
    over |move| >= 0.3."""
    n = len(x)
    stacked = np.concatenate([x, x + moves[0], x + moves[1]])
    y, _, call = coupling_call(layer, "forward", stacked)
    y0, y1, y2 = y[:n], y[n:2 * n], y[2 * n:]
    free = moves[0] != 0
    slopes = [np.where(free, (yi - y0) / np.where(free, move, 1.0), 0.0) for yi, move in zip((y1, y2), moves)]
    size = np.abs(y0) + np.abs(y1) + np.abs(y2) + 3 * np.abs(slopes[0]) * (np.abs(x) + 1)
    return slopes, np.where(free, 0.0, np.abs(y1 - y0) + np.abs(y2 - y0)), size, call


def free_scales(layer, mask, x, rng):
    """|dy_j / dx_j| at x (n, d): exp(s(m x)) on the free coordinates, measured as the slope of the layer's forward
    along a random move of them (see `free_slopes`), and 1 on the masked ones. A round trip through inverse
    amplifies the rounding of y by 1 / exp(s), one through forward that of x by exp(s): the conditioning of each
    map. Floored at 1e-3 (|s| <= 6.9), so that a layer that is not affine in its free coordinates cannot buy an
    unbounded tolerance."""
    (slope, _), _, _, _ = free_slopes(layer, x, [free_directions(rng, mask, len(x)) for _ in range(2)])
    return np.where(np.asarray(mask) == 1, 1.0, np.maximum(np.abs(slope), 1e-3))
