"""Properties of iwae_bound(x, W, b, s, q_mu, q_logvar, eps) = log (1/S) sum_j w_j, the importance-weighted bound
of the linear-Gaussian model z ~ N(0, I_k), x | z ~ N(W z + b, s^2 I_d) with q(z | x) = N(q_mu, diag(exp(q_logvar)))."""

import numpy as np

from grader.spec import assert_all, assert_close, assert_finite, assert_shape, call_text, given, prop, st, unit_helpers
from grader.strategies import arrays

common = unit_helpers(__file__)
log_evidence, posterior, log_weights, models = common.log_evidence, common.posterior, common.log_weights, common.models

BATCHES = ((), (2,), (2, 3))
DATA = (-5.0, 5.0)
# float32 implementations are right: the log-weights are sums of terms of magnitude up to about 1e3
# (1e4 in the extreme property), so float32 rounding reaches a few 1e-5 relative to them.
ZERO_TOL = 1e-3
REL_TOL = 1e-4


def log_mean_exp(values):
    """log (1/S) sum_j exp(values_j) over the first axis, stably."""
    top = values.max(0)
    return top + np.log(np.exp(values - top).mean(0))


@st.composite
def iwae_arguments(draw, orthogonal=False, samples=(1, 6), data=DATA, noise=(0.3, 3.0), per_draw=1):
    """(x, W, b, s, q_mu, q_logvar, eps) with a batch shape (...) and S * per_draw samples of noise."""
    W, b, s = draw(models(orthogonal, noise=noise))
    d, k = W.shape
    batch = draw(st.sampled_from(BATCHES))
    S = draw(st.integers(*samples)) * per_draw
    x = draw(arrays((*batch, d), *data))
    q_mu = draw(arrays((*batch, k), -3.0, 3.0))
    q_logvar = draw(arrays((*batch, k), -3.0, 1.5))
    eps = draw(arrays((S, *batch, k), -3.0, 3.0))
    return x, W, b, s, q_mu, q_logvar, eps


def describe(x, W, b, s, q_mu, q_logvar, eps):
    return call_text("iwae_bound", x, W, b, s, q_mu, q_logvar, eps)


@prop(points=1)
@given(args=iwae_arguments())
def iwae_bound_has_the_batch_shape(student, args):
    """The bound has the batch shape (...) of x: the S samples are combined, one value per data point."""
    assert_shape(student.iwae_bound(*args), args[0].shape[:-1], call=describe(*args))


@prop(points=2)
@given(args=iwae_arguments(samples=(2, 6)))
def iwae_bound_lies_between_the_elbo_and_the_largest_log_weight(student, args):
    """On the same eps, the ELBO (the mean log-weight) <= IWAE <= the largest log-weight (Jensen; log-mean-exp)."""
    call = describe(*args)
    bound = student.iwae_bound(*args)
    assert_finite(bound, call=call)
    weights = log_weights(*args)
    elbo, largest = weights.mean(0), weights.max(0)
    assert_all(bound >= elbo - ZERO_TOL - REL_TOL * np.abs(elbo), "the IWAE bound must be >= the ELBO on the same eps",
               iwae=bound, elbo=elbo, call=call)
    assert_all(bound <= largest + ZERO_TOL + REL_TOL * np.abs(largest),
               "the IWAE bound must be <= the largest log-weight log p(x, z_j) - log q(z_j | x)",
               iwae=bound, largest_log_weight=largest, call=call)


@st.composite
def exact_posterior_arguments(draw):
    """Arguments whose q is the exact posterior, which is diagonal because W has orthogonal columns."""
    x, W, b, s, _, _, eps = draw(iwae_arguments(orthogonal=True))
    mean, cov = posterior(x, W, b, s)
    return x, W, b, s, mean, np.broadcast_to(np.log(np.diag(cov)), mean.shape).copy(), eps


@prop(points=2)
@given(args=exact_posterior_arguments())
def iwae_bound_equals_log_evidence_at_the_exact_posterior(student, args):
    """When q is the exact posterior every weight equals p(x), so the bound is log p(x) for every eps and S."""
    call = describe(*args) + " with q = p(z | x)"
    value = student.iwae_bound(*args)
    assert_finite(value, call=call)
    assert_close(value, log_evidence(*args[:4]), rtol=REL_TOL, atol=ZERO_TOL, what="the IWAE bound", call=call)


@prop(points=1)
@given(args=iwae_arguments(samples=(1, 4), per_draw=2))
def iwae_bound_does_not_decrease_when_samples_are_added(student, args):
    """The bound on 2S samples is at least the average of the bounds on its two halves (so E[IWAE_S] grows with S)."""
    *head, eps = args
    half = len(eps) // 2
    whole = student.iwae_bound(*head, eps)
    first, second = student.iwae_bound(*head, eps[:half]), student.iwae_bound(*head, eps[half:])
    average = (first + second) / 2
    assert_all(whole >= average - ZERO_TOL - REL_TOL * np.abs(average),
               f"the bound on {2 * half} samples must be >= the average of the bounds on its two halves",
               iwae_all=whole, average_of_halves=average, call=describe(*args))


# A stochastic assertion: N_ESTIMATES independent bounds of S = N_SAMPLES samples each, with q near the
# posterior; their average must not exceed log p(x) by more than Z standard errors (estimated from the
# returned values: a t-statistic with 999 degrees of freedom, whose tail at 6 is 1.4e-9; the bounds are
# smooth functions of Gaussian noise with light tails).
N_ESTIMATES = 1000
N_SAMPLES = 16
Z_ONE_SIDED = 6.0  # false-failure probability per example below 2e-9


@st.composite
def approximate_posteriors(draw):
    """(x, W, b, s, q_mu, q_logvar, seed): one data point, a diagonal q near the (full) posterior, and the seed
    of the noise."""
    W, b, s = draw(models())
    d, k = W.shape
    x = draw(arrays((d,), *DATA))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    mean, cov = posterior(x, W, b, s)
    q_mu = mean + rng.uniform(-0.5, 0.5, size=k) * np.sqrt(np.diag(cov))
    q_logvar = np.log(np.diag(cov)) + rng.uniform(-0.5, 0.5, size=k)
    return x, W, b, s, q_mu, q_logvar, draw(st.integers(0, 2**32 - 1))


@prop(points=1, max_examples=5, false_failure=5 * 2e-9)
@given(case=approximate_posteriors())
def iwae_bound_is_below_log_evidence_in_expectation(student, case):
    """On average over eps the IWAE bound lies below log p(x) (one-sided test at 6 standard errors)."""
    x, W, b, s, q_mu, q_logvar, seed = case
    eps = np.random.default_rng(seed).standard_normal((N_SAMPLES, N_ESTIMATES, len(q_mu)))
    repeat = (N_ESTIMATES, 1)
    args = (np.tile(x, repeat), W, b, s, np.tile(q_mu, repeat), np.tile(q_logvar, repeat), eps)
    call = describe(*args) + f": {N_ESTIMATES} bounds of {N_SAMPLES} samples"
    values = student.iwae_bound(*args)
    assert_shape(values, (N_ESTIMATES,), call=call)
    assert_finite(values, call=call)
    evidence = log_evidence(x, W, b, s)
    average, standard_error = values.mean(), values.std(ddof=1) / np.sqrt(N_ESTIMATES)
    assert_all(average <= evidence + Z_ONE_SIDED * standard_error + 1e-6 * (1 + abs(evidence)),
               f"the average IWAE bound must not exceed log p(x) by more than {Z_ONE_SIDED:g} standard errors",
               average_iwae=average, log_evidence=evidence, standard_error=standard_error, call=call)


@prop(points=2)
@given(args=iwae_arguments(samples=(2, 6), data=(-30.0, 30.0), noise=(0.05, 0.1)))
def iwae_bound_is_finite_for_log_weights_of_magnitude_1e4(student, args):
    """Far from the model (log-weights around -1e4, where exp underflows) the bound is finite and exact."""
    call = describe(*args)
    weights = log_weights(*args)
    bound = student.iwae_bound(*args)
    assert_finite(bound, call=call)
    assert_close(bound, log_mean_exp(weights), rtol=1e-5, atol=ZERO_TOL, what="the IWAE bound", call=call)


@prop(points=1)
@given(args=iwae_arguments())
def iwae_bound_matches_reference(student, reference, args):
    """The bound agrees with the reference solution to float32 precision."""
    assert_close(student.iwae_bound(*args), reference.iwae_bound(*args), rtol=REL_TOL, atol=ZERO_TOL,
                 call=describe(*args))
