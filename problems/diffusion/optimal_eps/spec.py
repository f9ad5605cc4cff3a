"""Properties of optimal_eps(x, t, data, betas) = E[eps | x_t = x] when x0 is uniform over the rows of data (m, d)."""

import numpy as np

from grader.spec import assert_all, assert_close, assert_finite, assert_shape, call_text, given, prop, st, unit_helpers
from grader.strategies import arrays, reals

common = unit_helpers(__file__)
schedules, alpha_bars = common.schedules, common.alpha_bars

BATCHES = ((), (2,), (2, 3))
DATA = (-3.0, 3.0)
POINTS = (-5.0, 5.0)
# float32 implementations are right: on top of 1e-4 (absolute and relative), tolerances grow with the
# conditioning of the answer, see `expected_and_tolerance`.
ZERO_TOL = 1e-4
REL_TOL = 1e-4
FLOAT32_ROUNDING = 1e-6  # about 16 float32 ulps, relative


def expected_and_tolerance(x, t, data, betas):
    """E[eps | x_t = x], computed stably in the grader, and the tolerance a float32 computation deserves.

    The answer is sum_i w_i eps_i with eps_i = (x - sqrt(abar) data_i) / sqrt(1 - abar) and w = softmax(logits),
    logits_i = -|eps_i|^2 / 2. Rounding the logits by `relative` moves the answer by about
    relative max|logit| sum_i w_i |eps_i - answer|: large only where two data points compete at a small
    noise level. Dividing by sqrt(1 - abar) amplifies the rounding of x - sqrt(abar) data_i likewise, and
    1 - abar itself carries the relative error common.noise_rounding.
    """
    relative = FLOAT32_ROUNDING + 4 * common.noise_rounding(betas, t)
    abar = alpha_bars(betas)[t]
    scale = np.sqrt(1 - abar)
    noises = (x[..., None, :] - np.sqrt(abar) * data) / scale  # (..., m, d)
    logits = -0.5 * (noises**2).sum(-1)
    weights = np.exp(logits - logits.max(-1, keepdims=True))
    weights /= weights.sum(-1, keepdims=True)
    answer = (weights[..., None] * noises).sum(-2)
    spread = (weights[..., None] * np.abs(noises - answer[..., None, :])).sum(-2)
    magnitude = (np.abs(x) + np.sqrt(abar) * np.abs(data).max()) / scale
    tolerance = (ZERO_TOL + (REL_TOL + relative) * np.abs(answer)
                 + relative * np.abs(logits).max(-1)[..., None] * spread + relative * magnitude)
    return answer, tolerance


def check_against(student, x, t, data, betas, call):
    value = student.optimal_eps(x, t, data, betas)
    assert_shape(value, x.shape, call=call)
    assert_finite(value, call=call)
    expected, tolerance = expected_and_tolerance(x, t, data, betas)
    assert_close(value, expected, rtol=0, atol=tolerance, what="E[eps | x_t = x]", call=call)


@st.composite
def data_sets(draw, max_rows=6):
    """data (m, d) with 1 <= m <= max_rows rows and 1 <= d <= 3 columns."""
    m, d = draw(st.integers(1, max_rows)), draw(st.integers(1, 3))
    return draw(arrays((m, d), *DATA))


@st.composite
def eps_arguments(draw):
    """(x, t, data, betas) with x of shape (*batch, d) and t anywhere in 1..T."""
    data = draw(data_sets())
    betas = draw(schedules())
    batch = draw(st.sampled_from(BATCHES))
    return draw(arrays((*batch, data.shape[1]), *POINTS)), draw(st.integers(1, len(betas))), data, betas


@prop(points=1)
@given(args=eps_arguments())
def optimal_eps_has_the_shape_of_x(student, args):
    """The prediction has the shape (..., d) of x: one noise vector per point."""
    assert_shape(student.optimal_eps(*args), args[0].shape, call=call_text("optimal_eps", *args))


# A stochastic assertion: on N_SAMPLES draws (x0, eps) of the forward process, the residual eps - f(x_t) of the
# optimal predictor f has mean 0 and is uncorrelated with x_t (so no f + c + A x_t does better). Each of the
# d (d + 1) <= 12 normalised averages is compared with Z standard errors (t-statistics with 19999 degrees of
# freedom; residuals times Gaussian features have exponential tails): P(|t| > 6) = 2.0e-9 each, so a
# false failure has probability below 2.5e-8 per example. Power: the weights-without-sqrt(abar_t) mistake
# fails a single example with probability about 0.55 (measured), all 10 with probability above 0.999.
N_SAMPLES = 20000
Z_TWO_SIDED = 6.0


@st.composite
def forward_processes(draw):
    """(data, t, betas, seed) for N_SAMPLES draws of the forward process (see `forward_samples`): a step t where
    signal and noise both matter (0.1 <= abar_t <= 0.9) whenever the schedule has one; 2 to 6 data points spread
    over [-3, 3]^d (with one point, or coinciding points, the posterior over them is trivial)."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    data = rng.uniform(*DATA, size=(draw(st.integers(2, 6)), draw(st.integers(1, 3))))
    betas = draw(schedules())
    informative = [t for t, abar in enumerate(alpha_bars(betas)) if t >= 1 and 0.1 <= abar <= 0.9]
    t = draw(st.sampled_from(informative) if informative else st.integers(1, len(betas)))
    return data, t, betas, draw(st.integers(0, 2**32 - 1))


def forward_samples(data, t, betas, seed):
    """(x_t, eps): N_SAMPLES draws of the forward process at step t, x0 uniform over the rows of data."""
    rng = np.random.default_rng(seed)
    x0 = data[rng.integers(0, len(data), size=N_SAMPLES)]
    eps = rng.standard_normal(x0.shape)
    abar = alpha_bars(betas)[t]
    return np.sqrt(abar) * x0 + np.sqrt(1 - abar) * eps, eps


@prop(points=2, max_examples=10, false_failure=10 * 2.5e-8)
@given(case=forward_processes())
def optimal_eps_minimises_the_denoising_objective(student, case):
    """On samples of the forward process, eps - optimal_eps(x_t) has mean 0 and is uncorrelated with x_t."""
    data, t, betas, seed = case
    x_t, eps = forward_samples(data, t, betas, seed)
    call = call_text("optimal_eps", x_t, t, data, betas) + f" on {N_SAMPLES} samples of x_t"
    prediction = student.optimal_eps(x_t, t, data, betas)
    assert_shape(prediction, x_t.shape, call=call)
    assert_finite(prediction, call=call)
    residual = eps - prediction
    features = np.concatenate([np.ones((N_SAMPLES, 1)), x_t], axis=1)  # 1, x_t[0], ..., x_t[d-1]
    products = residual[:, :, None] * features[:, None, :]  # (n, d, d + 1)
    average = products.mean(0)
    standard_error = products.std(0, ddof=1) / np.sqrt(N_SAMPLES)
    assert_all(np.abs(average) <= Z_TWO_SIDED * standard_error + ZERO_TOL,
               f"E[(eps - f(x_t)) g(x_t)] must vanish for g = 1 and g = x_t (within {Z_TWO_SIDED:g} standard errors): "
               "a better predictor than yours exists",
               average_residual_times_feature=average, standard_error=standard_error, call=call)


@st.composite
def late_times(draw):
    """(x, t, data, betas): t = T of a schedule that destroys the signal (abar_T <= 1e-4)."""
    data = draw(data_sets())
    steps = draw(st.integers(50, 200))
    betas = np.linspace(draw(reals(1e-4, 1e-2)), draw(reals(0.3, 0.9)), steps)
    batch = draw(st.sampled_from(BATCHES))
    return draw(arrays((*batch, data.shape[1]), *POINTS)), steps, data, betas


@prop(points=1)
@given(args=late_times())
def optimal_eps_tends_to_x_as_alpha_bar_vanishes(student, args):
    """When abar_t -> 0, x_t is almost pure noise, so E[eps | x_t = x] is almost x itself."""
    x, t, data, betas = args
    abar = alpha_bars(betas)[t]
    call = call_text("optimal_eps", x, t, data, betas) + f" with abar_t = {abar:.3g}"
    value = student.optimal_eps(x, t, data, betas)
    assert_finite(value, call=call)
    # |E[eps | x] - x| <= sqrt(abar) max|data| / sqrt(1 - abar) + |x| (1 / sqrt(1 - abar) - 1), with equality for
    # one data point on the far side of x. The slack is what optimal_eps_matches_reference accepts at x (at least
    # ZERO_TOL + REL_TOL |x| here, where the answer is about x), so that no answer it accepts fails the bound.
    bound = np.sqrt(abar) * np.abs(data).max() / np.sqrt(1 - abar) + np.abs(x) * (1 / np.sqrt(1 - abar) - 1)
    _, slack = expected_and_tolerance(x, t, data, betas)
    assert_all(np.abs(value - x) <= bound + slack, "E[eps | x_t = x] must be within the bound of x when abar_t -> 0",
               difference=value - x, bound=bound, call=call)


def log_marginal(x, t, data, betas):
    """log p_t(x) = log (1/m) sum_i N(x; sqrt(abar_t) data_i, (1 - abar_t) I), computed in the grader."""
    abar = alpha_bars(betas)[t]
    d = data.shape[1]
    squared = ((x[..., None, :] - np.sqrt(abar) * data) ** 2).sum(-1)
    logits = -0.5 * squared / (1 - abar)
    top = logits.max(-1)
    return top + np.log(np.exp(logits - top[..., None]).mean(-1)) - 0.5 * d * np.log(2 * np.pi * (1 - abar))


@prop(points=2)
@given(args=eps_arguments())
def optimal_eps_is_consistent_with_the_score_of_p_t(student, args):
    """E[eps | x_t = x] = -sqrt(1 - abar_t) grad log p_t(x) (Tweedie), with the gradient from finite differences."""
    x, t, data, betas = args
    abar = alpha_bars(betas)[t]
    step = 1e-5 * np.sqrt(1 - abar)
    score = np.zeros_like(x)
    for i in range(x.shape[-1]):
        offset = np.zeros(x.shape[-1])
        offset[i] = step
        score[..., i] = (log_marginal(x + offset, t, data, betas) - log_marginal(x - offset, t, data, betas)) / (2 * step)
    call = call_text("optimal_eps", x, t, data, betas)
    value = student.optimal_eps(x, t, data, betas)
    assert_finite(value, call=call)
    _, tolerance = expected_and_tolerance(x, t, data, betas)
    assert_close(value, -np.sqrt(1 - abar) * score, rtol=0, atol=tolerance + 1e-5,
                 what="E[eps | x] vs -sqrt(1 - abar_t) d log p_t / dx", call=call)


@st.composite
def far_points(draw):
    """(x, t, data, betas) with |x| in [40, 100]: every Gaussian weight exp(logit) underflows in float64."""
    data = draw(data_sets())
    betas = draw(schedules())
    batch = draw(st.sampled_from(BATCHES))
    directions = draw(arrays((*batch, data.shape[1]), -1.0, 1.0).filter(lambda a: np.all(np.linalg.norm(a, axis=-1) > 0.1)))
    radius = draw(reals(40.0, 100.0))
    x = radius * directions / np.linalg.norm(directions, axis=-1, keepdims=True)
    return x, draw(st.integers(1, len(betas))), data, betas


@prop(points=2)
@given(args=far_points())
def optimal_eps_is_finite_far_from_the_data(student, args):
    """Far from every scaled data point (all weights underflow) the answer is finite and exact: a stable softmax."""
    check_against(student, *args, call=call_text("optimal_eps", *args))


@prop(points=2)
@given(args=eps_arguments())
def optimal_eps_matches_reference(student, reference, args):
    """E[eps | x_t = x] agrees with the reference solution to float32 precision."""
    x, t, data, betas = args
    _, tolerance = expected_and_tolerance(x, t, data, betas)
    assert_close(student.optimal_eps(*args), reference.optimal_eps(*args), rtol=0, atol=tolerance,
                 call=call_text("optimal_eps", *args))
