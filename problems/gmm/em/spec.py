"""Properties of em(X, weights, means, variances, n_iter) -> (weights, means, variances, loglik (n_iter + 1,))."""

import numpy as np
from scipy.special import logsumexp

from grader.spec import (assert_all, assert_close, assert_finite, assert_shape, assume, call_text, given, prop, st,
                         unit_helpers)
from grader.strategies import reals

common = unit_helpers(__file__)
log_joint, posterior = common.log_joint, common.posterior

COMPONENTS = (1, 3)
DIMENSIONS = (1, 3)
ROWS = (40, 120)
ITERATIONS = (2, 8)
# float32 implementations are right: their parameters carry relative errors of about 1e-6 per iteration,
# which a few EM iterations amplify at most tenfold. Their log-likelihoods are compared within
# loglik_tolerance (below), about 30 times float32's worst-case rounding.
REL_TOL = 1e-4
PARAMETER_TOL = 1e-3
LOGLIK_REL_TOL = 2e-6
# Starts whose EM run lets a variance fall below this fraction of the data's variance are not used.
VARIANCE_FLOOR = 0.02


@st.composite
def problems(draw, k=None, n_iter=None, twins=False):
    """(X, theta0, n_iter): n points from a random mixture, and a starting theta0 for a k-component model
    (means at data points plus noise, variances around the data's, weights bounded away from 0). With
    ``twins``, components 0 and 1 of theta0 are identical. Starts from which EM degenerates (a component
    collapsing onto a few points) are rejected."""
    d = draw(st.integers(*DIMENSIONS))
    n = draw(st.integers(*ROWS))
    k = draw(st.integers(*COMPONENTS)) if k is None else k
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    true_k = rng.integers(1, 4)
    centres = rng.uniform(-5, 5, (true_k, d))
    spread = draw(reals(0.3, 2.0))
    X = centres[rng.integers(true_k, size=n)] + spread * rng.standard_normal((n, d))
    raw = rng.uniform(0.2, 1.0, k)
    means = X[rng.choice(n, size=k, replace=False)] + 0.1 * X.std() * rng.standard_normal((k, d))
    variances = X.var(0).mean() * rng.uniform(0.5, 2.0, k)
    if twins:
        raw[1], means[1], variances[1] = raw[0], means[0], variances[0]
    theta = (raw / raw.sum(), means, variances)
    assume(stays_well_conditioned(X, theta))
    n_iter = draw(st.integers(*ITERATIONS)) if n_iter is None else n_iter
    return X, theta, n_iter


def stays_well_conditioned(X, theta):
    """Over ITERATIONS[1] EM iterations (run here, in float64) every component keeps a total responsibility
    of at least 3 points and a variance of at least VARIANCE_FLOOR times the data's."""
    for _ in range(ITERATIONS[1]):
        resp = posterior(X, theta)
        counts = resp.sum(0)
        if counts.min() < 3:
            return False
        means = resp.T @ X / counts[:, None]
        variances = (resp * ((X[:, None, :] - means) ** 2).sum(-1)).sum(0) / (X.shape[1] * counts)
        if variances.min() < VARIANCE_FLOOR * X.var(0).mean():
            return False
        theta = (counts / len(X), means, variances)
    return True


def loglik_tolerance(X, theta):
    """How far a correct float32 implementation's total log-likelihoods may be from the exact ones, along
    the EM run from theta: float32 rounds each log-density and each squared distance (up to |x|^2 + |mu|^2
    when expanded), divided by a variance that stays above VARIANCE_FLOOR times the data's."""
    per_point = np.abs(logsumexp(log_joint(X, theta), axis=-1))
    expanded = ((X**2).sum(1) + (theta[1] ** 2).sum(1).max()) / (2 * VARIANCE_FLOOR * X.var(0).mean())
    return LOGLIK_REL_TOL * float((per_point + expanded).sum()) + 1e-6


def total_log_likelihood(X, theta):
    """sum_i log p(x_i | theta), computed with scipy in the grader."""
    return float(logsumexp(log_joint(X, theta), axis=-1).sum())


def run(student, X, theta, n_iter, history=True):
    """The student's (theta, loglik), checked for shapes and finiteness (loglik only with ``history``)."""
    call = call_text("em", X, *theta, n_iter)
    result = student.em(X, *theta, n_iter)
    if not (isinstance(result, tuple) and len(result) == 4):
        found = (f"a tuple of {len(result)} values" if isinstance(result, tuple)
                 else f"an array of shape {np.shape(result)}")
        raise AssertionError(f"em returned {found}, but should return (weights, means, variances, loglik) [{call}]")
    k, d = theta[1].shape
    checked = zip(result, ((k,), (k, d), (k,), (n_iter + 1,)), ("weights", "means", "variances", "loglik"))
    for value, shape, name in list(checked)[:4 if history else 3]:
        assert_shape(value, shape, what=name, call=call)
        assert_finite(value, what=name, call=call)
    return result[:3], result[3], call


@prop(points=1, max_examples=20)
@given(case=problems())
def em_returns_parameters_and_a_history_of_n_iter_plus_one_values(student, case):
    """The result is (weights (k,), means (k, d), variances (k,), loglik (n_iter + 1,)), all finite."""
    X, theta, n_iter = case
    run(student, X, theta, n_iter)


@prop(points=2, max_examples=30)
@given(case=problems(), data=st.data())
def em_history_is_the_log_likelihood_after_each_iteration(student, case, data):
    """loglik[i] is the total log-likelihood after i iterations, from the initial parameters to the returned ones."""
    X, theta, n_iter = case
    final, loglik, call = run(student, X, theta, n_iter)
    assert_close(loglik[0], total_log_likelihood(X, theta), rtol=0, atol=loglik_tolerance(X, theta),
                 what="loglik[0] (the total log-likelihood at the initial parameters)", call=call)
    assert_close(loglik[-1], total_log_likelihood(X, final), rtol=0, atol=loglik_tolerance(X, theta),
                 what=f"loglik[{n_iter}] (the total log-likelihood at the returned parameters)", call=call)
    m = data.draw(st.integers(1, n_iter - 1), label="m")
    _, shorter, shorter_call = run(student, X, theta, m)
    assert_close(loglik[:m + 1], shorter, rtol=0, atol=loglik_tolerance(X, theta), what=f"loglik[:{m + 1}]",
                 call=f"{call} vs {shorter_call}")


@prop(points=1, max_examples=30)
@given(case=problems())
def em_log_likelihood_never_decreases(student, case):
    """Every EM iteration increases the log-likelihood or leaves it unchanged: loglik is non-decreasing."""
    X, theta, n_iter = case
    _, loglik, call = run(student, X, theta, n_iter, history=False)
    assert_finite(loglik, what="loglik", call=call)
    steps = np.diff(np.ravel(loglik))
    assert_all(steps >= -2 * loglik_tolerance(X, theta),
               "the log-likelihood must never decrease from one EM iteration to the next",
               loglik=loglik, call=call)


def log_likelihood_gradient_in_means(X, theta, step=1e-5):
    """d/dmu_j of sum_i log p(x_i | theta) by central differences of the grader's log-likelihood."""
    weights, means, variances = theta
    gradient = np.zeros_like(means)
    for index in np.ndindex(means.shape):
        moved = [means.copy(), means.copy()]
        moved[0][index] += step
        moved[1][index] -= step
        gradient[index] = (total_log_likelihood(X, (weights, moved[0], variances))
                           - total_log_likelihood(X, (weights, moved[1], variances))) / (2 * step)
    return gradient


@prop(points=2, max_examples=30)
@given(case=problems(n_iter=1))
def em_iteration_maximises_the_elbo_that_touches_the_log_likelihood(student, case):
    """One iteration maximises the ELBO that touches the log-likelihood at theta_0 (same value, same gradient)."""
    X, theta, _ = case
    (weights, means, variances), _, call = run(student, X, theta, 1, history=False)
    resp = posterior(X, theta)
    counts = resp.sum(0)
    d = X.shape[1]
    # Stationarity of ELBO(Q0; theta) at theta_1 in the weights, means and variances.
    assert_close(weights, counts / len(X), rtol=REL_TOL, atol=1e-7,
                 what="weights (where the ELBO's gradient on the simplex vanishes)", call=call)
    squared = ((X[:, None, :] - means) ** 2).sum(-1)
    assert_close(variances, (resp * squared).sum(0) / (d * counts), rtol=REL_TOL, atol=1e-7,
                 what="variances (where the ELBO's gradient vanishes, given the new means)", call=call)
    # Same gradient: the ELBO's gradient at theta_0 is the log-likelihood's, so the new means are one
    # preconditioned gradient step away from the old ones.
    gradient = log_likelihood_gradient_in_means(X, theta)
    expected = theta[1] + (theta[2] / counts)[:, None] * gradient
    assert_close(means, expected, rtol=REL_TOL, atol=REL_TOL * (1 + np.abs(X).max()),
                 what="means (mu_0 + var_0 / N_j times the log-likelihood gradient)", call=call)


@prop(points=1, max_examples=20)
@given(case=problems(k=3, twins=True))
def em_keeps_identical_components_identical(student, case):
    """Two components that start identical stay identical: a symmetric start cannot separate clusters."""
    X, theta, n_iter = case
    (weights, means, variances), _, call = run(student, X, theta, n_iter, history=False)
    for value, name in ((weights, "weights"), (means, "means"), (variances, "variances")):
        assert_close(value[1], value[0], rtol=1e-5, atol=1e-7 * (1 + np.abs(X).max()),
                     what=f"{name} of component 1 (started identical to component 0)", call=call)


@prop(points=1, max_examples=20)
@given(case=problems(), data=st.data())
def em_runs_can_be_resumed(student, case, data):
    """Running m iterations and then n_iter - m more from the result gives the same parameters as n_iter at once."""
    X, theta, n_iter = case
    m = data.draw(st.integers(1, n_iter - 1), label="m")
    at_once, _, call = run(student, X, theta, n_iter, history=False)
    halfway, _, _ = run(student, X, theta, m, history=False)
    resumed, _, resumed_call = run(student, X, halfway, n_iter - m, history=False)
    for value, expected, name in zip(resumed, at_once, ("weights", "means", "variances")):
        assert_close(value, expected, rtol=PARAMETER_TOL, atol=PARAMETER_TOL, what=f"{name} after resuming",
                     call=f"{resumed_call} vs {call}")


@prop(points=2, max_examples=30)
@given(case=problems())
def em_matches_reference(student, reference, case):
    """The parameters and the log-likelihood history agree with the reference solution."""
    X, theta, n_iter = case
    final, loglik, call = run(student, X, theta, n_iter)
    expected = reference.em(X, *theta, n_iter)
    for value, wanted, name in zip(final, expected, ("weights", "means", "variances")):
        assert_close(value, wanted, rtol=PARAMETER_TOL, atol=PARAMETER_TOL, what=name, call=call)
    assert_close(loglik, expected[3], rtol=0, atol=loglik_tolerance(X, theta), what="loglik", call=call)
