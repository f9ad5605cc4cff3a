"""Properties of q_sample(x0, t, betas, eps) = sqrt(abar_t) x0 + sqrt(1 - abar_t) eps."""

import numpy as np

from grader.spec import assert_all, assert_close, assert_finite, assert_shape, call_text, given, prop, st, unit_helpers
from grader.strategies import arrays, reals

common = unit_helpers(__file__)
schedules, alpha_bars = common.schedules, common.alpha_bars

SHAPES = ((3,), (2, 3), (4, 1), (2, 2, 2))
DATA = (-5.0, 5.0)
# float32 implementations are right: x_t is accurate to about 1e-6 relative to |x0| + |eps| (sqrt(1 - abar_t)
# computed as 1 - abar_t in float32 loses up to 2e-4 relative at abar_t = 1 - 1e-4, on a term of size 1e-2).
ZERO_TOL = 1e-4
REL_TOL = 1e-4


@st.composite
def sample_arguments(draw, max_steps=50):
    """(x0, t, betas, eps) with t anywhere in 1..T, ends included."""
    betas = draw(schedules(max_steps=max_steps))
    shape = draw(st.sampled_from(SHAPES))
    t = draw(st.integers(1, len(betas)))
    return draw(arrays(shape, *DATA)), t, betas, draw(arrays(shape, -3.0, 3.0))


@prop(points=1)
@given(args=sample_arguments())
def q_sample_has_the_shape_of_x0(student, args):
    """x_t has the shape of x0 (and eps)."""
    assert_shape(student.q_sample(*args), args[0].shape, call=call_text("q_sample", *args))


@st.composite
def chains(draw):
    """(x0, t, betas, noises): noises (t, *shape) for t one-step transitions from x0."""
    x0, t, betas, _ = draw(sample_arguments())
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    return x0, t, betas, rng.standard_normal((t, *x0.shape))


@prop(points=3)
@given(case=chains())
def q_sample_matches_composing_t_one_step_kernels(student, case):
    """t steps x_s = sqrt(1 - beta_s) x_{s-1} + sqrt(beta_s) e_s land where q_sample puts x0 with the equivalent eps."""
    x0, t, betas, noises = case
    x = x0
    for step in range(t):
        x = np.sqrt(1 - betas[step]) * x + np.sqrt(betas[step]) * noises[step]
    abar = alpha_bars(betas)[t]
    # The accumulated noise is Gaussian with variance 1 - abar_t: this is the one eps that reaches x.
    eps = (x - np.sqrt(abar) * x0) / np.sqrt(1 - abar)
    call = call_text("q_sample", x0, t, betas, eps) + f" vs {t} one-step transitions"
    x_t = student.q_sample(x0, t, betas, eps)
    assert_finite(x_t, call=call)
    assert_close(x_t, x, rtol=REL_TOL, atol=ZERO_TOL, what="x_t", call=call)


@prop(points=2)
@given(args=sample_arguments())
def q_sample_is_a_variance_preserving_combination(student, args):
    """x_t = a x0 + c eps with a, c >= 0 and a^2 + c^2 = 1: unit-variance data stay unit-variance."""
    x0, t, betas, eps = args
    ones, zeros = np.ones_like(x0), np.zeros_like(x0)
    signal = student.q_sample(ones, t, betas, zeros)
    noise = student.q_sample(zeros, t, betas, ones)
    call = call_text("q_sample", ones, t, betas, zeros) + " and " + call_text("q_sample", zeros, t, betas, ones)
    assert_finite(signal, call=call, what="the coefficient of x0")
    assert_finite(noise, call=call, what="the coefficient of eps")
    assert_all((signal >= 0) & (noise >= 0), "the coefficients of x0 and eps must be >= 0",
               coefficient_of_x0=signal, coefficient_of_eps=noise, call=call)
    assert_close(signal**2 + noise**2, ones, rtol=0, atol=ZERO_TOL, what="a^2 + c^2", call=call)
    combined = student.q_sample(x0, t, betas, eps)
    assert_close(combined, signal * x0 + noise * eps, rtol=REL_TOL, atol=ZERO_TOL, what="x_t vs a x0 + c eps",
                 call=call_text("q_sample", x0, t, betas, eps))


@st.composite
def schedule_ends(draw):
    """(x0, betas, eps) with a T = 1000 linear schedule, to test t = 1 and t = T."""
    betas = np.linspace(draw(reals(5e-5, 2e-4)), draw(reals(0.01, 0.03)), 1000)
    shape = draw(st.sampled_from(SHAPES))
    return draw(arrays(shape, *DATA)), betas, draw(arrays(shape, -3.0, 3.0))


@prop(points=2, max_examples=20)
@given(case=schedule_ends())
def q_sample_is_right_at_both_ends_of_the_schedule(student, case):
    """At t = 1, x_1 = sqrt(1 - beta_1) x0 + sqrt(beta_1) eps; at t = T, x_T is almost pure noise, exactly as abar_T says."""
    x0, betas, eps = case
    first = np.sqrt(1 - betas[0]) * x0 + np.sqrt(betas[0]) * eps
    assert_close(student.q_sample(x0, 1, betas, eps), first, rtol=REL_TOL, atol=ZERO_TOL, what="x_1",
                 call=call_text("q_sample", x0, 1, betas, eps))
    T = len(betas)
    abar = np.exp(np.log1p(-betas).sum())
    last = np.sqrt(abar) * x0 + np.sqrt(1 - abar) * eps
    assert_close(student.q_sample(x0, T, betas, eps), last, rtol=REL_TOL, atol=ZERO_TOL, what=f"x_T (T = {T})",
                 call=call_text("q_sample", x0, T, betas, eps))


@prop(points=2)
@given(args=sample_arguments())
def q_sample_matches_reference(student, reference, args):
    """x_t agrees with the reference solution to float32 precision."""
    assert_close(student.q_sample(*args), reference.q_sample(*args), rtol=REL_TOL, atol=ZERO_TOL,
                 call=call_text("q_sample", *args))
