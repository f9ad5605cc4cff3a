"""Properties of dsm_target(x_noisy, x_clean, sigma) = grad_{x_noisy} log N(x_noisy; x_clean, sigma^2 I)."""

import numpy as np
from scipy.special import softmax

from grader.spec import assert_close, assert_finite, assert_shape, call_text, given, prop, st, unit_helpers
from grader.strategies import arrays, broadcastable_shapes, reals

common = unit_helpers(__file__)

POINTS = (-5.0, 5.0)
NOISE_LEVELS = (0.1, 3.0)
ZERO_TOL = 1e-6
REL_TOL = 1e-5


def tolerance(x_noisy, x_clean, sigma):
    """What a float32 computation deserves: x_noisy - x_clean is rounded relative to |x_noisy| + |x_clean|, then
    divided by sigma^2; on top, 1e-5 relative and 1e-6 absolute."""
    target = (x_clean - x_noisy) / sigma**2
    return ZERO_TOL + REL_TOL * np.abs(target) + common.FLOAT32_ROUNDING * (np.abs(x_noisy) + np.abs(x_clean)) / sigma**2


@st.composite
def dsm_arguments(draw):
    """(x_noisy, x_clean, sigma) with broadcastable shapes and sigma a Python float."""
    shapes = draw(broadcastable_shapes(2))
    x_noisy, x_clean = (draw(arrays(shape, *POINTS)) for shape in shapes.input_shapes)
    return x_noisy, x_clean, draw(reals(*NOISE_LEVELS))


def student_target(student, x_noisy, x_clean, sigma):
    call = call_text("dsm_target", x_noisy, x_clean, sigma)
    value = student.dsm_target(x_noisy, x_clean, sigma)
    assert_shape(value, np.broadcast_shapes(np.shape(x_noisy), np.shape(x_clean)), call=call)
    assert_finite(value, call=call)
    return value, call


@prop(points=1)
@given(args=dsm_arguments())
def dsm_target_has_the_broadcast_shape(student, args):
    """The target has the broadcast shape of x_noisy and x_clean, and is finite."""
    student_target(student, *args)


@prop(points=1)
@given(args=dsm_arguments(), shift=reals(-5.0, 5.0))
def dsm_target_depends_only_on_the_difference(student, args, shift):
    """Moving x_noisy and x_clean by the same amount leaves the target unchanged."""
    x_noisy, x_clean, sigma = args
    value, call = student_target(student, x_noisy, x_clean, sigma)
    moved, moved_call = student_target(student, x_noisy + shift, x_clean + shift, sigma)
    assert_close(moved, value, rtol=0, atol=2 * tolerance(x_noisy + shift, x_clean + shift, sigma),
                 what="the target after moving both points", call=f"{moved_call} vs {call}")


def log_gaussian(x_noisy, x_clean, sigma):
    """log N(x_noisy; x_clean, sigma^2) per coordinate (the target is elementwise, so coordinates separate)."""
    return -0.5 * ((x_noisy - x_clean) / sigma) ** 2 - 0.5 * np.log(2 * np.pi * sigma**2)


@prop(points=3)
@given(args=dsm_arguments())
def dsm_target_is_the_gradient_of_the_gaussian_log_density(student, args):
    """The target is d/dx_noisy log N(x_noisy; x_clean, sigma^2), computed by central finite differences."""
    x_noisy, x_clean = np.broadcast_arrays(args[0], args[1])
    sigma = args[2]
    value, call = student_target(student, *args)
    step = 1e-3 * sigma  # exact for a quadratic up to rounding, about 1e-16 |log N| / step
    gradient = (log_gaussian(x_noisy + step, x_clean, sigma) - log_gaussian(x_noisy - step, x_clean, sigma)) / (2 * step)
    assert_close(value, gradient, rtol=0, atol=tolerance(x_noisy, x_clean, sigma) + 1e-8 * (1 + np.abs(gradient)),
                 what="dsm_target vs d log N / dx_noisy", call=call)


@st.composite
def noised_data(draw):
    """(points (n, d), data (m, d), sigma): noisy points near the data, 2 to 5 clean data points."""
    m, d = draw(st.integers(2, 5)), draw(st.integers(1, 3))
    data = draw(arrays((m, d), -3.0, 3.0))
    sigma = draw(reals(*NOISE_LEVELS))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    points = data[rng.integers(0, m, 8)] + 1.5 * sigma * rng.standard_normal((8, d))
    return points, data, sigma


@prop(points=3)
@given(case=noised_data())
def dsm_target_averages_to_the_score_of_the_noised_data(student, case):
    """For clean data uniform over a few points, E[target | x_noisy] is the score of the noised data distribution."""
    points, data, sigma = case
    n, m, d = len(points), len(data), data.shape[1]
    # E[target | x_noisy = x] = sum_i p(data_i | x) target(x, data_i): one call on every (point, data point) pair.
    x_noisy, x_clean = np.repeat(points, m, axis=0), np.tile(data, (n, 1))
    value, call = student_target(student, x_noisy, x_clean, sigma)
    logits = -0.5 * ((points[:, None, :] - data) ** 2).sum(-1) / sigma**2
    posterior = softmax(logits, axis=-1)  # p(data_i | x_noisy), (n, m)
    average = (posterior[..., None] * value.reshape(n, m, d)).sum(1)
    noised = (np.full(m, 1.0 / m), data, np.full(m, sigma**2))  # p_sigma = (1/m) sum_i N(data_i, sigma^2 I)
    # The score of p_sigma by central finite differences of its log-density: rounding about 1e-16 |log p| / step
    # and truncation about step^2 |d^3 log p| stay below 1e-5 (1 + |score|) for sigma >= 0.1.
    step = 1e-5 * sigma
    score = np.stack([(common.log_density(points + e, noised) - common.log_density(points - e, noised)) / (2 * step)
                      for e in step * np.eye(d)], axis=-1)
    bound = (posterior[..., None] * tolerance(x_noisy, x_clean, sigma).reshape(n, m, d)).sum(1)
    assert_close(average, score, rtol=0, atol=bound + 1e-5 * (1 + np.abs(score)),
                 what="sum_i p(data_i | x_noisy) dsm_target(x_noisy, data_i)",
                 call=f"{call} averaged over the posterior of the clean point, vs grad log p_sigma(x_noisy)")


@prop(points=2)
@given(args=dsm_arguments())
def dsm_target_matches_reference(student, reference, args):
    """The target agrees with the reference solution to float32 precision."""
    x_noisy, x_clean, sigma = args
    assert_close(student.dsm_target(*args), reference.dsm_target(*args), rtol=0,
                 atol=tolerance(*np.broadcast_arrays(x_noisy, x_clean), sigma), call=call_text("dsm_target", *args))
