"""Shared by the vae problems' specs: the linear-Gaussian model z ~ N(0, I_k), x | z ~ N(W z + b, s^2 I_d) in
closed form (computed in the grader, in float64) and strategies for its parameters."""

import numpy as np
from hypothesis import strategies as st

from grader.strategies import arrays, reals

LOG_2PI = np.log(2 * np.pi)


def log_evidence(x, W, b, s):
    """log p(x) = log N(x; b, W W^T + s^2 I), shape (...)."""
    d = W.shape[0]
    chol = np.linalg.cholesky(W @ W.T + s**2 * np.eye(d))
    white = np.linalg.solve(chol, (x - b)[..., None])[..., 0]
    return -0.5 * ((white**2).sum(-1) + 2 * np.log(np.diag(chol)).sum() + d * LOG_2PI)


def posterior(x, W, b, s):
    """Mean (..., k) and covariance (k, k) of p(z | x)."""
    cov = np.linalg.inv(np.eye(W.shape[1]) + W.T @ W / s**2)
    return ((x - b) @ W / s**2) @ cov, cov


def log_joint(x, W, b, s, z):
    """log p(x | z) + log p(z), shape (...)."""
    d, k = W.shape
    log_likelihood = -0.5 * (((x - z @ W.T - b) / s) ** 2).sum(-1) - d * (np.log(s) + LOG_2PI / 2)
    return log_likelihood - 0.5 * (z**2).sum(-1) - k * LOG_2PI / 2


def log_weights(x, W, b, s, q_mu, q_logvar, eps):
    """log p(x, z_j) - log q(z_j | x) for z_j = q_mu + exp(q_logvar / 2) eps_j, shape (S, ...)."""
    k = W.shape[1]
    z = q_mu + np.exp(q_logvar / 2) * eps
    log_q = -0.5 * (eps**2).sum(-1) - 0.5 * q_logvar.sum(-1) - k * LOG_2PI / 2
    return log_joint(x, W, b, s, z) - log_q


@st.composite
def models(draw, orthogonal=False, noise=(0.3, 3.0), scale=(0.3, 2.0), d=None):
    """(W, b, s): W (d, k) a scaled standard-normal matrix, or with orthogonal columns of lengths in
    [0.3, 3] (then p(z | x) is diagonal); b (d,); s a Python float (the noise's standard deviation)."""
    d = draw(st.integers(1, 4)) if d is None else d
    k = draw(st.integers(1, d)) if orthogonal else draw(st.integers(1, 3))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if orthogonal:
        columns, _ = np.linalg.qr(rng.standard_normal((d, k)))
        W = columns * np.exp(rng.uniform(np.log(0.3), np.log(3.0), size=k))
    else:
        W = draw(reals(*scale)) * rng.standard_normal((d, k))
    return W, draw(arrays((d,), -3.0, 3.0)), draw(reals(*noise))
