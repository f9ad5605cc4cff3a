"""Properties of fit_exclusive_gaussian(weights, means, stds) -> (mu, sigma), the global minimiser of
KL(N(mu, sigma^2) || p) for a 1-D Gaussian mixture p. No training loop: the grader evaluates KL(q || p) and its
gradient at the returned (mu, sigma) by quadrature, and finds every local minimum by its own multi-start search."""

import numpy as np

from grader.spec import assert_all, assert_close, assume, given, note, prop, st, unit_helpers

common = unit_helpers(__file__)
mixtures, separated_mixtures, fit = common.mixtures, common.separated_mixtures, common.fit
exclusive_kl, scaled_gradient, scaled_hessian = common.exclusive_kl, common.scaled_gradient, common.scaled_hessian
local_minima, candidate_grid = common.local_minima, common.candidate_grid

NAME = "fit_exclusive_gaussian"
# The statement promises this bound on (sigma dKL/dmu, dKL/dlog sigma); a converged float32 implementation reaches
# about 1e-5, the catalogued mistakes are off by more than 1e-2 on most mixtures.
GRADIENT_TOL = 1e-3
# A point meeting GRADIENT_TOL near a minimum whose Hessian (in (mu / sigma, log sigma)) has its smallest eigenvalue
# above 0.0025 exceeds the minimum's KL by at most GRADIENT_TOL^2 / (2 * 0.0025) = 2e-4.
KL_TOL = 2e-4
# Mixtures graded against the reference have one clear global minimum: the next local minimum is at least this much
# worse, and the smallest Hessian eigenvalue there is at least MIN_CURVATURE (parameters then agree to
# 2 GRADIENT_TOL / MIN_CURVATURE).
KL_GAP = 0.02
MIN_CURVATURE = 0.1


def exclusive_fit(student, mixture):
    return fit(student, NAME, mixture)


@prop(points=1, max_examples=10)
@given(mixture=mixtures())
def fit_exclusive_gaussian_returns_a_mean_and_a_positive_std(student, mixture):
    """The result is a tuple (mu, sigma) of two finite scalars with sigma > 0."""
    exclusive_fit(student, mixture)


@prop(points=2, max_examples=20)
@given(mixture=mixtures(min_k=2))
def exclusive_fit_is_stationary(student, mixture):
    """At (mu, sigma) the gradient of KL(q || p) in (mu / sigma, log sigma) vanishes (below 1e-3 in each entry)."""
    mu, sigma, call = exclusive_fit(student, mixture)
    gradient = scaled_gradient(mu, sigma, mixture)
    note(f"KL(q || p) = {exclusive_kl(mu, sigma, mixture):.10g} at (mu, sigma) = ({mu:.10g}, {sigma:.10g})")
    assert_all(np.abs(gradient) <= GRADIENT_TOL,
               f"(sigma dKL/dmu, dKL/dlog sigma) must be below {GRADIENT_TOL:g} in absolute value at a minimiser "
               "of KL(q || p)", gradient=gradient, call=call)


@prop(points=2, max_examples=15)
@given(mixture=mixtures(min_k=2))
def exclusive_fit_is_no_worse_than_any_candidate(student, mixture):
    """No candidate q (a grid over every component's neighbourhood, every local minimum) has a lower KL(q || p)."""
    mu, sigma, call = exclusive_fit(student, mixture)
    kl = float(exclusive_kl(mu, sigma, mixture))
    grid_mu, grid_sigma = candidate_grid(mixture)
    best = int(np.argmin(exclusive_kl(grid_mu, grid_sigma, mixture, coarse=True)))
    grid_best = grid_mu.ravel()[best], grid_sigma.ravel()[best]
    candidates = [(float(exclusive_kl(*grid_best, mixture)), *grid_best)]
    minima = local_minima(mixture)
    best_kl, best_mu, best_sigma = min(candidates + minima)
    note(f"local minima (KL, mu, sigma): {minima}")
    assert_all(kl <= best_kl + KL_TOL,
               f"KL(q || p) = {kl:.8g} at the returned (mu, sigma) = ({mu:.6g}, {sigma:.6g}), but (mu, sigma) = "
               f"({best_mu:.6g}, {best_sigma:.6g}) reaches {best_kl:.8g}: the returned fit is not a global minimum",
               kl=kl, best_kl=best_kl, call=call)


@prop(points=1, max_examples=10)
@given(mixture=mixtures(k=1))
def exclusive_fit_of_one_component_is_that_component(student, mixture):
    """For a single component N(m, s^2) the fit is q = p itself: (mu, sigma) = (m, s)."""
    mu, sigma, call = exclusive_fit(student, mixture)
    s = mixture[2][0]
    assert_close(np.array([mu, sigma]), np.array([mixture[1][0], s]), rtol=0, atol=2 * GRADIENT_TOL * s,
                 what="(mu, sigma)", call=call)


@prop(points=2, max_examples=15)
@given(mixture=separated_mixtures())
def exclusive_fit_seeks_the_heaviest_of_well_separated_modes(student, mixture):
    """With modes 12 standard deviations apart, q sits on the heaviest one: (mu, sigma) = (m_k, s_k) (mode seeking)."""
    weights, means, stds = mixture
    k = int(np.argmax(weights))
    mu, sigma, call = exclusive_fit(student, mixture)
    assert_close(np.array([mu, sigma]), np.array([means[k], stds[k]]), rtol=0, atol=2 * GRADIENT_TOL * stds[k],
                 what=f"(mu, sigma) (the heaviest component is k = {k})", call=call)


@st.composite
def clear_minimum_mixtures(draw):
    """Well-separated or overlapping mixtures whose global minimum is unique, clearly below the next local
    minimum and well curved; with its local minima."""
    mixture = draw(st.one_of(mixtures(min_k=2), separated_mixtures()))
    minima = local_minima(mixture)
    assume(len(minima) == 1 or minima[1][0] - minima[0][0] >= KL_GAP)
    _, mu, sigma = minima[0]
    assume(np.linalg.eigvalsh(scaled_hessian(mu, sigma, mixture))[0] >= MIN_CURVATURE)
    return mixture, minima


@prop(points=2, max_examples=15)
@given(case=clear_minimum_mixtures())
def fit_exclusive_gaussian_matches_reference(student, reference, case):
    """On mixtures with one clear global minimum, (mu, sigma) agrees with the reference solution's."""
    mixture, minima = case
    mu, sigma, call = exclusive_fit(student, mixture)
    mu_ref, sigma_ref = (float(v) for v in reference.fit_exclusive_gaussian(*mixture))
    note(f"local minima (KL, mu, sigma): {minima}")
    tolerance = 2 * GRADIENT_TOL / MIN_CURVATURE
    assert_close(np.array([mu / sigma_ref, np.log(sigma)]), np.array([mu_ref / sigma_ref, np.log(sigma_ref)]),
                 rtol=0, atol=tolerance, what="(mu / sigma_ref, log sigma)", call=call)
