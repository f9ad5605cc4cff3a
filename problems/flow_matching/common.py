"""Shared by the flow-matching problems' specs: the Gaussian probability path p_t(x | x1) = N(t x1, (1 - t)^2 I),
its mixture p_t(x) = (1/m) sum_i p_t(x | x_i) over a data set, and the continuity-equation check.

Everything about p_t is computed exactly in the grader, in float64 and in the log domain (softmax weights with
the largest logit subtracted), so it stays accurate far from the data and for t close to 1. Only the divergence
of the student's velocity is a finite difference, of values the student returns.
"""

import numpy as np
from hypothesis import strategies as st

from grader.spec import assert_all, assert_finite, assert_shape
from grader.strategies import arrays, reals

DATA = (-1.5, 1.5)
# Points in and out of the data's hull (and of its image t * hull, where p_t puts its mass).
POINTS = (-4.0, 4.0)
# Relative error of the student's velocity values that a correct implementation may carry: about 16 float32
# ulps. A float64 implementation is 1e9 times better; this is what float32 costs.
FLOAT32_ROUNDING = 1e-6


@st.composite
def data_sets(draw, dims=(1, 2, 3), max_rows=5):
    """data (m, d) with 1 <= m <= max_rows rows in DATA^d, d drawn from dims."""
    m, d = draw(st.integers(1, max_rows)), draw(st.sampled_from(dims))
    return draw(arrays((m, d), *DATA))


def times(high=0.95):
    """t in [0, high], the ends and a few round values included."""
    return st.one_of(st.sampled_from((0.0, 0.5, high)), reals(0.0, high))


def posterior(x, t, data):
    """(weights (..., m), residuals (..., m, d)): p(x1 = x_i | x_t = x) and r_i = x - t x_i."""
    residuals = x[..., None, :] - t * data
    logits = -0.5 * (residuals**2).sum(-1) / (1 - t) ** 2
    weights = np.exp(logits - logits.max(-1, keepdims=True))
    return weights / weights.sum(-1, keepdims=True), residuals


def log_density(x, t, data):
    """log p_t(x) = log (1/m) sum_i N(x; t x_i, (1 - t)^2 I)."""
    s, d = 1 - t, data.shape[-1]
    logits = -0.5 * ((x[..., None, :] - t * data) ** 2).sum(-1) / s**2
    top = logits.max(-1)
    return top + np.log(np.exp(logits - top[..., None]).mean(-1)) - d * np.log(s) - 0.5 * d * np.log(2 * np.pi)


def exact_velocity(x, t, data):
    """v_t(x) = sum_i w_i (x_i - x) / (1 - t), the posterior mean of the conditional velocities."""
    weights, _ = posterior(x, t, data)
    return (weights[..., None] * (data - x[..., None, :])).sum(-2) / (1 - t)


def continuity_terms(x, t, data):
    """(d/dt log p_t(x), grad_x log p_t(x), scale): the exact derivatives of log p_t, and the size of the terms
    of the continuity equation at x (what its residual is measured against).

    With s = 1 - t, r_i = x - t x_i and posterior weights w_i:
        d/dt log p_t(x) = d / s + sum_i w_i (r_i . x_i / s^2 - |r_i|^2 / s^3),
        grad log p_t(x) = -sum_i w_i r_i / s^2,
    and the exact velocity has divergence (t tr Cov_w[x_i] / s^2 - d) / s.
    """
    s, d = 1 - t, data.shape[-1]
    weights, residuals = posterior(x, t, data)
    along = (residuals * data).sum(-1) / s**2
    squared = (residuals**2).sum(-1) / s**3
    d_dt = d / s + (weights * (along - squared)).sum(-1)
    grad = -(weights[..., None] * residuals).sum(-2) / s**2
    mean = (weights[..., None] * data).sum(-2)
    spread = (weights * ((data - mean[..., None, :]) ** 2).sum(-1)).sum(-1)
    velocity = exact_velocity(x, t, data)
    scale = (d / s + (weights * (np.abs(along) + squared)).sum(-1) + t * spread / s**3
             + np.linalg.norm(velocity, axis=-1) * np.linalg.norm(grad, axis=-1))
    return d_dt, grad, scale


# --- the continuity equation d/dt p_t + div(p_t v_t) = 0, checked from the student's values ------------------
#
# Divided by p_t > 0 it reads  d/dt log p_t + v . grad log p_t + div v = 0,  which stays well scaled where p_t
# underflows (far from the data). d/dt log p_t and grad log p_t are exact (`continuity_terms`, float64: relative
# error ~1e-15, negligible); div v = sum_j d v_j / d x_j is a central difference of the student's values,
#     (v_j(x + h e_j) - v_j(x - h e_j)) / (2 h) = d v_j / d x_j + h^2 / 6 d^3 v_j / d x_j^3 + O(eta |v| / h),
# where eta is the relative error of the returned values (and of x +- h e_j once rounded to the student's dtype).
#
# Step size. v varies on the length scale ell = s^2 / (s + t D) (D: the diameter of the data): between two
# data points at distance D the posterior mean is a tanh of slope a = t D / (2 s^2) <= 1 / (2 ell), so with
# h = STEP * ell the truncation error is at most (a h)^2 / 3 <= STEP^2 / 12 relative to the divergence's own size
# (tanh''' <= 2; the t Var / s^3 term of `scale`). Rounding costs eta (|x| + max|x_i| + 1) / h relative to the
# d / s and |v| |grad log p| terms of `scale`. Balancing STEP^2 / 12 against eta / STEP for float64 (eta ~ 1e-15)
# would give STEP ~ 1e-5; we must accept float32 (eta = FLOAT32_ROUNDING), so STEP = 0.05 balances it instead:
# truncation <= 2.1e-4, and rounding <= 1e-6 * 6.5 / (0.05 ell) <= 0.051 for the properties' t <= 0.9, d <= 2 and
# data in DATA^d (ell >= 0.01 / (0.1 + 0.9 * 3 sqrt(2)) = 2.6e-3 there). The tolerance is the sum of the two
# bounds plus CONTINUITY_RTOL for the neglected higher-order terms and competing data points, each times `scale`.
# Measured on 3000 random cases (8 points each): correct float64 and float32 implementations use at most 2% of
# the tolerance; the catalogued mistakes leave residuals of order `scale` (median 12 to 60 tolerances).
STEP = 0.05
CONTINUITY_RTOL = 2e-3


def length_scale(t, data):
    """ell = s^2 / (s + t D): the length on which v_t varies (D, the largest distance between data points)."""
    s = 1 - t
    diameter = np.linalg.norm(data[:, None, :] - data[None, :, :], axis=-1).max()
    return s**2 / (s + t * diameter)


def stencil(x, h):
    """(n, 2d + 1, d): each point x followed by x + h e_j and x - h e_j for j = 1..d."""
    d = x.shape[-1]
    offsets = np.concatenate([np.zeros((1, d)), h * np.eye(d), -h * np.eye(d)])
    return x[:, None, :] + offsets


def check_continuity(values_at, x, t, data, call):
    """Assert d/dt log p_t + v . grad log p_t + div v = 0 at the points x (n, d) for the mixture path over data.

    values_at(points) returns the student's velocity at points (n, 2d + 1, d) (see `stencil`)."""
    n, d = x.shape
    ell = length_scale(t, data)
    h = STEP * ell
    points = stencil(x, h)
    values = values_at(points)
    assert_shape(values, points.shape, call=call, what="the velocity at the stencil points")
    assert_finite(values, call=call, what="the velocity")
    velocity = values[:, 0, :]
    plus, minus = values[:, 1:d + 1, :], values[:, d + 1:, :]
    divergence = (np.diagonal(plus, axis1=1, axis2=2) - np.diagonal(minus, axis1=1, axis2=2)).sum(-1) / (2 * h)
    d_dt, grad, scale = continuity_terms(x, t, data)
    residual = d_dt + (velocity * grad).sum(-1) + divergence
    rounding = FLOAT32_ROUNDING * (np.abs(x).max(-1) + np.abs(data).max() + 1) / h
    tolerance = (CONTINUITY_RTOL + STEP**2 / 12 + rounding) * scale
    assert_all(np.abs(residual) <= tolerance,
               "the continuity equation d/dt p_t + div(p_t v) = 0 (divided by p_t: d/dt log p_t + v . grad log p_t "
               f"+ div v = 0, with div v from central differences of step {h:.3g}) must hold",
               residual=residual, tolerance=tolerance, d_dt_log_p=d_dt, div_v=divergence, call=call)
