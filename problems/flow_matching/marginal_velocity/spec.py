"""Properties of marginal_velocity(x, t, data) = E[(x1 - x) / (1 - t) | x_t = x] for x1 uniform over the rows of
data (m, d), on the path p_t(x | x1) = N(t x1, (1 - t)^2 I)."""

import numpy as np

from grader.spec import assert_close, assert_finite, assert_shape, call_text, given, prop, st, unit_helpers
from grader.strategies import arrays, reals

common = unit_helpers(__file__)

BATCHES = ((), (2,), (2, 3))
# float32 implementations are right: on top of 1e-4 (absolute and relative), tolerances grow with the
# conditioning of the answer, see `expected_and_tolerance`.
ZERO_TOL = 1e-4
REL_TOL = 1e-4


def expected_and_tolerance(x, t, data):
    """v_t(x), computed stably in the grader, and the tolerance a float32 computation deserves.

    v = sum_i w_i u_i with u_i = (x_i - x) / s, s = 1 - t, and w = softmax(logits), logits_i = -|x - t x_i|^2 / (2 s^2).
    Rounding each logit by up to delta = relative max|logit| moves every gap g_i = max logit - logit_i by up to
    2 delta, so the weight w_i / w_max = e^-g_i by up to min(1, e^-g_i expm1(2 delta)), and v by at most the sum of
    those times |u_i - v|. This is about 2 delta sum_i w_i |u_i - v| / w_max when delta is small, and it stays a
    bound when delta is many nats: near t = 1 two data points closer than the rounding can trade places.
    Rounding x and x_i costs relative (|x| + max|x_i|) / s.
    """
    relative = common.FLOAT32_ROUNDING
    s = 1 - t
    weights, residuals = common.posterior(x, t, data)
    logits = -0.5 * (residuals**2).sum(-1) / s**2
    conditional = (data - x[..., None, :]) / s  # (..., m, d)
    answer = (weights[..., None] * conditional).sum(-2)
    delta = relative * np.abs(logits).max(-1)
    gaps = logits.max(-1, keepdims=True) - logits  # >= 0, 0 for the leading point
    moved = np.minimum(1.0, np.exp(-gaps) * np.expm1(np.minimum(2 * delta, 700.0))[..., None])
    weight_rounding = (moved[..., None] * np.abs(conditional - answer[..., None, :])).sum(-2)
    magnitude = (np.abs(x) + np.abs(data).max()) / s
    tolerance = ZERO_TOL + REL_TOL * np.abs(answer) + weight_rounding + relative * magnitude
    return answer, tolerance


def check_against(student, x, t, data, call):
    value = student.marginal_velocity(x, t, data)
    assert_shape(value, x.shape, call=call)
    assert_finite(value, call=call)
    expected, tolerance = expected_and_tolerance(x, t, data)
    assert_close(value, expected, rtol=0, atol=tolerance, what="v_t(x)", call=call)


def near_one():
    """t = 1 - 10^-k, k in [2, 6]: the path has almost reached the data."""
    return reals(2.0, 6.0).map(lambda k: 1.0 - 10.0**-k)


@st.composite
def velocity_arguments(draw, times=None):
    """(x, t, data) with x of shape (*batch, d), points in and out of the data's hull, t in [0, 1)."""
    data = draw(common.data_sets())
    batch = draw(st.sampled_from(BATCHES))
    t = draw(times if times is not None else st.one_of(common.times(), near_one()))
    return draw(arrays((*batch, data.shape[1]), *common.POINTS)), float(t), data


@prop(points=1)
@given(args=velocity_arguments())
def marginal_velocity_has_the_shape_of_x(student, args):
    """The velocity has the shape (..., d) of x: one vector per point."""
    assert_shape(student.marginal_velocity(*args), args[0].shape, call=call_text("marginal_velocity", *args))


@st.composite
def continuity_cases(draw):
    """(x (8, d), t, data): d = 1 or 2, t in [0, 0.9], points in [-4, 4]^d, in and out of the data's hull."""
    data = draw(common.data_sets(dims=(1, 2)))
    t = draw(common.times(high=0.9))
    return draw(arrays((8, data.shape[1]), *common.POINTS)), float(t), data


@prop(points=3, max_examples=25)
@given(case=continuity_cases())
def marginal_velocity_satisfies_the_continuity_equation(student, case):
    """v_t transports the marginal path: d/dt p_t(x) + div(p_t(x) v_t(x)) = 0, checked by finite differences."""
    x, t, data = case
    call = call_text("marginal_velocity", x, t, data) + " at central-difference stencils around x"
    common.check_continuity(lambda points: student.marginal_velocity(points, t, data), x, t, data, call)


@prop(points=1)
@given(args=velocity_arguments(times=st.just(0.0)))
def marginal_velocity_at_time_zero_points_to_the_data_mean(student, args):
    """At t = 0, x_t = x0 says nothing about x1, so v_0(x) = mean(data) - x."""
    x, t, data = args
    call = call_text("marginal_velocity", *args)
    value = student.marginal_velocity(x, t, data)
    assert_finite(value, call=call)
    expected = data.mean(0) - x
    assert_close(value, expected, rtol=REL_TOL, atol=ZERO_TOL + common.FLOAT32_ROUNDING * (np.abs(x) + 2),
                 what="v_0(x)", call=call)


@st.composite
def permutations(draw):
    """(x, t, data, permutation) with at least two data rows."""
    x, t, data = draw(velocity_arguments(times=common.times()))
    data = np.concatenate([data, draw(arrays((1, data.shape[1]), *common.DATA))])
    return x, t, data, np.asarray(draw(st.permutations(range(len(data)))))


@prop(points=1)
@given(case=permutations())
def marginal_velocity_is_invariant_to_permuting_the_data(student, case):
    """The data set is a set: listing its rows in another order gives the same field."""
    x, t, data, permutation = case
    shuffled = data[permutation]
    call = call_text("marginal_velocity", x, t, data) + " vs " + call_text("marginal_velocity", x, t, shuffled)
    first = student.marginal_velocity(x, t, data)
    second = student.marginal_velocity(x, t, shuffled)
    assert_finite(first, call=call)
    assert_finite(second, call=call)
    _, tolerance = expected_and_tolerance(x, t, data)
    assert_close(second, first, rtol=0, atol=2 * tolerance, what="v_t(x) for the permuted data", call=call)


@prop(points=1)
@given(args=velocity_arguments(times=common.times()), shift=arrays((3,), -3.0, 3.0))
def marginal_velocity_follows_translations_of_the_data(student, args, shift):
    """Shifting the data by c shifts the field: v'(x + t c) = v(x) + c when data' = data + c."""
    x, t, data = args
    c = shift[:data.shape[1]]
    moved_x, moved_data = x + t * c, data + c
    call = call_text("marginal_velocity", x, t, data) + " vs " + call_text("marginal_velocity", moved_x, t, moved_data)
    original = student.marginal_velocity(x, t, data)
    moved = student.marginal_velocity(moved_x, t, moved_data)
    assert_finite(original, call=call)
    assert_finite(moved, call=call)
    tolerance = expected_and_tolerance(x, t, data)[1] + expected_and_tolerance(moved_x, t, moved_data)[1]
    assert_close(moved, original + c, rtol=0, atol=tolerance, what="v'(x + t c) vs v(x) + c", call=call)


@st.composite
def extreme_arguments(draw):
    """(x, t, data): t within 1e-2..1e-6 of 1 with x anywhere in [-4, 4]^d, or x at distance 40..100 from the
    origin at any t: either way every Gaussian weight exp(logit) underflows somewhere."""
    data = draw(common.data_sets())
    batch = draw(st.sampled_from(BATCHES))
    d = data.shape[1]
    if draw(st.booleans()):
        return draw(arrays((*batch, d), *common.POINTS)), float(draw(near_one())), data
    directions = draw(arrays((*batch, d), -1.0, 1.0).filter(lambda a: np.all(np.linalg.norm(a, axis=-1) > 0.1)))
    radius = draw(reals(40.0, 100.0))
    x = radius * directions / np.linalg.norm(directions, axis=-1, keepdims=True)
    return x, float(draw(st.one_of(common.times(), near_one()))), data


@prop(points=1)
@given(args=extreme_arguments())
def marginal_velocity_is_finite_near_t_1_and_far_from_the_data(student, args):
    """For t close to 1 and far from the data (all Gaussian weights underflow) v_t is finite and exact."""
    check_against(student, *args, call=call_text("marginal_velocity", *args))


@prop(points=2)
@given(args=velocity_arguments())
def marginal_velocity_matches_reference(student, reference, args):
    """v_t(x) agrees with the reference solution to float32 precision."""
    _, tolerance = expected_and_tolerance(*args)
    assert_close(student.marginal_velocity(*args), reference.marginal_velocity(*args), rtol=0, atol=tolerance,
                 call=call_text("marginal_velocity", *args))
