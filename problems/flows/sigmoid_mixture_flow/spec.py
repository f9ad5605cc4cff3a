"""Properties of sigmoid_mixture_flow(z, w, a, b) -> (y, dy/dz), y = logit(sum_i w_i sigmoid(a_i z + b_i))."""

import numpy as np
from scipy.special import log_expit, logsumexp

from grader.spec import assert_all, assert_close, assert_finite, assert_shape, call_text, given, prop, st, unit_helpers
from grader.strategies import arrays, reals

common = unit_helpers(__file__)

SHAPES = ((), (1,), (5,), (2, 3))
MODERATE = (-3.0, 3.0)  # with |a| <= 2 and |b| <= 2: the mixture stays in [3e-4 w_min, 1 - 3e-4 w_min]
TAILS = (40.0, 100.0)
# float32 implementations are right: relative rounding of y and of the mixture S (logit amplifies an error in S
# by 1 / (S (1 - S))), with a margin.
EPS = 1e-6


def closed_form(z, w, a, b):
    """y, dy/dz and S (1 - S) in float64, from log-sum-exps (no cancellation in the tails)."""
    logits = a * z[..., None] + b
    log_s = logsumexp(np.log(w) + log_expit(logits), axis=-1)
    log_one_minus_s = logsumexp(np.log(w) + log_expit(-logits), axis=-1)
    log_slope = logsumexp(np.log(w * a) + log_expit(logits) + log_expit(-logits), axis=-1)
    return log_s - log_one_minus_s, np.exp(log_slope - log_s - log_one_minus_s), np.exp(log_s + log_one_minus_s)


@st.composite
def mixtures(draw, n=None, slopes=(0.2, 2.0), shifts=(-2.0, 2.0)):
    """(w, a, b) with N components, weights at least 0.05 / N before normalising."""
    n = draw(st.integers(1, 4)) if n is None else n
    raw = draw(arrays((n,), 0.05, 1.0))
    return raw / raw.sum(), draw(arrays((n,), *slopes)), draw(arrays((n,), *shifts))


@st.composite
def cases(draw, values=MODERATE):
    shape = draw(st.sampled_from(SHAPES))
    return (draw(arrays(shape, *values)), *draw(mixtures()))


@st.composite
def tail_cases(draw):
    """z of size 40 to 100 with either sign and slopes a_i >= 1: every a_i z + b_i beyond 38 in size, where
    sigmoid rounds to exactly 0 or 1 in float64."""
    shape = draw(st.sampled_from(SHAPES[1:]))
    z = draw(arrays(shape, *TAILS)) * draw(arrays(shape, -1.0, 1.0).map(np.sign).filter(lambda s: (s != 0).all()))
    return (z, *draw(mixtures(slopes=(1.0, 3.0))))


def _flow(student, z, w, a, b):
    call = call_text("sigmoid_mixture_flow", z, w, a, b)
    y, slope = common.pair(student.sigmoid_mixture_flow(z, w, a, b), "(y, dy/dz)", call)
    assert_shape(y, z.shape, call=call, what="y")
    assert_shape(slope, z.shape, call=call, what="dy/dz")
    return y, slope, call


def tolerances(z, w, a, b):
    """Absolute tolerances on y and on dy/dz."""
    y, slope, spread = closed_form(z, w, a, b)
    return EPS * (1 + np.abs(y) + 1 / spread), EPS * (1 + 1 / spread) * (1 + slope)


@prop(points=1)
@given(case=cases())
def sigmoid_mixture_flow_returns_y_and_slope_shaped_like_z(student, case):
    """y and dy/dz have the shape of z (the flow acts elementwise)."""
    _flow(student, *case)


@prop(points=1)
@given(z=arrays((6,), *MODERATE), mixture=mixtures(n=1, slopes=(0.2, 3.0), shifts=(-3.0, 3.0)))
def sigmoid_mixture_flow_with_one_component_is_affine(student, z, mixture):
    """With one component, logit(sigmoid(a z + b)) = a z + b and dy/dz = a."""
    w, a, b = mixture
    y, slope, call = _flow(student, z, w, a, b)
    tol_y, tol_slope = tolerances(z, w, a, b)
    assert_close(y, a[0] * z + b[0], rtol=0, atol=tol_y, what="y", call=call)
    assert_close(slope, np.full_like(z, a[0]), rtol=0, atol=tol_slope, what="dy/dz", call=call)


@prop(points=2)
@given(case=cases())
def sigmoid_mixture_flow_is_the_logit_of_the_mixture(student, case):
    """y = logit(S) for S = sum_i w_i sigmoid(a_i z + b_i)."""
    z, w, a, b = case
    y, _, call = _flow(student, z, w, a, b)
    assert_close(y, closed_form(z, w, a, b)[0], rtol=0, atol=tolerances(z, w, a, b)[0], what="y", call=call)


@prop(points=1)
@given(start=reals(-3.0, 2.0), mixture=mixtures())
def sigmoid_mixture_flow_is_strictly_increasing(student, start, mixture):
    """y increases strictly along an increasing grid of z, and dy/dz > 0."""
    z = start + 0.05 * np.arange(21)
    y, slope, call = _flow(student, z, *mixture)
    assert_all(np.diff(y) > 0, "y must increase strictly with z", y=y, call=call)
    assert_all(slope > 0, "dy/dz must be positive", slope=slope, call=call)


@prop(points=2)
@given(case=cases())
def sigmoid_mixture_flow_derivative_matches_finite_differences(student, case):
    """dy/dz equals the central difference (y(z + h) - y(z - h)) / 2h of your y, h = 1e-3."""
    z, w, a, b = case
    step = 1e-3
    _, slope, call = _flow(student, z, w, a, b)
    above, _, _ = _flow(student, z + step, w, a, b)
    below, _, _ = _flow(student, z - step, w, a, b)
    numerical = (above - below) / (2 * step)
    # truncation h^2 |y'''| / 6 (below 1e-4 for slopes a_i <= 2) and the rounding of y, divided by the step.
    tol = 2e-4 + tolerances(z, w, a, b)[0] / step + 1e-4 * np.abs(slope)
    assert_finite(numerical, call=call, what="the finite differences of y")
    assert_close(slope, numerical, rtol=0, atol=tol, what="dy/dz (vs finite differences)", call=call)


@prop(points=1)
@given(case=tail_cases())
def sigmoid_mixture_flow_is_finite_in_the_tails(student, case):
    """For |z| from 40 to 100 (the mixture within rounding of 0 or 1) y and dy/dz stay finite and exact."""
    z, w, a, b = case
    y, slope, call = _flow(student, z, w, a, b)
    expected_y, expected_slope, _ = closed_form(z, w, a, b)
    assert_finite(y, call=call, what="y")
    assert_finite(slope, call=call, what="dy/dz")
    assert_close(y, expected_y, rtol=1e-5, atol=1e-5, what="y", call=call)
    assert_close(slope, expected_slope, rtol=1e-4, atol=1e-6, what="dy/dz", call=call)


@prop(points=2)
@given(case=cases())
def sigmoid_mixture_flow_matches_reference(student, reference, case):
    """y and dy/dz agree with the reference solution to float32 precision."""
    z, w, a, b = case
    y, slope, call = _flow(student, z, w, a, b)
    expected_y, expected_slope = reference.sigmoid_mixture_flow(z, w, a, b)
    tol_y, tol_slope = tolerances(z, w, a, b)
    assert_close(y, expected_y, rtol=0, atol=tol_y, what="y", call=call)
    assert_close(slope, expected_slope, rtol=0, atol=tol_slope, what="dy/dz", call=call)
