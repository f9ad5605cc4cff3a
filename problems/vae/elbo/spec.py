"""Properties of elbo(x, W, b, s, q_mu, q_logvar, eps), the Monte Carlo ELBO of the linear-Gaussian model
z ~ N(0, I_k), x | z ~ N(W z + b, s^2 I_d), with q(z | x) = N(q_mu, diag(exp(q_logvar)))."""

import numpy as np

from grader.spec import assert_all, assert_close, assert_finite, assert_shape, call_text, given, prop, st, unit_helpers
from grader.strategies import arrays

common = unit_helpers(__file__)
log_evidence, posterior, models = common.log_evidence, common.posterior, common.models

BATCHES = ((), (2,), (2, 3))
DATA = (-5.0, 5.0)
# float32 implementations are right: the ELBO is a sum of terms of magnitude up to about 1e3 (s = 0.3),
# so float32 rounding reaches a few 1e-5; the catalogued mistakes are off by more than 0.1.
ZERO_TOL = 1e-3
REL_TOL = 1e-4


def single_sample_moments(x, W, b, s, q_mu, q_logvar):
    """Mean log p(x) - KL(q || p(z | x)) and variance of log p(x, z) - log q(z | x) for z ~ q (one x).

    With z = q_mu + D eps (D = diag of the standard deviations), P the posterior precision and
    delta = q_mu - posterior mean, the log-weight is a constant - (D P delta)^T eps - eps^T (D P D - I) eps / 2,
    whose variance is ||D P delta||^2 + tr((D P D - I)^2) / 2.
    """
    k = W.shape[1]
    mean, cov = posterior(x, W, b, s)
    precision = np.linalg.inv(cov)
    sd, delta = np.exp(q_logvar / 2), q_mu - mean
    kl = 0.5 * (np.sum(np.diag(precision) * sd**2) + delta @ precision @ delta - k
                + np.linalg.slogdet(cov)[1] - q_logvar.sum())
    linear = sd * (precision @ delta)
    quadratic = sd[:, None] * precision * sd[None, :] - np.eye(k)
    return log_evidence(x, W, b, s) - kl, linear @ linear + 0.5 * np.sum(quadratic * quadratic)


@st.composite
def elbo_arguments(draw, orthogonal=False, samples=(1, 4)):
    """(x, W, b, s, q_mu, q_logvar, eps) with a batch shape (...) and S samples of noise."""
    W, b, s = draw(models(orthogonal))
    d, k = W.shape
    batch = draw(st.sampled_from(BATCHES))
    S = draw(st.integers(*samples))
    x = draw(arrays((*batch, d), *DATA))
    q_mu = draw(arrays((*batch, k), -3.0, 3.0))
    q_logvar = draw(arrays((*batch, k), -3.0, 1.5))
    eps = draw(arrays((S, *batch, k), -3.0, 3.0))
    return x, W, b, s, q_mu, q_logvar, eps


def describe(x, W, b, s, q_mu, q_logvar, eps):
    return call_text("elbo", x, W, b, s, q_mu, q_logvar, eps)


@prop(points=1)
@given(args=elbo_arguments())
def elbo_has_the_batch_shape(student, args):
    """The ELBO has the batch shape (...) of x: one value per data point, averaged over the S samples."""
    x = args[0]
    assert_shape(student.elbo(*args), x.shape[:-1], call=describe(*args))


@st.composite
def exact_posterior_arguments(draw):
    """Arguments whose q is the exact posterior, which is diagonal because W has orthogonal columns."""
    x, W, b, s, _, _, eps = draw(elbo_arguments(orthogonal=True))
    mean, cov = posterior(x, W, b, s)
    return x, W, b, s, mean, np.broadcast_to(np.log(np.diag(cov)), mean.shape).copy(), eps


@prop(points=2)
@given(args=exact_posterior_arguments())
def elbo_equals_log_evidence_at_the_exact_posterior(student, args):
    """When q is the exact (diagonal) posterior, the ELBO equals log p(x) for every eps, not just on average."""
    call = describe(*args) + " with q = p(z | x)"
    value = student.elbo(*args)
    assert_finite(value, call=call)
    assert_close(value, log_evidence(*args[:4]), rtol=REL_TOL, atol=ZERO_TOL, what="the ELBO", call=call)


@prop(points=1)
@given(args=elbo_arguments(samples=(2, 4)))
def elbo_is_the_mean_over_samples(student, args):
    """The ELBO over S noise draws is the mean (not the sum) of the ELBOs of the single draws."""
    *head, eps = args
    whole = student.elbo(*head, eps)
    singles = np.mean([student.elbo(*head, eps[j:j + 1]) for j in range(len(eps))], axis=0)
    assert_close(whole, singles, rtol=REL_TOL, atol=ZERO_TOL, what="the ELBO of all samples",
                 call=describe(*args) + f" vs the mean of its {len(eps)} single-sample ELBOs")


# Stochastic assertions: n estimates, each the mean of S = 2 single-sample ELBOs. Their exact mean
# (log p(x) - KL) and variance are known in closed form, so the z-statistics below are exact up to the
# normal approximation of a mean of 8000 i.i.d. quadratic forms in Gaussians (q is kept within one
# posterior standard deviation and a factor e of the posterior, which keeps their skewness below 3, as
# measured; the Edgeworth correction at 6 standard errors is then at most 1.1e-9).
N_ESTIMATES = 4000
N_SAMPLES = 2
Z_ONE_SIDED = 6.0  # P(N(0, 1) > 6) = 9.9e-10, 2.1e-9 with the correction: false-failure probability per example
Z_TWO_SIDED = 6.0  # P(|N(0, 1)| > 6) = 2.0e-9, 3.1e-9 with the correction: false-failure probability per example


@st.composite
def approximate_posteriors(draw):
    """(x, W, b, s, q_mu, q_logvar, seed): one data point, a diagonal q near the (full) posterior, and the seed
    of the noise."""
    W, b, s = draw(models())
    d, k = W.shape
    x = draw(arrays((d,), *DATA))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    mean, cov = posterior(x, W, b, s)
    q_mu = mean + rng.uniform(-1.0, 1.0, size=k) * np.sqrt(np.diag(cov))
    q_logvar = np.log(np.diag(cov)) + rng.uniform(-1.0, 1.0, size=k)
    return x, W, b, s, q_mu, q_logvar, draw(st.integers(0, 2**32 - 1))


def _estimates(student, case):
    """N_ESTIMATES independent ELBOs of N_SAMPLES samples each: x, q_mu and q_logvar repeated, eps
    (N_SAMPLES, N_ESTIMATES, k) standard normal."""
    x, W, b, s, q_mu, q_logvar, seed = case
    eps = np.random.default_rng(seed).standard_normal((N_SAMPLES, N_ESTIMATES, len(q_mu)))
    repeat = (N_ESTIMATES, 1)
    args = (np.tile(x, repeat), W, b, s, np.tile(q_mu, repeat), np.tile(q_logvar, repeat), eps)
    call = describe(*args) + f": {N_ESTIMATES} estimates of {N_SAMPLES} samples"
    values = student.elbo(*args)
    assert_shape(values, (N_ESTIMATES,), call=call)
    assert_finite(values, call=call)
    return values, call


@prop(points=1, max_examples=5, false_failure=5 * 2.1e-9)
@given(case=approximate_posteriors())
def elbo_is_below_log_evidence_in_expectation(student, case):
    """On average over eps the ELBO lies below log p(x) (one-sided test at 6 standard errors)."""
    x, W, b, s, q_mu, q_logvar, _ = case
    values, call = _estimates(student, case)
    _, variance = single_sample_moments(x, W, b, s, q_mu, q_logvar)
    standard_error = np.sqrt(variance / (N_SAMPLES * N_ESTIMATES))
    evidence = log_evidence(x, W, b, s)
    average = values.mean()
    assert_all(average <= evidence + Z_ONE_SIDED * standard_error + 1e-6 * (1 + abs(evidence)),
               f"the average ELBO must not exceed log p(x) by more than {Z_ONE_SIDED:g} standard errors",
               average_elbo=average, log_evidence=evidence, standard_error=standard_error, call=call)


@prop(points=2, max_examples=8, false_failure=8 * 3.1e-9)
@given(case=approximate_posteriors())
def elbo_expectation_is_log_evidence_minus_kl(student, case):
    """On average over eps the ELBO equals log p(x) - KL(q || p(z | x)) (two-sided test at 6 standard errors)."""
    x, W, b, s, q_mu, q_logvar, _ = case
    values, call = _estimates(student, case)
    expected, variance = single_sample_moments(x, W, b, s, q_mu, q_logvar)
    standard_error = np.sqrt(variance / (N_SAMPLES * N_ESTIMATES))
    assert_close(values.mean(), expected, rtol=0, atol=Z_TWO_SIDED * standard_error + 1e-6 * (1 + abs(expected)),
                 what="the average ELBO", call=call + " vs log p(x) - KL(q || p(z | x))")


@prop(points=2)
@given(args=elbo_arguments())
def elbo_gradients_follow_the_reparameterisation(student, args):
    """Autograd through your ELBO gives the reparameterisation gradients w.r.t. q_mu and q_logvar."""
    x, W, b, s, q_mu, q_logvar, eps = args
    call = describe(*args)
    _, grads = student.grad("elbo", *args, wrt=[4, 5])
    for gradient, name in zip(grads, ("q_mu", "q_logvar")):
        if gradient is None:
            raise AssertionError(f"the ELBO does not depend on {name} in the autograd graph [{call}]")
    sd = np.exp(q_logvar / 2)
    z = q_mu + sd * eps
    # d/dz [log p(x | z) + log p(z)]; -log q(z) contributes only through -sum(q_logvar) / 2 at fixed eps.
    joint_score = ((x - z @ W.T - b) / s**2) @ W - z
    assert_close(grads[0], joint_score.mean(0), rtol=REL_TOL, atol=ZERO_TOL, what="d ELBO / d q_mu", call=call)
    assert_close(grads[1], (joint_score * sd * eps / 2).mean(0) + 0.5, rtol=REL_TOL, atol=ZERO_TOL,
                 what="d ELBO / d q_logvar", call=call)


@prop(points=1)
@given(args=elbo_arguments())
def elbo_matches_reference(student, reference, args):
    """The ELBO agrees with the reference solution to float32 precision."""
    assert_close(student.elbo(*args), reference.elbo(*args), rtol=REL_TOL, atol=ZERO_TOL, call=describe(*args))
