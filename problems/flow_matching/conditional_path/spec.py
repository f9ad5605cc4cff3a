"""Properties of conditional_path(x1, t) = (t x1, (1 - t) 1): mean and standard deviation of the marginal
p_t(x | x1) = N(t x1, (1 - t)^2 I) of the linear path x_t = (1 - t) x0 + t x1, x0 ~ N(0, I)."""

import numpy as np

from grader.spec import (assert_all, assert_close, assert_finite, assert_shape, call_text, given, prop, st,
                         unit_helpers)
from grader.strategies import arrays

common = unit_helpers(__file__)

SHAPES = ((1,), (3,), (4, 2), (2, 3, 2))
# float32 implementations are right: mean and std are accurate to about 1e-7 relative to |x1| and 1.
ZERO_TOL = 1e-6
REL_TOL = 1e-5


@st.composite
def path_arguments(draw, times=None):
    """(x1, t) with x1 of one of SHAPES and t in [0, 0.95]."""
    x1 = draw(arrays(draw(st.sampled_from(SHAPES)), *common.DATA))
    return x1, float(draw(times if times is not None else common.times()))


def moments(student, x1, t, call):
    """The student's (mean, std), checked to be a pair of finite arrays shaped like x1."""
    result = student.conditional_path(x1, t)
    if not (isinstance(result, tuple) and len(result) == 2):
        raise AssertionError(f"the result must be a pair (mean, std), but is {type(result).__name__} [{call}]")
    mean, std = result
    assert_finite(mean, call=call, what="the mean")
    assert_finite(std, call=call, what="the std")
    return mean, std


@prop(points=2)
@given(args=path_arguments())
def conditional_path_returns_mean_and_std_shaped_like_x1(student, args):
    """mean and std are both shaped like x1 (one value per coordinate, batch dimensions included)."""
    call = call_text("conditional_path", *args)
    mean, std = moments(student, *args, call=call)
    assert_shape(mean, args[0].shape, call=call, what="the mean")
    assert_shape(std, args[0].shape, call=call, what="the std")


@prop(points=1)
@given(args=path_arguments(times=st.just(0.0)))
def conditional_path_starts_at_the_standard_normal(student, args):
    """At t = 0 the path is the noise distribution p0 = N(0, I): mean 0 and std 1 whatever x1."""
    call = call_text("conditional_path", *args)
    mean, std = moments(student, *args, call=call)
    assert_close(mean, np.zeros_like(args[0]), rtol=0, atol=ZERO_TOL, what="the mean at t = 0", call=call)
    assert_close(std, np.ones_like(args[0]), rtol=0, atol=ZERO_TOL, what="the std at t = 0", call=call)


@st.composite
def increasing_times(draw):
    """(x1, t, t') with 0 <= t < t' <= 0.95 and x1 of one of SHAPES."""
    x1, t = draw(path_arguments())
    later = draw(common.times().filter(lambda u: u > t + 1e-3))
    return x1, t, float(later)


@prop(points=1)
@given(case=increasing_times())
def conditional_path_std_is_positive_and_shrinks(student, case):
    """The std is positive on [0, 1) and shrinks as t grows: the path concentrates on x1."""
    x1, t, later = case
    call = call_text("conditional_path", x1, t) + " and " + call_text("conditional_path", x1, later)
    _, std = moments(student, x1, t, call=call)
    _, later_std = moments(student, x1, later, call=call)
    assert_all(np.broadcast_to(std, x1.shape) > 0, "the std must be positive", std=std, call=call)
    assert_all(np.broadcast_to(later_std, x1.shape) < np.broadcast_to(std, x1.shape),
               "the std must be smaller at the later time", std=std, later_std=later_std, call=call)


@st.composite
def interpolations(draw):
    """(x0, x1, t): noise points x0 (drawn from a seed) and data points x1 of one of SHAPES, t in [0, 0.95]."""
    x1, t = draw(path_arguments())
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    return rng.standard_normal(x1.shape), x1, t


@prop(points=4)
@given(case=interpolations())
def conditional_path_reparameterises_the_linear_interpolation(student, case):
    """mean + std * x0 is the point (1 - t) x0 + t x1 of the straight line from the noise x0 to x1, for every x0."""
    x0, x1, t = case
    call = call_text("conditional_path", x1, t) + " with mean + std * x0 vs (1 - t) x0 + t x1"
    mean, std = moments(student, x1, t, call=call)
    expected = (1 - t) * x0 + t * x1
    assert_close(mean + std * x0, expected, rtol=0, atol=ZERO_TOL + REL_TOL * (np.abs(x0) + np.abs(x1)),
                 what="mean + std * x0", call=call)


@prop(points=2)
@given(args=path_arguments())
def conditional_path_matches_reference(student, reference, args):
    """(mean, std) agree with the reference solution to float32 precision, shapes included."""
    call = call_text("conditional_path", *args)
    mean, std = moments(student, *args, call=call)
    expected_mean, expected_std = reference.conditional_path(*args)
    assert_close(mean, expected_mean, rtol=REL_TOL, atol=ZERO_TOL, what="the mean", call=call)
    assert_close(std, expected_std, rtol=REL_TOL, atol=ZERO_TOL, what="the std", call=call)
