"""Shared by the ebm problems' specs: log-weights log p~(x_i) - log q(x_i) as generated arrays, and a model with a
known partition function, p~(x) = Z N(x; a, b^2) with the proposal q = N(c, d^2), sampled in the grader."""

import numpy as np
from scipy.special import logsumexp

from grader.spec import st
from grader.strategies import arrays, reals

BATCHES = ((), (2,), (2, 3))
SAMPLES = (1, 8)
LOG_2PI = np.log(2 * np.pi)
# float32 implementations are right: they round log-values of magnitude up to 50 (1e4 in the extreme properties)
# to about 6e-8 of their size.
REL_TOL = 1e-5
ZERO_TOL = 1e-5


def log_mean_exp(values):
    """log (1/N) sum_i exp(values_i) over the last axis, stably (scipy)."""
    return logsumexp(values, axis=-1) - np.log(values.shape[-1])


def tolerance(*values):
    """Absolute tolerance for a float32 implementation working on these log-values."""
    return ZERO_TOL + REL_TOL * max(float(np.abs(v).max()) for v in values)


@st.composite
def log_values(draw, samples=SAMPLES, low=-30.0, high=30.0):
    """(log_p_tilde, log_q), both of shape (..., N) for a batch shape (...) and N samples."""
    batch = draw(st.sampled_from(BATCHES))
    n = draw(st.integers(*samples))
    return draw(arrays((*batch, n), low, high)), draw(arrays((*batch, n), low, high))


@st.composite
def proportional_log_values(draw, samples=SAMPLES):
    """(log_p_tilde, log_q, log_z) with log p~ = log q + log Z at every sample (q is p~ normalised): every
    log-weight equals log Z, which is at least 0.5 away from 0."""
    batch = draw(st.sampled_from(BATCHES))
    n = draw(st.integers(*samples))
    log_q = draw(arrays((*batch, n), -30.0, 5.0))
    log_z = draw(reals(0.5, 20.0)) * draw(st.sampled_from([-1.0, 1.0]))
    return log_q + log_z, log_q, log_z


@st.composite
def gaussian_models(draw, wider_proposal=False):
    """(log_z, a, b, c, d, seed): p~ = Z N(a, b^2) and q = N(c, d^2) with |c - a| <= b and d / b in [0.7, 1.5]
    (or in [1.5, 2.5] with ``wider_proposal``: then the weights p~ / q are bounded)."""
    log_z = draw(reals(-5.0, 5.0))
    a, b = draw(reals(-3.0, 3.0)), draw(reals(0.3, 3.0))
    c = a + b * draw(reals(-1.0, 1.0))
    d = b * draw(reals(1.5, 2.5) if wider_proposal else reals(0.7, 1.5))
    return log_z, a, b, c, d, draw(st.integers(0, 2**32 - 1))


def gaussian_log_values(model, shape):
    """log p~(x) and log q(x) at x ~ q of the given shape, drawn with the model's seed."""
    log_z, a, b, c, d, seed = model
    x = c + d * np.random.default_rng(seed).standard_normal(shape)
    log_p_tilde = log_z - 0.5 * ((x - a) / b) ** 2 - np.log(b) - 0.5 * LOG_2PI
    return log_p_tilde, -0.5 * ((x - c) / d) ** 2 - np.log(d) - 0.5 * LOG_2PI


def kl_q_p(model):
    """KL(q || p) between q = N(c, d^2) and the normalised p = N(a, b^2)."""
    _, a, b, c, d, _ = model
    return np.log(b / d) + (d**2 + (c - a) ** 2) / (2 * b**2) - 0.5
