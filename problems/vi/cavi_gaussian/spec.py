"""Properties of cavi_gaussian(mu, precision, m_init, n_iter) -> (means (n_iter + 1, 2), variances (2,)): mean-field
CAVI for N(mu, inv(precision)) with Gauss-Seidel updates (coordinate 0, then coordinate 1 given the new m_0)."""

import numpy as np

from grader.spec import assert_all, assert_close, assert_finite, assert_shape, call_text, given, prop, st
from grader.strategies import arrays, reals

ITERATIONS = (2, 8)
# |correlation| up to 0.95: the updates contract the error by r^2 >= 0.9 per iteration at worst, so
# CONVERGENCE_ITERATIONS bring any start to mu within 1e-13 of its distance.
CONVERGENCE_ITERATIONS = 300
# float32 implementations are right: they round every mean to about 6e-8 of the problem's scale, and one update
# multiplies such errors by at most 1 + |precision_01| / precision_jj.
REL_TOL = 1e-5


@st.composite
def targets(draw, n_iter=ITERATIONS):
    """(mu, precision, m_init, n_iter): precision with diagonal entries in [0.2, 5] (generally unequal) and a
    correlation of magnitude 0.1 to 0.95, either sign; m_init away from mu."""
    mu = draw(arrays((2,), -5.0, 5.0))
    diagonal = draw(arrays((2,), 0.2, 5.0))
    correlation = draw(reals(0.1, 0.95)) * draw(st.sampled_from([-1.0, 1.0]))
    off = correlation * np.sqrt(diagonal[0] * diagonal[1])
    precision = np.array([[diagonal[0], off], [off, diagonal[1]]])
    m_init = draw(arrays((2,), -5.0, 5.0))
    n = n_iter if isinstance(n_iter, int) else draw(st.integers(*n_iter))
    return mu, precision, m_init, n


def scale(mu, precision, m_init):
    """Length scale of the means, times the largest amplification of one update."""
    coupling = 1 + abs(precision[0, 1]) / precision.diagonal().min()
    return float(np.abs(mu).max() + np.abs(m_init - mu).max() + 1) * coupling


def run(student, mu, precision, m_init, n_iter):
    """The student's (means, variances), checked for shape and finiteness."""
    call = call_text("cavi_gaussian", mu, precision, m_init, n_iter)
    result = student.cavi_gaussian(mu, precision, m_init, n_iter)
    if not (isinstance(result, tuple) and len(result) == 2):
        found = f"a tuple of {len(result)} values" if isinstance(result, tuple) else f"shape {np.shape(result)}"
        raise AssertionError(f"cavi_gaussian returned {found}, but should return (means, variances) [{call}]")
    means, variances = result
    assert_shape(means, (n_iter + 1, 2), what="means", call=call)
    assert_shape(variances, (2,), what="variances", call=call)
    assert_finite(means, what="means", call=call)
    assert_finite(variances, what="variances", call=call)
    return means, variances, call


def elbo(means, variances, mu, precision):
    """E_q[log p] + H(q) for q = N(m_0, v_0) N(m_1, v_1), up to a constant, for each row of means."""
    centred = means - mu
    quadratic = np.einsum("...i,ij,...j->...", centred, precision, centred)
    return -0.5 * (quadratic + precision.diagonal() @ variances) + 0.5 * np.log(variances).sum()


@prop(points=1, max_examples=20)
@given(target=targets())
def cavi_returns_the_history_of_means_from_m_init_and_two_variances(student, target):
    """means has shape (n_iter + 1, 2) and starts at means[0] = m_init; variances has shape (2,)."""
    mu, precision, m_init, n_iter = target
    means, _, call = run(student, *target)
    assert_close(means[0], m_init, rtol=REL_TOL, atol=REL_TOL * scale(mu, precision, m_init),
                 what="means[0] (the initial means)", call=call)


@prop(points=2, max_examples=20)
@given(target=targets())
def cavi_variances_are_inverse_diagonal_precisions(student, target):
    """The factors' variances are 1 / precision_jj, smaller than the true marginal variances inv(precision)_jj."""
    mu, precision, m_init, n_iter = target
    _, variances, call = run(student, *target)
    assert_close(variances, 1 / precision.diagonal(), rtol=REL_TOL, atol=0, what="variances", call=call)
    marginal = np.linalg.inv(precision).diagonal()
    assert_all(variances < marginal, "mean-field variances must be below the true marginal variances",
               variances=variances, marginal_variances=marginal, call=call)


@prop(points=2)
@given(target=targets())
def cavi_updates_coordinate_0_then_coordinate_1(student, target):
    """means[i+1][0] is the optimal m_0 given means[i][1]; means[i+1][1] is the optimal m_1 given the NEW m_0."""
    mu, precision, m_init, n_iter = target
    means, _, call = run(student, *target)
    tolerance = REL_TOL * scale(mu, precision, m_init)
    first = mu[0] - precision[0, 1] * (means[:-1, 1] - mu[1]) / precision[0, 0]
    assert_close(means[1:, 0], first, rtol=0, atol=tolerance,
                 what="means[i+1][0] (mu_0 - precision_01 (means[i][1] - mu_1) / precision_00)", call=call)
    second = mu[1] - precision[1, 0] * (means[1:, 0] - mu[0]) / precision[1, 1]
    assert_close(means[1:, 1], second, rtol=0, atol=tolerance,
                 what="means[i+1][1] (mu_1 - precision_10 (means[i+1][0] - mu_0) / precision_11)", call=call)


@prop(points=2)
@given(target=targets())
def cavi_elbo_never_decreases(student, target):
    """The ELBO of the returned factors never decreases from one iteration to the next."""
    mu, precision, m_init, n_iter = target
    means, variances, call = run(student, *target)
    values = elbo(means, np.maximum(variances, 1e-300), mu, precision)
    tolerance = REL_TOL * scale(mu, precision, m_init) ** 2 * precision.max()
    assert_all(np.diff(values) >= -tolerance, "the ELBO must never decrease from one iteration to the next",
               elbo=values, call=call)


@prop(points=1, max_examples=20)
@given(target=targets(n_iter=CONVERGENCE_ITERATIONS))
def cavi_converges_to_mu(student, target):
    """After many iterations the factor means reach the target's mean mu (mean-field gets the mean right)."""
    mu, precision, m_init, n_iter = target
    means, _, call = run(student, *target)
    assert_close(means[-1], mu, rtol=0, atol=REL_TOL * scale(mu, precision, m_init),
                 what=f"means[{n_iter}]", call=call)


@prop(points=2)
@given(target=targets())
def cavi_gaussian_matches_reference(student, reference, target):
    """The history of means and the variances agree with the reference solution."""
    mu, precision, m_init, n_iter = target
    means, variances, call = run(student, *target)
    expected_means, expected_variances = reference.cavi_gaussian(*target)
    assert_close(means, expected_means, rtol=0, atol=REL_TOL * scale(mu, precision, m_init) * n_iter,
                 what="means", call=call)
    assert_close(variances, expected_variances, rtol=REL_TOL, atol=0, what="variances", call=call)
