"""Properties of gaussian_log_prob(x, mean, var) = log N(x; mean, diag(var)), summed over the last dimension."""

import numpy as np

from grader.spec import assert_close, assert_finite, assert_shape, call_text, given, prop, st
from grader.strategies import arrays, broadcastable_shapes, reals

POINTS = (-10.0, 10.0)
MEANS = (-5.0, 5.0)
VARIANCES = (0.05, 20.0)
BATCHES = ((), (2,), (2, 3))
LOG_2PI = np.log(2 * np.pi)
# float32 implementations are right: allow their rounding (about 1e-7 relative) with a margin.
ZERO_TOL = 1e-4
REL_TOL = 1e-4
# Quadrature on +-12 standard deviations with 2400 steps: the Riemann sum of a Gaussian is exact to
# far below 1e-12 at this step (the error decays like exp(-2 pi^2 / step^2)).
GRID = np.linspace(-12.0, 12.0, 2401)


def closed_form(x, mean, var):
    """log N(x; mean, diag(var)), computed in the grader."""
    return -0.5 * ((x - mean) ** 2 / var + np.log(var) + LOG_2PI).sum(-1)


@st.composite
def broadcast_arguments(draw):
    """Broadcastable (x, mean, var), each with at least one dimension, and the shape of the result."""
    shapes = draw(broadcastable_shapes(3, min_dims=1, max_dims=3, max_side=4))
    x = draw(arrays(shapes.input_shapes[0], *POINTS))
    mean = draw(arrays(shapes.input_shapes[1], *MEANS))
    var = draw(arrays(shapes.input_shapes[2], *VARIANCES))
    return (x, mean, var), shapes.result_shape[:-1]


@st.composite
def same_shape_arguments(draw, min_d=1):
    """(x, mean, var) of one shape (*batch, d)."""
    d = draw(st.integers(min_d, 5))
    batch = draw(st.sampled_from(BATCHES))
    return (draw(arrays((*batch, d), *POINTS)), draw(arrays((*batch, d), *MEANS)),
            draw(arrays((*batch, d), *VARIANCES)))


@prop(points=1)
@given(case=broadcast_arguments())
def gaussian_log_prob_broadcasts_and_sums_the_last_dimension(student, case):
    """The result has the broadcast shape of x, mean and var without its last dimension, which is summed."""
    args, shape = case
    assert_shape(student.gaussian_log_prob(*args), shape, call=call_text("gaussian_log_prob", *args))


@prop(points=3)
@given(mean=reals(*MEANS), var=reals(*VARIANCES))
def gaussian_log_prob_is_a_normalised_density_with_the_given_mean_and_variance(student, mean, var):
    """In one dimension exp(log-density) integrates to 1, with mean `mean` and variance `var` (quadrature)."""
    step = (GRID[1] - GRID[0]) * np.sqrt(var)
    x = (mean + np.sqrt(var) * GRID)[:, None]
    mean_, var_ = np.array([mean]), np.array([var])
    call = call_text("gaussian_log_prob", x, mean_, var_) + " on a quadrature grid"
    log_density = student.gaussian_log_prob(x, mean_, var_)
    assert_shape(log_density, (len(GRID),), call=call)
    assert_finite(log_density, call=call)
    density = np.exp(log_density)
    mass = density.sum() * step
    assert_close(mass, 1.0, rtol=0, atol=REL_TOL, what="the integral of the density", call=call)
    first = (x[:, 0] * density).sum() * step
    assert_close(first, mean, rtol=REL_TOL, atol=REL_TOL * np.sqrt(var), what="the mean of the density", call=call)
    second = ((x[:, 0] - mean) ** 2 * density).sum() * step
    assert_close(second, var, rtol=REL_TOL, atol=0, what="the variance of the density", call=call)


@st.composite
def split_arguments(draw):
    """(x, mean, var, cut) with d >= 2 and 1 <= cut < d."""
    x, mean, var = draw(same_shape_arguments(min_d=2))
    return x, mean, var, draw(st.integers(1, x.shape[-1] - 1))


@prop(points=2)
@given(case=split_arguments())
def gaussian_log_prob_is_additive_over_dimensions(student, case):
    """The coordinates are independent: the log-density of all of them is the sum over two groups of them."""
    x, mean, var, cut = case
    whole = student.gaussian_log_prob(x, mean, var)
    first = student.gaussian_log_prob(x[..., :cut], mean[..., :cut], var[..., :cut])
    second = student.gaussian_log_prob(x[..., cut:], mean[..., cut:], var[..., cut:])
    assert_close(whole, first + second, rtol=REL_TOL, atol=ZERO_TOL, what="the log-density of all coordinates",
                 call=f"{call_text('gaussian_log_prob', x, mean, var)} vs coordinates [:{cut}] and [{cut}:]")


@prop(points=1)
@given(case=same_shape_arguments())
def gaussian_log_prob_peaks_at_the_mean_with_the_normalising_constant(student, case):
    """At x = mean the log-density is -1/2 sum(log(2 pi var)): the normalising constant, log(2 pi) included."""
    _, mean, var = case
    expected = -0.5 * np.log(2 * np.pi * var).sum(-1)
    assert_close(student.gaussian_log_prob(mean, mean, var), expected, rtol=REL_TOL, atol=ZERO_TOL,
                 what="the log-density at the mean", call=call_text("gaussian_log_prob", mean, mean, var))


@prop(points=1)
@given(case=same_shape_arguments(), distance=reals(100.0, 1000.0), small_var=reals(0.01, 1.0))
def gaussian_log_prob_is_finite_far_from_the_mean(student, case, distance, small_var):
    """Far from the mean (density below 1e-300) the log-density is still finite and exact: no log(exp(.))."""
    _, mean, _ = case
    x = mean + distance
    var = np.full_like(mean, small_var)
    call = call_text("gaussian_log_prob", x, mean, var)
    log_density = student.gaussian_log_prob(x, mean, var)
    assert_finite(log_density, call=call)
    assert_close(log_density, closed_form(x, mean, var), rtol=REL_TOL, atol=ZERO_TOL, call=call)


@prop(points=2)
@given(case=broadcast_arguments())
def gaussian_log_prob_matches_reference(student, reference, case):
    """The log-density agrees with the reference solution to float32 precision."""
    args, _ = case
    assert_close(student.gaussian_log_prob(*args), reference.gaussian_log_prob(*args), rtol=REL_TOL,
                 atol=ZERO_TOL, call=call_text("gaussian_log_prob", *args))
