"""Properties of conditional_velocity(x, x1, t) = (x1 - x) / (1 - t), the velocity of the path
x_t = (1 - t) x0 + t x1 whose marginal given x1 is p_t(x | x1) = N(t x1, (1 - t)^2 I)."""

import numpy as np

from grader.spec import assert_close, assert_finite, assert_shape, call_text, given, prop, st, unit_helpers
from grader.strategies import arrays, broadcastable_shapes

common = unit_helpers(__file__)

# float32 implementations are right: the answer is accurate to about 1e-6 relative to (|x| + |x1|) / (1 - t).
ZERO_TOL = 1e-4
REL_TOL = 1e-4


def tolerance(x, x1, t):
    return ZERO_TOL + REL_TOL * np.abs(x1 - x) / (1 - t) + common.FLOAT32_ROUNDING * (np.abs(x) + np.abs(x1)) / (1 - t)


@st.composite
def broadcast_arguments(draw):
    """(x, x1, t) with shapes (..., d) that broadcast together (d >= 1) and t in [0, 0.95]."""
    shapes = draw(broadcastable_shapes(2, min_dims=1, max_dims=3))
    d = draw(st.integers(1, 3))
    x_shape, x1_shape = ((*shape[:-1], d) for shape in shapes.input_shapes)
    return (draw(arrays(x_shape, *common.POINTS)), draw(arrays(x1_shape, *common.DATA)),
            float(draw(common.times())))


@prop(points=1)
@given(args=broadcast_arguments())
def conditional_velocity_broadcasts_x_and_x1(student, args):
    """The velocity has the broadcast shape of x and x1."""
    x, x1, _ = args
    assert_shape(student.conditional_velocity(*args), np.broadcast_shapes(x.shape, x1.shape),
                 call=call_text("conditional_velocity", *args))


@st.composite
def paths(draw):
    """(x0, x1, t): n = 6 pairs of a noise point x0 and a data point x1 in d = 1..3 dimensions, t in [0, 0.95]."""
    d = draw(st.integers(1, 3))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    return rng.standard_normal((6, d)), draw(arrays((6, d), *common.DATA)), float(draw(common.times()))


@prop(points=3)
@given(case=paths())
def conditional_velocity_is_the_time_derivative_of_the_path(student, case):
    """Along x_t = (1 - t) x0 + t x1 the velocity at x_t is d x_t / dt = x1 - x0."""
    x0, x1, t = case
    x_t = (1 - t) * x0 + t * x1
    call = call_text("conditional_velocity", x_t, x1, t) + " at x_t = (1 - t) x0 + t x1"
    value = student.conditional_velocity(x_t, x1, t)
    assert_finite(value, call=call)
    assert_close(value, x1 - x0, rtol=0, atol=tolerance(x_t, x1, t), what="u_t(x_t | x1) vs x1 - x0", call=call)


@st.composite
def continuity_cases(draw):
    """(x (8, d), x1 (d,), t): d = 1 or 2, t in [0, 0.9], points in [-4, 4]^d."""
    d = draw(st.sampled_from((1, 2)))
    return draw(arrays((8, d), *common.POINTS)), draw(arrays((d,), *common.DATA)), float(draw(common.times(0.9)))


@prop(points=3, max_examples=25)
@given(case=continuity_cases())
def conditional_velocity_satisfies_the_continuity_equation(student, case):
    """u_t(. | x1) transports p_t(x | x1): d/dt p_t(x | x1) + div(p_t(x | x1) u_t(x | x1)) = 0, by finite differences."""
    x, x1, t = case
    call = call_text("conditional_velocity", x, x1, t) + " at central-difference stencils around x"
    common.check_continuity(lambda points: student.conditional_velocity(points, x1, t), x, t, x1[None, :], call)


@st.composite
def late_arguments(draw):
    """(x, x1, t) of shape (5, d) with t within 1e-2..1e-6 of 1, or anywhere in [0, 0.95]."""
    d = draw(st.integers(1, 3))
    t = draw(st.one_of(common.times(), st.floats(2.0, 6.0).map(lambda k: 1.0 - 10.0**-k)))
    return draw(arrays((5, d), *common.POINTS)), draw(arrays((5, d), *common.DATA)), float(t)


@prop(points=1)
@given(args=late_arguments())
def conditional_velocity_reaches_x1_at_time_one(student, args):
    """Moving with constant velocity u_t(x | x1) for the remaining time 1 - t lands on x1: x + (1 - t) u = x1."""
    x, x1, t = args
    call = call_text("conditional_velocity", *args)
    value = student.conditional_velocity(x, x1, t)
    assert_finite(value, call=call)
    assert_close(x + (1 - t) * value, x1, rtol=0, atol=(1 - t) * tolerance(x, x1, t),
                 what="x + (1 - t) u_t(x | x1)", call=call)


@prop(points=2)
@given(args=broadcast_arguments())
def conditional_velocity_matches_reference(student, reference, args):
    """u_t(x | x1) agrees with the reference solution to float32 precision."""
    x, x1, t = args
    assert_close(student.conditional_velocity(*args), reference.conditional_velocity(*args), rtol=0,
                 atol=tolerance(x, x1, t), call=call_text("conditional_velocity", *args))
