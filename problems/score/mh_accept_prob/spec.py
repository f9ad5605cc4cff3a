"""Properties of mh_accept_prob(log_p_current, log_p_proposal) = min(1, exp(log_p_proposal - log_p_current))."""

import numpy as np

from grader.spec import FLOAT32_HALF_ULP, assert_all, assert_close, assert_finite, assert_shape, call_text, given, prop, st
from grader.strategies import arrays, broadcastable_shapes

LOG_DENSITIES = (-50.0, 50.0)
LARGE_LOG_DENSITIES = (-1e4, 1e4)
ZERO_TOL = 1e-12
REL_TOL = 1e-5
# Each log-density a float32 computation reads is rounded by up to 2^-24 of its magnitude: the difference, and so
# the exponent, moves by 2^-24 (|log p| + |log p'|), the ratio by that much relative.


def expected_and_tolerance(log_p_current, log_p_proposal):
    """min(1, exp(difference)) in float64 (exact where the difference is -inf) and a float32-aware tolerance."""
    with np.errstate(invalid="ignore"):
        difference = np.asarray(log_p_proposal - log_p_current, dtype=np.float64)
    answer = np.exp(np.minimum(difference, 0.0))
    magnitude = np.where(np.isfinite(log_p_proposal), np.abs(log_p_proposal), 0.0) + np.abs(log_p_current)
    return answer, ZERO_TOL + (REL_TOL + 2 * FLOAT32_HALF_ULP * magnitude) * answer


@st.composite
def log_density_pairs(draw, bounds=LOG_DENSITIES):
    """(log_p_current, log_p_proposal) with broadcastable shapes."""
    shapes = draw(broadcastable_shapes(2))
    return tuple(draw(arrays(shape, *bounds)) for shape in shapes.input_shapes)


def student_prob(student, log_p_current, log_p_proposal):
    call = call_text("mh_accept_prob", log_p_current, log_p_proposal)
    value = student.mh_accept_prob(log_p_current, log_p_proposal)
    assert_shape(value, np.broadcast_shapes(np.shape(log_p_current), np.shape(log_p_proposal)), call=call)
    assert_finite(value, call=call, what="the acceptance probability")
    return value, call


@prop(points=2)
@given(args=log_density_pairs(bounds=(-800.0, 800.0)))
def mh_accept_prob_is_a_probability(student, args):
    """The result has the broadcast shape of the arguments and lies in [0, 1], also for differences of 1000s."""
    value, call = student_prob(student, *args)
    assert_all((value >= 0) & (value <= 1), "an acceptance probability must lie in [0, 1]", value=value, call=call)


@prop(points=2)
@given(args=log_density_pairs())
def mh_accept_prob_is_the_capped_density_ratio(student, args):
    """More likely proposals are always accepted (1); less likely ones with probability p(proposal) / p(current)."""
    value, call = student_prob(student, *args)
    expected, tolerance = expected_and_tolerance(*np.broadcast_arrays(*args))
    assert_close(value, expected, rtol=0, atol=tolerance, what="min(1, p(proposal) / p(current))", call=call)


@prop(points=2)
@given(args=log_density_pairs())
def mh_accept_prob_satisfies_detailed_balance(student, args):
    """For a symmetric proposal, p(x) a(x -> y) = p(y) a(y -> x): the chain's flow between any two states balances."""
    log_p_x, log_p_y = np.broadcast_arrays(*args)
    forward, call = student_prob(student, log_p_x, log_p_y)
    backward, back_call = student_prob(student, log_p_y, log_p_x)
    # Both sides divided by max(p(x), p(y)), so that they stay in [0, 1] whatever the log-densities.
    top = np.maximum(log_p_x, log_p_y)
    flow_forward = np.exp(log_p_x - top) * forward
    flow_backward = np.exp(log_p_y - top) * backward
    _, tolerance = expected_and_tolerance(log_p_x, log_p_y)
    assert_close(flow_forward, flow_backward, rtol=0, atol=2 * tolerance + 2 * ZERO_TOL,
                 what="p(x) a(x -> y) / max(p(x), p(y))", call=f"{call} and {back_call}")


@prop(points=1)
@given(log_p_current=arrays((4,), *LOG_DENSITIES), outside=st.lists(st.booleans(), min_size=4, max_size=4))
def mh_accept_prob_never_accepts_a_proposal_outside_the_support(student, log_p_current, outside):
    """A proposal of log-density -inf (outside the support) is accepted with probability exactly 0."""
    outside = np.array(outside)
    outside[0] = True
    log_p_proposal = np.where(outside, -np.inf, log_p_current - 1.0)
    value, call = student_prob(student, log_p_current, log_p_proposal)
    expected, tolerance = expected_and_tolerance(log_p_current, log_p_proposal)
    assert_close(value, expected, rtol=0, atol=tolerance, what="the acceptance probability", call=call)


@st.composite
def large_log_densities(draw):
    """(log_p_current, log_p_proposal) of magnitude up to 1e4, half the pairs within 30 of each other (a ratio
    that matters), the others up to 2e4 apart."""
    shape = draw(st.sampled_from(((2,), (3, 2), (2, 2, 2))))
    log_p_current = draw(arrays(shape, *LARGE_LOG_DENSITIES))
    close = log_p_current + draw(arrays(shape, -30.0, 30.0))
    far = draw(arrays(shape, *LARGE_LOG_DENSITIES))
    return log_p_current, np.where(np.arange(np.prod(shape)).reshape(shape) % 2 == 0, close, far)


@prop(points=1)
@given(args=large_log_densities())
def mh_accept_prob_is_exact_for_log_densities_of_magnitude_1e4(student, args):
    """Log-densities around +-1e4 (where p itself under- or overflows) give the exact, finite probability."""
    value, call = student_prob(student, *args)
    expected, tolerance = expected_and_tolerance(*args)
    assert_close(value, expected, rtol=0, atol=tolerance, what="min(1, exp(log_p_proposal - log_p_current))", call=call)


@prop(points=2)
@given(args=log_density_pairs(bounds=(-800.0, 800.0)))
def mh_accept_prob_matches_reference(student, reference, args):
    """The acceptance probability agrees with the reference solution to float32 precision."""
    _, tolerance = expected_and_tolerance(*np.broadcast_arrays(*args))
    assert_close(student.mh_accept_prob(*args), reference.mh_accept_prob(*args), rtol=0, atol=tolerance,
                 call=call_text("mh_accept_prob", *args))
