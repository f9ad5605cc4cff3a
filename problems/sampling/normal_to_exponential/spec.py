"""Properties of normal_to_exponential(z, rate) = F^{-1}(Phi(z)) = -log(1 - Phi(z)) / rate, elementwise.

Deterministic: the exact values are computed in the grader as -log Phi(-z) / rate with scipy's log_ndtr, which keeps
its relative accuracy in both tails (log Phi(-z) ~ -z^2 / 2 for z = 30, ~ -Phi(z) = -5e-198 for z = -30).
"""

import numpy as np
from scipy.special import log_ndtr

from grader.spec import FLOAT32_HALF_ULP, assert_all, assert_close, assert_finite, assert_shape, call_text, given, prop, st
from grader.strategies import arrays

LOG_RATES = (np.log(0.1), np.log(10.0))
SHAPES = ((), (1,), (5,), (2, 3), (2, 1, 4))
BULK = (-6.0, 6.0)
TAIL = (5.0, 30.0)
# float32 implementations are right in the bulk: a well-conditioned formula carries ~1e-7 relative error there.
# (Computing 1 - Phi(z) in float32 first loses 4% of 1 - Phi(5): that formula is not well-conditioned.) The small
# absolute slack, 1e-6 of the mean 1/rate, covers float32's absolute rounding of values near 0.
BULK_RTOL = 1e-5
BULK_ATOL = 1e-6
# The tails are the point of |z| <= 30: relative accuracy throughout, from 5e-198 / rate to 454 / rate, on top of
# what float32 rounding costs (see `tail_tolerance`).
TAIL_RTOL = 1e-6
# float32 rounding, amplified by the conditioning of x(z): the relative condition number |z x'(z) / x(z)| is
# about 2 in the upper tail (x ~ z^2 / 2) but about z^2 in the lower one (x ~ Phi(z), d log x / d log z ~ -z^2):
# 36 at z = -6, 900 at z = -30. Rounding z to float32 (2^-24 relative) and the float32 evaluation of log Phi(-z)
# (its argument z / sqrt(2) rounded inside erfc, a few ulps of its own) cost up to 3 * 2^-24 * (1 + cond) relative
# (measured with torch's float32 log_ndtr on 470000 points of [-30, 30]); allow 8 * 2^-24 * (1 + cond).
FLOAT32_ROUNDINGS = 8
# Below float32's smallest normal number (2^-126 = 1.2e-38) a float32 value has absolute rounding, and a correct
# float32 computation of log Phi(-z) underflows for z < -13.2 (5e-198 at z = -30 is not representable); dividing by a
# rate < 1 magnifies that absolute error by 1 / rate. Every catalogued mistake is off by far more than this.
FLOAT32_TINY = float(np.finfo(np.float32).tiny)
# Probabilists' Gauss-Hermite quadrature with 60 nodes (|z| <= 14.4) integrates E[x(Z)] and E[x(Z)^2] for the exact
# map to 1e-15: the mean 1/rate and second moment 2/rate^2 of Exponential(rate).
NODES, QUADRATURE_WEIGHTS = np.polynomial.hermite_e.hermegauss(60)
QUADRATURE_WEIGHTS = QUADRATURE_WEIGHTS / QUADRATURE_WEIGHTS.sum()
MOMENT_RTOL = 1e-5


def exact(z, rate):
    """-log(1 - Phi(z)) / rate = -log Phi(-z) / rate, accurate for every finite z."""
    return -log_ndtr(-z) / rate


def condition_number(z):
    """|z x'(z) / x(z)| for x(z) = -log Phi(-z): x'(z) = phi(z) / Phi(-z), both evaluated in log space."""
    log_survival = log_ndtr(-z)
    hazard = np.exp(-0.5 * z**2 - 0.5 * np.log(2 * np.pi) - log_survival)  # phi(z) / Phi(-z)
    return np.abs(z) * hazard / -log_survival


def tail_tolerance(z, rate):
    """Absolute tolerance per entry: TAIL_RTOL relative, plus float32 rounding amplified by the conditioning, plus
    float32's absolute rounding below its normal range (see the constants)."""
    z = np.asarray(z, dtype=np.float64)
    relative = TAIL_RTOL + FLOAT32_ROUNDINGS * FLOAT32_HALF_ULP * (1 + condition_number(z))
    return relative * np.abs(exact(z, rate)) + FLOAT32_TINY * max(1.0, 1.0 / rate)


@st.composite
def rates(draw):
    """rate (Python float) in [0.1, 10], log-uniform."""
    return float(np.exp(draw(st.floats(*LOG_RATES))))


def transformed(student, z, rate):
    call = call_text("normal_to_exponential", z, rate)
    x = student.normal_to_exponential(z, rate)
    assert_shape(x, np.shape(z), call=call)
    return x, call


@st.composite
def tail_points(draw):
    """z in [-30, -5] and [5, 30] (both ends included, and |z| = 12, where 1 - Phi(z) rounds to 0 or 1 in float64 but
    the answer, 1.8e-33 / rate at z = -12, is within float32's range), as a 1-d array."""
    inner = draw(arrays((draw(st.integers(0, 6)),), *TAIL))
    magnitudes = np.concatenate([[TAIL[1], TAIL[0], 12.0], inner])
    return np.concatenate([magnitudes, -magnitudes])


@prop(points=1, max_examples=20)
@given(shape=st.sampled_from(SHAPES), data=st.data(), rate=rates())
def normal_to_exponential_keeps_the_shape_of_z(student, shape, data, rate):
    """The result has the shape of z (elementwise map), also for a 0-d z."""
    z = data.draw(arrays(shape, *BULK))
    x, call = transformed(student, z, rate)
    assert_finite(x, call=call)


@prop(points=3)
@given(shape=st.sampled_from(SHAPES[1:]), data=st.data(), rate=rates())
def normal_to_exponential_is_the_exponential_quantile_of_phi(student, shape, data, rate):
    """x = -log(1 - Phi(z)) / rate for |z| <= 6: the Exponential(rate) quantile of the probability Phi(z)."""
    z = data.draw(arrays(shape, *BULK))
    x, call = transformed(student, z, rate)
    assert_close(x, exact(z, rate), rtol=BULK_RTOL, atol=BULK_ATOL / rate, call=call)


@prop(points=2, max_examples=20)
@given(z=tail_points(), rate=rates())
def normal_to_exponential_is_accurate_in_both_tails(student, z, rate):
    """Relative accuracy 1e-6 (plus float32 rounding) for 5 <= |z| <= 30: finite at z = 30, 5e-198 / rate at z = -30.

    Below float32's range (z < -13.2, e.g. 5e-198 / rate at z = -30) a float32 answer may round to 0; z = -12 (answer
    1.8e-33 / rate) is always tested."""
    x, call = transformed(student, z, rate)
    assert_finite(x, call=call)
    assert_close(x, exact(z, rate), rtol=0.0, atol=tail_tolerance(z, rate), call=call)


@prop(points=2, max_examples=20)
@given(jitter=arrays((601,), -0.04, 0.04), rate=rates())
def normal_to_exponential_is_increasing(student, jitter, rate):
    """x >= 0 is non-decreasing in z on [-30, 30], strictly increasing for |z| <= 6, and log(2) / rate at z = 0."""
    z = np.sort(np.clip(np.linspace(-30.0, 30.0, 601) + jitter, -30.0, 30.0))
    x, call = transformed(student, z, rate)
    assert_finite(x, call=call)
    assert_all(x >= 0, "exponential draws are >= 0", x=x[x < 0], call=call)
    steps = np.diff(x)
    assert_all(steps >= 0, "the map must be non-decreasing in z (larger normal draws give larger exponential "
               "draws)", z=z[1:][steps < 0][:4], step=steps[steps < 0][:4], call=call)
    bulk = (np.abs(z[1:]) <= BULK[1]) & (np.abs(z[:-1]) <= BULK[1])
    assert_all(steps[bulk] > 0, "the map must be strictly increasing for |z| <= 6",
               z=z[1:][bulk][steps[bulk] <= 0][:4], call=call)
    median, call_median = transformed(student, np.asarray(0.0), rate)
    assert_close(median, np.log(2) / rate, rtol=BULK_RTOL, atol=0.0, what="the value at z = 0 (the median)",
                 call=call_median)


@prop(points=1, max_examples=20)
@given(rate=rates())
def normal_to_exponential_has_mean_one_over_rate(student, rate):
    """For Z ~ N(0, 1), x(Z) has mean 1/rate and second moment 2/rate^2 (Gauss-Hermite quadrature over z)."""
    x, call = transformed(student, NODES, rate)
    assert_finite(x, call=call)
    assert_close(QUADRATURE_WEIGHTS @ x, 1 / rate, rtol=MOMENT_RTOL, atol=0.0, what="E[x(Z)]", call=call)
    assert_close(QUADRATURE_WEIGHTS @ x**2, 2 / rate**2, rtol=MOMENT_RTOL, atol=0.0, what="E[x(Z)^2]", call=call)


@prop(points=1, max_examples=20)
@given(z=arrays((12,), -30.0, 30.0), rate=rates())
def normal_to_exponential_matches_reference(student, reference, z, rate):
    """x agrees with the reference solution (relative accuracy 1e-6, plus float32 rounding) for |z| <= 30."""
    x, call = transformed(student, z, rate)
    assert_close(x, reference.normal_to_exponential(z, rate), rtol=0.0, atol=tail_tolerance(z, rate), call=call)
