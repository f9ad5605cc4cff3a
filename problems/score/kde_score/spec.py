"""Properties of kde_score(x, data, sigma) = grad_x log q(x), q = (1/m) sum_i N(x; data_i, sigma^2 I); x (..., d)."""

import numpy as np
from scipy.special import logsumexp, softmax

from grader.spec import assert_all, assert_close, assert_finite, assert_shape, call_text, given, note, prop, st, unit_helpers
from grader.strategies import arrays, reals

common = unit_helpers(__file__)

BATCHES = ((), (2,), (2, 3))
DATA = (-3.0, 3.0)
POINTS = (-5.0, 5.0)
BANDWIDTHS = (0.2, 3.0)
# float32 implementations are right: on top of 1e-4 (absolute and relative), tolerances grow with the conditioning
# of the answer, see `expected_and_tolerance`.
ZERO_TOL = 1e-4
REL_TOL = 1e-4


def logits(x, data, sigma):
    """-|x - data_i|^2 / (2 sigma^2), (..., m): the log-weights of the data points given x."""
    return -0.5 * ((x[..., None, :] - data) ** 2).sum(-1) / sigma**2


def expected_and_tolerance(x, data, sigma):
    """grad log q(x), computed stably in the grader, and the tolerance a float32 computation deserves.

    The answer is sum_i w_i u_i with u_i = (data_i - x) / sigma^2 and w = softmax(logits). Rounding the logits by a
    relative r moves it by about r max|logit| sum_i w_i |u_i - answer| (large only where data points compete far
    away), and rounding x - data_i moves each u_i by r (|x| + |data_i|) / sigma^2.
    """
    relative = common.FLOAT32_ROUNDING
    weights = softmax(logits(x, data, sigma), axis=-1)
    pulls = (data - x[..., None, :]) / sigma**2  # (..., m, d)
    answer = (weights[..., None] * pulls).sum(-2)
    spread = (weights[..., None] * np.abs(pulls - answer[..., None, :])).sum(-2)
    magnitude = (np.abs(x) + np.abs(data).max()) / sigma**2
    tolerance = (ZERO_TOL + REL_TOL * np.abs(answer) + relative * np.abs(logits(x, data, sigma)).max(-1)[..., None] * spread
                 + relative * magnitude)
    return answer, tolerance


def log_kde(x, data, sigma):
    """log q(x) = log (1/m) sum_i N(x; data_i, sigma^2 I), (...)."""
    d = data.shape[1]
    return logsumexp(logits(x, data, sigma), axis=-1) - np.log(len(data)) - 0.5 * d * np.log(2 * np.pi * sigma**2)


@st.composite
def data_sets(draw, min_rows=1, max_rows=6):
    """data (m, d) with min_rows <= m <= max_rows rows and 1 <= d <= 3 columns."""
    m, d = draw(st.integers(min_rows, max_rows)), draw(st.integers(1, 3))
    return draw(arrays((m, d), *DATA))


@st.composite
def kde_arguments(draw, min_rows=1):
    """(x, data, sigma) with x of shape (*batch, d) and sigma a Python float."""
    data = draw(data_sets(min_rows=min_rows))
    batch = draw(st.sampled_from(BATCHES))
    return draw(arrays((*batch, data.shape[1]), *POINTS)), data, draw(reals(*BANDWIDTHS))


def student_score(student, x, data, sigma):
    call = call_text("kde_score", x, data, sigma)
    value = student.kde_score(x, data, sigma)
    assert_shape(value, x.shape, call=call)
    assert_finite(value, call=call)
    return value, call


@prop(points=1)
@given(args=kde_arguments())
def kde_score_has_the_shape_of_x(student, args):
    """The score has the shape (..., d) of x: one gradient vector per point."""
    assert_shape(student.kde_score(*args), args[0].shape, call=call_text("kde_score", *args))


@prop(points=2)
@given(args=kde_arguments())
def kde_score_is_the_gradient_of_log_q(student, args):
    """The score equals the gradient of log q(x), computed by central finite differences of log q."""
    x, data, sigma = args
    value, call = student_score(student, x, data, sigma)
    step = 1e-5 * sigma
    gradient = np.zeros_like(x)
    for i in range(x.shape[-1]):
        offset = np.zeros(x.shape[-1])
        offset[i] = step
        gradient[..., i] = (log_kde(x + offset, data, sigma) - log_kde(x - offset, data, sigma)) / (2 * step)
    _, tolerance = expected_and_tolerance(x, data, sigma)
    # Finite differences of log q carry about 1e-16 |log q| / step of rounding: below 1e-5 (1 + |score|) here.
    assert_close(value, gradient, rtol=0, atol=tolerance + 1e-5 * (1 + np.abs(gradient)),
                 what="kde_score vs d log q / dx", call=call)


@prop(points=1)
@given(args=kde_arguments(), point=st.integers(0, 5))
def kde_score_of_one_data_point_is_the_gaussian_score(student, args, point):
    """With a single data point, q = N(data_0, sigma^2 I) and its score is (data_0 - x) / sigma^2."""
    x, data, sigma = args
    data = data[point % len(data)][None, :]
    value, call = student_score(student, x, data, sigma)
    _, tolerance = expected_and_tolerance(x, data, sigma)
    assert_close(value, (data[0] - x) / sigma**2, rtol=0, atol=tolerance, what="score of N(data_0, sigma^2 I)",
                 call=call)


@prop(points=1)
@given(args=kde_arguments(), shift=arrays((3,), -3.0, 3.0), order=st.integers(0, 2**32 - 1))
def kde_score_is_invariant_to_translation_and_to_the_order_of_the_data(student, args, shift, order):
    """Moving x and every data point by the same vector, or reordering the data, leaves the score unchanged."""
    x, data, sigma = args
    value, call = student_score(student, x, data, sigma)
    c = shift[: data.shape[1]]
    permutation = np.random.default_rng(order).permutation(len(data))
    moved, moved_call = student_score(student, x + c, data[permutation] + c, sigma)
    _, tolerance = expected_and_tolerance(x + c, data + c, sigma)
    assert_close(moved, value, rtol=0, atol=2 * tolerance, what="score after moving x and the data by c",
                 call=f"{moved_call} vs {call}")


# Stein's identity: for x ~ q, E[s(x)] = 0 and E[s(x) . x] = -d (integration by parts against f = 1 and f = x).
# On N_SAMPLES exact draws from q (grader-side) each of the d + 1 averages is compared with Z standard errors
# (t-statistics with 19999 degrees of freedom, scores of a Gaussian mixture have Gaussian tails): P(|t| > 6) is
# about 2.0e-9 each, so a false failure has probability below 1e-8 per example, 1e-7 over 10 examples.
# Power: a flipped sign gives E[s . x] = +d, 1/sigma instead of 1/sigma^2 gives -d sigma, uniform weights
# -(d sigma^2 + spread of the data) / sigma^2: every one is off by hundreds of standard errors for sigma != 1.
N_SAMPLES = 20000
Z_TWO_SIDED = 6.0


@prop(points=1, max_examples=10, false_failure=1e-7)
@given(args=kde_arguments(min_rows=2), seed=st.integers(0, 2**32 - 1))
def kde_score_satisfies_steins_identity(student, args, seed):
    """On samples x ~ q, the score averages to 0 and E[score(x) . x] = -d (Stein's identity)."""
    _, data, sigma = args
    rng = np.random.default_rng(seed)
    x = data[rng.integers(0, len(data), N_SAMPLES)] + sigma * rng.standard_normal((N_SAMPLES, data.shape[1]))
    call = call_text("kde_score", x, data, sigma) + f" on {N_SAMPLES} samples of q"
    value = student.kde_score(x, data, sigma)
    assert_shape(value, x.shape, call=call)
    assert_finite(value, call=call)
    d = data.shape[1]
    statistics = np.concatenate([value, (value * x).sum(-1, keepdims=True) + d], axis=1)  # (n, d + 1), mean 0
    average = statistics.mean(0)
    standard_error = statistics.std(0, ddof=1) / np.sqrt(N_SAMPLES)
    note(f"averages of score_j and score . x + d: {average}, standard errors {standard_error}")
    assert_all(np.abs(average) <= Z_TWO_SIDED * standard_error + ZERO_TOL,
               f"E_q[score(x)] must be 0 and E_q[score(x) . x] must be -d = {-d} (within {Z_TWO_SIDED:g} standard "
               "errors)", average_score=average[:d], average_score_dot_x=average[d] - d, standard_error=standard_error,
               call=call)


@st.composite
def far_points(draw):
    """(x, data, sigma) with x more than 40 sigma away from every data point: every kernel value underflows."""
    data = draw(data_sets())
    sigma = draw(reals(*BANDWIDTHS))
    batch = draw(st.sampled_from(BATCHES))
    directions = draw(arrays((*batch, data.shape[1]), -1.0, 1.0).filter(
        lambda a: np.all(np.linalg.norm(a, axis=-1) > 0.1)))
    # |data_i| <= 3 sqrt(3) < 6, so |x - data_i| >= radius sigma.
    radius = draw(reals(40.0, 100.0)) * sigma + 6.0
    return radius * directions / np.linalg.norm(directions, axis=-1, keepdims=True), data, sigma


@prop(points=2)
@given(args=far_points())
def kde_score_is_finite_far_from_the_data(student, args):
    """Far from every data point (all kernel values underflow) the score is finite and exact: a stable softmax."""
    value, call = student_score(student, *args)
    expected, tolerance = expected_and_tolerance(*args)
    assert_close(value, expected, rtol=0, atol=tolerance, what="the score far from the data", call=call)


@prop(points=2)
@given(args=kde_arguments())
def kde_score_matches_reference(student, reference, args):
    """The score agrees with the reference solution to float32 precision."""
    _, tolerance = expected_and_tolerance(*args)
    assert_close(student.kde_score(*args), reference.kde_score(*args), rtol=0, atol=tolerance,
                 call=call_text("kde_score", *args))
