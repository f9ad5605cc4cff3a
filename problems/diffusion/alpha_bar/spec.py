"""Properties of alpha_bar(betas) -> (T+1,) tensor abar_0..abar_T, abar_t = prod_{s<=t} (1 - beta_s), abar_0 = 1."""

import numpy as np

from grader.spec import assert_all, assert_close, assert_finite, assert_shape, call_text, given, prop, st, unit_helpers
from grader.strategies import reals

common = unit_helpers(__file__)
schedules, alpha_bars = common.schedules, common.alpha_bars

# float32 implementations are right: a cumulative product over T factors accumulates about T * 6e-8
# relative rounding (6e-5 for T = 1000); the catalogued mistakes are off by more than 1% relative.
REL_TOL = 2e-4
ZERO_TOL = 1e-9


def _alpha_bar(student, betas):
    """The student's abar, checked for shape (T+1,) and finiteness."""
    call = call_text("alpha_bar", betas)
    abar = student.alpha_bar(betas)
    assert_shape(abar, (len(betas) + 1,), call=call, what="alpha_bar(betas) (abar_0..abar_T)")
    assert_finite(abar, call=call)
    return abar, call


@prop(points=1)
@given(betas=schedules())
def alpha_bar_has_T_plus_1_entries(student, betas):
    """alpha_bar(betas) has T + 1 entries, abar_0 to abar_T, for T = len(betas)."""
    _alpha_bar(student, betas)


@prop(points=2)
@given(betas=schedules())
def alpha_bar_starts_at_one_and_decreases(student, betas):
    """abar_0 = 1 (no noise yet), and abar_t decreases strictly and stays in (0, 1]."""
    abar, call = _alpha_bar(student, betas)
    assert_close(abar[0], 1.0, rtol=0, atol=1e-6, what="abar_0", call=call)
    assert_all(abar > 0, "abar_t must be > 0", abar=abar, call=call)
    assert_all(abar[1:] < abar[:-1], "abar_t must decrease strictly with t", abar=abar, call=call)


@prop(points=3)
@given(betas=schedules())
def alpha_bar_satisfies_the_recursion(student, betas):
    """abar_t = abar_{t-1} (1 - beta_t) for every t = 1..T."""
    abar, call = _alpha_bar(student, betas)
    assert_close(abar[1:], abar[:-1] * (1 - betas), rtol=REL_TOL, atol=ZERO_TOL,
                 what="abar_t (entry t-1 of abar[1:]) vs abar_{t-1} (1 - beta_t)", call=call)


@prop(points=1)
@given(first=schedules(max_steps=20), second=schedules(max_steps=20))
def alpha_bar_of_concatenated_schedules_multiplies(student, first, second):
    """Running one schedule after another multiplies the signal levels: abar(b1 + b2)[T1 + t] = abar(b1)[T1] abar(b2)[t]."""
    both = np.concatenate([first, second])
    abar_first, _ = _alpha_bar(student, first)
    abar_second, _ = _alpha_bar(student, second)
    abar_both, call = _alpha_bar(student, both)
    assert_close(abar_both[len(first):], abar_first[-1] * abar_second, rtol=REL_TOL, atol=ZERO_TOL,
                 what="abar of the concatenated schedule from T1 on", call=call)


@st.composite
def long_schedules(draw):
    """T = 1000: the linear schedule of Ho et al. (2020) or the cosine schedule of Nichol & Dhariwal (2021)."""
    steps = 1000
    if draw(st.booleans()):
        return np.linspace(draw(reals(5e-5, 2e-4)), draw(reals(0.01, 0.03)), steps)
    return common.cosine_schedule(steps)


@prop(points=1, max_examples=10)
@given(betas=long_schedules())
def alpha_bar_is_accurate_for_long_schedules(student, betas):
    """For T = 1000 steps every abar_t is accurate to float32 precision, down to the smallest."""
    abar, call = _alpha_bar(student, betas)
    expected = np.exp(np.concatenate([[0.0], np.cumsum(np.log1p(-betas))]))
    assert_close(abar, expected, rtol=REL_TOL, atol=ZERO_TOL * 1e-3, call=call)


@prop(points=2)
@given(betas=schedules())
def alpha_bar_matches_reference(student, reference, betas):
    """abar_0..abar_T agree with the reference solution to float32 precision."""
    call = call_text("alpha_bar", betas)
    assert_close(student.alpha_bar(betas), reference.alpha_bar(betas), rtol=REL_TOL, atol=ZERO_TOL, call=call)
