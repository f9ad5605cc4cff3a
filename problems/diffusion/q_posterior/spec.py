"""Properties of q_posterior(x_t, x0, t, betas) = (mean, var) of q(x_{t-1} | x_t, x0) = N(mean, var I), var 0-d."""

import numpy as np

from grader.spec import assert_all, assert_close, assert_finite, assert_shape, call_text, given, prop, st, unit_helpers
from grader.strategies import arrays

common = unit_helpers(__file__)
schedules, alpha_bars = common.schedules, common.alpha_bars

SHAPES = ((3,), (2, 3), (4, 1), (2, 2, 2))
DATA = (-5.0, 5.0)
# float32 implementations are right: on top of 1e-4 (absolute and relative), tolerances grow with the
# rounding of 1 - abar_{t-1} and 1 - abar_t in float32 (see `rtol`).
ZERO_TOL = 1e-4
REL_TOL = 1e-4


def rtol(t, betas):
    """Relative tolerance at step t: 1 - abar computed in float32 from a rounded abar is off by up to
    2^-24 / (1 - abar) relative, and var and the mean's coefficients are ratios of such differences."""
    return REL_TOL + 4 * common.noise_rounding(betas, *((t - 1, t) if t >= 2 else (t,)))


# A float32 implementation may recover beta_t from its own schedule as 1 - abar_t / abar_{t-1} (diffusers'
# DDPMScheduler does). 1 - ratio has condition number alpha_t / beta_t: the roundings of abar_{t-1} and abar_t
# (2^-24 relative each; torch accumulates the float32 cumprod in double on the CPU, so abar_t is not exactly
# abar_{t-1} alpha_t), of the quotient and of 1 - beta_t (2^-25 absolute each) leave beta_t off by up to 3 * 2^-24
# absolute whatever its size, and var = beta_t (1 - abar_{t-1}) / (1 - abar_t) by that times the ratio
# (1 - abar_{t-1}) / (1 - abar_t) <= 1. Allow 4 * 2^-24. Measured on 250000 (schedule, t) pairs of the strategy:
# the diffusers way uses at most 2.5 * 2^-24 times the ratio beyond `rtol` (the previous atol 1e-3 min(betas)
# alone failed it on 6e-5 of the pairs, 1.3 tolerances at worst); beta_as_variance, which differs from var by
# beta_t^2 abar_{t-1} / (1 - abar_t), still exceeds the tolerance on 92% of the pairs (93% before).
BETA_RECOVERY = 4 * common.FLOAT32_HALF_ULP


def variance_atol(t, betas):
    """Absolute tolerance on var at step t, on top of `rtol`: 1e-3 min(betas) (for var = 0 at t = 1), plus the
    absolute rounding of a beta_t recovered from the float32 schedule, carried into var (see BETA_RECOVERY)."""
    abar = alpha_bars(betas)
    return 1e-3 * betas.min() + BETA_RECOVERY * (1 - abar[t - 1]) / (1 - abar[t])


def mean_tolerance(x_t, x0, t, betas):
    """Absolute tolerance on the mean c0 x0 + c1 x_t: ZERO_TOL plus `rtol` times |c0 x0| + |c1 x_t|, not times |mean|.
    The coefficients carry the relative rounding `rtol` (a float32 beta_t recovered from the schedule, see
    BETA_RECOVERY, moves c0 by 4 * 2^-24 / (1 - abar_t) relative), and the two terms can cancel, so the
    relative condition number of the mean is (|c0 x0| + |c1 x_t|) / |mean|. Measured on 20000 cases of the
    strategy: the diffusers way uses at most 0.17 of this (it failed rtol |mean| once, at 1.27 tolerances), the
    naive float32 way 0.06."""
    abar = alpha_bars(betas)
    beta = betas[t - 1]
    c0 = np.sqrt(abar[t - 1]) * beta / (1 - abar[t])
    c1 = np.sqrt(1 - beta) * (1 - abar[t - 1]) / (1 - abar[t])
    return ZERO_TOL + rtol(t, betas) * (np.abs(c0 * x0) + np.abs(c1 * x_t))


def _posterior(student, x_t, x0, t, betas):
    """The student's (mean, var), with var checked to be one number (0-d, or constant) and returned 0-d."""
    call = call_text("q_posterior", x_t, x0, t, betas)
    result = student.q_posterior(x_t, x0, t, betas)
    if not isinstance(result, tuple) or len(result) != 2:
        raise AssertionError(f"q_posterior must return a tuple (mean, var), but returned {type(result).__name__} [{call}]")
    mean, var = result
    assert_shape(mean, x_t.shape, call=call, what="the mean")
    assert_finite(mean, call=call, what="the mean")
    assert_finite(var, call=call, what="the variance")
    if np.ndim(var) != 0:
        try:
            np.broadcast_shapes(np.shape(var), x_t.shape)
        except ValueError:
            raise AssertionError(f"the variance has shape {np.shape(var)}, but should be a scalar (0-d) [{call}]") from None
        assert_close(var, np.full(np.shape(var), var.ravel()[0]), rtol=rtol(t, betas), atol=0, call=call,
                     what="the variance (one number for all coordinates)")
        var = var.ravel()[0]
    return mean, np.asarray(var), call


@st.composite
def posterior_arguments(draw, min_t=1):
    """(x_t, x0, t, betas) with arbitrary x_t and x0 and t anywhere in min_t..T, ends included."""
    betas = draw(schedules())
    shape = draw(st.sampled_from(SHAPES))
    return draw(arrays(shape, *DATA)), draw(arrays(shape, *DATA)), draw(st.integers(min_t, len(betas))), betas


@prop(points=1)
@given(args=posterior_arguments())
def q_posterior_returns_a_mean_shaped_like_x_t_and_a_scalar_variance(student, args):
    """The result is a tuple (mean, var): mean with the shape of x_t, var one number (0-d) for the step t."""
    _posterior(student, *args)


@st.composite
def forward_trajectories(draw):
    """(x0, x_prev, x_t, t, betas) with t >= 2 and (x_{t-1}, x_t) drawn from the forward process started at x0."""
    betas = draw(schedules())
    shape = draw(st.sampled_from(SHAPES))
    t = draw(st.integers(2, len(betas)))
    x0 = draw(arrays(shape, *DATA))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    abar_prev = alpha_bars(betas)[t - 1]
    x_prev = np.sqrt(abar_prev) * x0 + np.sqrt(1 - abar_prev) * rng.standard_normal(shape)
    x_t = np.sqrt(1 - betas[t - 1]) * x_prev + np.sqrt(betas[t - 1]) * rng.standard_normal(shape)
    return x0, x_prev, x_t, t, betas


def log_normal(x, mean, var):
    """log N(x; mean, var I), summed over all coordinates."""
    return -0.5 * ((x - mean) ** 2 / var + np.log(2 * np.pi * var)).sum()


def bayes_tolerance(x0, x_prev, x_t, t, betas):
    """What float32 rounding may cost in log q(x_{t-1} | x_t, x0): 1 - abar computed in float32 is off by
    common.noise_rounding relative, which moves the mean by that fraction of |mean| (measured in posterior
    standard deviations, r of them from x_{t-1}) and the variance by that fraction. A naive float32
    implementation (cumprod, then 1 - abar) stays within this scale over 20000 measured cases; allow 8 times it."""
    abar = alpha_bars(betas)
    beta = betas[t - 1]
    var = beta * (1 - abar[t - 1]) / (1 - abar[t])
    mean = (np.sqrt(abar[t - 1]) * beta * x0 + np.sqrt(1 - beta) * (1 - abar[t - 1]) * x_t) / (1 - abar[t])
    relative = common.noise_rounding(betas, t - 1, t)
    r = (x_prev - mean) / np.sqrt(var)
    scale = (relative * (np.abs(mean) / np.sqrt(var) * np.abs(r) + 0.5 * (1 + r**2))).sum()
    return 2e-3 * x0.size + 8 * scale


@prop(points=3)
@given(case=forward_trajectories())
def q_posterior_satisfies_bayes_rule(student, case):
    """q(x_{t-1} | x_t, x0) q(x_t | x0) = q(x_t | x_{t-1}) q(x_{t-1} | x0), at points of forward trajectories, t >= 2."""
    x0, x_prev, x_t, t, betas = case
    mean, var, call = _posterior(student, x_t, x0, t, betas)
    assert_all(var > 0, "the variance must be > 0 for t >= 2", var=var, call=call)
    abar = alpha_bars(betas)
    beta = betas[t - 1]
    left = log_normal(x_prev, mean, var) + log_normal(x_t, np.sqrt(abar[t]) * x0, 1 - abar[t])
    right = log_normal(x_t, np.sqrt(1 - beta) * x_prev, beta) + log_normal(x_prev, np.sqrt(abar[t - 1]) * x0, 1 - abar[t - 1])
    assert_close(left, right, rtol=0, atol=bayes_tolerance(x0, x_prev, x_t, t, betas),
                 what="log q(x_{t-1} | x_t, x0) + log q(x_t | x0) (vs log q(x_t | x_{t-1}) + log q(x_{t-1} | x0))",
                 call=call + f" at x_(t-1) = {np.array2string(x_prev, precision=3)}")


@st.composite
def first_steps(draw):
    """(x_t, x0, 1, betas)."""
    x_t, x0, _, betas = draw(posterior_arguments())
    return x_t, x0, 1, betas


@prop(points=1)
@given(args=first_steps())
def q_posterior_at_t_1_is_x0_with_zero_variance(student, args):
    """At t = 1 the previous step is x_0 itself: the mean is x0 and the variance 0."""
    x_t, x0, t, betas = args
    mean, var, call = _posterior(student, *args)
    assert_close(mean, x0, rtol=rtol(t, betas), atol=ZERO_TOL, what="the mean at t = 1", call=call)
    assert_close(var, 0.0, rtol=0, atol=1e-3 * betas[0], what="the variance at t = 1", call=call)


@prop(points=2)
@given(args=posterior_arguments(min_t=2))
def q_posterior_is_consistent_with_the_marginals(student, args):
    """Averaging over x_t ~ q(x_t | x0) recovers q(x_{t-1} | x0): mean sqrt(abar_{t-1}) x0, variance 1 - abar_{t-1}."""
    _, x0, t, betas = args
    abar = alpha_bars(betas)
    expected_x_t = np.sqrt(abar[t]) * x0
    mean, var, call = _posterior(student, expected_x_t, x0, t, betas)
    # The mean is linear in x_t, so its average over x_t is its value at E[x_t | x0].
    assert_close(mean, np.sqrt(abar[t - 1]) * x0, rtol=rtol(t, betas), atol=ZERO_TOL,
                 what="the mean at x_t = E[x_t | x0] = sqrt(abar_t) x0", call=call)
    shifted, _, _ = _posterior(student, expected_x_t + 1.0, x0, t, betas)
    coefficient = shifted - mean  # d mean / d x_t
    # Law of total variance: Var(x_{t-1} | x0) = var + coefficient^2 Var(x_t | x0).
    total = var + coefficient**2 * (1 - abar[t])
    assert_close(total, np.full(x0.shape, 1 - abar[t - 1]), rtol=rtol(t, betas), atol=ZERO_TOL * (1 - abar[t - 1]),
                 what="var + (d mean / d x_t)^2 (1 - abar_t), the total variance of x_{t-1} given x0", call=call)


@prop(points=1)
@given(args=posterior_arguments(min_t=2))
def q_posterior_variance_is_positive_and_at_most_beta_t(student, args):
    """For t >= 2, 0 < var <= beta_t: knowing x0 makes the reverse step no noisier than the forward one."""
    x_t, x0, t, betas = args
    _, var, call = _posterior(student, *args)
    beta = betas[t - 1]
    # The bound's slack is what q_posterior_matches_reference accepts for the same var: a float32 var may exceed
    # beta_t by its rounding where 1 - abar_{t-1} is close to 1 - abar_t (see BETA_RECOVERY).
    bound = beta * (1 + rtol(t, betas)) + variance_atol(t, betas)
    assert_all((var > 0) & (var <= bound), f"the variance must lie in (0, beta_t] = (0, {beta:.6g}]",
               var=var, call=call)


@prop(points=2)
@given(args=posterior_arguments())
def q_posterior_matches_reference(student, reference, args):
    """The mean and the variance agree with the reference solution to float32 precision."""
    mean, var, call = _posterior(student, *args)
    expected_mean, expected_var = reference.q_posterior(*args)
    x_t, x0, t, betas = args
    assert_close(mean, expected_mean, rtol=0, atol=mean_tolerance(x_t, x0, t, betas), what="the mean", call=call)
    assert_close(var, expected_var, rtol=rtol(t, betas), atol=variance_atol(t, betas), what="the variance", call=call)
