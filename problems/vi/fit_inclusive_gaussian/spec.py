"""Properties of fit_inclusive_gaussian(weights, means, stds) -> (mu, sigma) = argmin KL(p || N(mu, sigma^2)) for a
1-D Gaussian mixture p: moment matching."""

import numpy as np

from grader.spec import assert_close, given, prop, st, unit_helpers
from grader.strategies import reals

common = unit_helpers(__file__)
mixtures, moments, fit, scale = common.mixtures, common.moments, common.fit, common.scale

NAME = "fit_inclusive_gaussian"
# float32 implementations are right: they round the moments to a few 1e-7 of the mixture's scale.
REL_TOL = 1e-5


def inclusive_fit(student, mixture):
    return fit(student, NAME, mixture)


@prop(points=1, max_examples=20)
@given(mixture=mixtures())
def fit_inclusive_gaussian_returns_a_mean_and_a_positive_std(student, mixture):
    """The result is a tuple (mu, sigma) of two finite scalars with sigma > 0."""
    inclusive_fit(student, mixture)


@prop(points=2)
@given(mixture=mixtures())
def inclusive_fit_matches_the_mixture_mean(student, mixture):
    """mu is the mixture's mean sum_k w_k m_k (the first moment of p is matched)."""
    mu, _, call = inclusive_fit(student, mixture)
    assert_close(mu, moments(*mixture)[0], rtol=REL_TOL, atol=REL_TOL * scale(mixture), what="mu", call=call)


@prop(points=3)
@given(mixture=mixtures(min_k=2))
def inclusive_fit_matches_the_total_variance(student, mixture):
    """sigma^2 is the mixture's variance: the mean within-component variance plus the variance of the means."""
    weights, means, stds = mixture
    _, sigma, call = inclusive_fit(student, mixture)
    mean = weights @ means
    within, between = weights @ stds**2, weights @ (means - mean) ** 2
    assert_close(sigma**2, within + between, rtol=REL_TOL, atol=REL_TOL * scale(mixture) ** 2,
                 what=f"sigma^2 (within-component {within:.6g} + between-component {between:.6g})", call=call)


@prop(points=1, max_examples=20)
@given(mixture=mixtures(k=1))
def inclusive_fit_of_one_component_is_that_component(student, mixture):
    """For a single component N(m, s^2) the fit is q = p itself: (mu, sigma) = (m, s)."""
    mu, sigma, call = inclusive_fit(student, mixture)
    assert_close(np.array([mu, sigma]), np.array([mixture[1][0], mixture[2][0]]), rtol=REL_TOL,
                 atol=REL_TOL * scale(mixture), what="(mu, sigma)", call=call)


@prop(points=1, max_examples=20)
@given(mixture=mixtures(), shift=reals(-5.0, 5.0), factor=reals(0.5, 2.0), flip=st.booleans())
def inclusive_fit_follows_affine_maps(student, mixture, shift, factor, flip):
    """Mapping p through x -> a + b x maps the fit to (a + b mu, |b| sigma), for either sign of b."""
    weights, means, stds = mixture
    b = -factor if flip else factor
    mu, sigma, _ = inclusive_fit(student, mixture)
    moved = (weights, shift + b * means, factor * stds)
    mu_moved, sigma_moved, call = inclusive_fit(student, moved)
    tolerance = 2 * REL_TOL * (abs(shift) + factor * scale(mixture))
    assert_close(np.array([mu_moved, sigma_moved]), np.array([shift + b * mu, factor * sigma]), rtol=REL_TOL,
                 atol=tolerance, what=f"(mu, sigma) of p mapped by x -> {shift:.4g} + {b:.4g} x", call=call)


@prop(points=2)
@given(mixture=mixtures())
def fit_inclusive_gaussian_matches_reference(student, reference, mixture):
    """(mu, sigma) agrees with the reference solution to float32 precision."""
    mu, sigma, call = inclusive_fit(student, mixture)
    expected = np.array([float(v) for v in reference.fit_inclusive_gaussian(*mixture)])
    assert_close(np.array([mu, sigma]), expected, rtol=REL_TOL, atol=REL_TOL * scale(mixture),
                 what="(mu, sigma)", call=call)
