"""Properties of gmm_log_likelihood(X, weights, means, variances) = log sum_j w_j N(x_i; mu_j, var_j I) per row."""

import numpy as np

from grader.spec import assert_all, assert_close, assert_finite, assert_shape, call_text, given, prop, st, unit_helpers
from grader.strategies import reals

common = unit_helpers(__file__)
cases, log_joint, mixtures = common.cases, common.log_joint, common.mixtures

# float32 implementations are right: their log-densities carry relative errors of about 1e-7 of the
# squared distances (about 1e-4 absolute for points among the components).
ABS_TOL = 1e-3
REL_TOL = 1e-5


def log_likelihood(student, X, mixture):
    call = call_text("gmm_log_likelihood", X, *mixture)
    result = student.gmm_log_likelihood(X, *mixture)
    assert_shape(result, X.shape[:1], call=call)
    assert_finite(result, call=call)
    return result, call


@prop(points=1, max_examples=20)
@given(case=cases(far=True))
def gmm_log_likelihood_returns_one_finite_value_per_row(student, case):
    """The result has shape (n,): one finite log-likelihood per row of X."""
    X, mixture = case
    log_likelihood(student, X, mixture)


@prop(points=2)
@given(case=cases(mixture=mixtures(k=1)))
def gmm_log_likelihood_of_one_component_is_the_gaussian_log_density(student, case):
    """With a single component (weight 1) the result is the Gaussian log-density log N(x; mu, var I)."""
    X, mixture = case
    result, call = log_likelihood(student, X, mixture)
    assert_close(result, log_joint(X, mixture)[:, 0], rtol=REL_TOL, atol=ABS_TOL, what="log N(x; mu, var I)",
                 call=call)


@st.composite
def split_cases(draw):
    """(X, mixture, split mixture): one component split into two identical halves, components reordered."""
    X, mixture = draw(cases())
    weights, means, variances = mixture
    j = draw(st.integers(0, len(weights) - 1))
    share = draw(reals(0.1, 0.9))
    order = draw(st.permutations(range(len(weights) + 1)))
    split = (np.append(np.where(np.arange(len(weights)) == j, weights * share, weights), weights[j] * (1 - share)),
             np.concatenate([means, means[j:j + 1]]), np.append(variances, variances[j]))
    return X, mixture, tuple(parameter[list(order)] for parameter in split)


@prop(points=2)
@given(case=split_cases())
def gmm_log_likelihood_is_unchanged_by_splitting_or_reordering_components(student, case):
    """Splitting a component into two identical halves, or reordering the components, changes nothing."""
    X, mixture, split = case
    original, call = log_likelihood(student, X, mixture)
    after, split_call = log_likelihood(student, X, split)
    assert_close(after, original, rtol=REL_TOL, atol=ABS_TOL, what="log-likelihood after the split",
                 call=f"{call} vs {split_call}")


@prop(points=2)
@given(case=cases(far=True))
def gmm_log_likelihood_stays_finite_far_from_every_mean(student, case):
    """Far from every mean the result stays finite, within log k of the largest log w_j + log N(x; mu_j, var_j I)."""
    X, mixture = case
    result, call = log_likelihood(student, X, mixture)
    joint = log_joint(X, mixture)
    largest = joint.max(-1)
    slack = REL_TOL * np.abs(largest) + ABS_TOL
    assert_all(result >= largest - slack, "log p(x) must be at least max_j [log w_j + log N(x; mu_j, var_j I)]",
               log_likelihood=result, largest_term=largest, call=call)
    assert_all(result <= largest + np.log(joint.shape[-1]) + slack,
               "log p(x) must be at most max_j [log w_j + log N(x; mu_j, var_j I)] + log k",
               log_likelihood=result, largest_term=largest, call=call)


GRID_HALF_WIDTH = 12.0  # standard deviations beyond the outermost means: the mass outside is below 1e-30
GRID_POINTS = {1: 20001, 2: 401}


@prop(points=1, max_examples=10)
@given(mixture=st.integers(1, 2).flatmap(lambda d: mixtures(d=d, variances=(0.25, 4.0))))
def gmm_log_likelihood_integrates_to_one(student, mixture):
    """exp(log-likelihood) is a probability density: it integrates to 1 (trapezoidal rule on a fine grid, d <= 2)."""
    weights, means, variances = mixture
    d = means.shape[1]
    reach = GRID_HALF_WIDTH * np.sqrt(variances.max())
    axes = [np.linspace(means[:, c].min() - reach, means[:, c].max() + reach, GRID_POINTS[d]) for c in range(d)]
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, d)
    call = call_text("gmm_log_likelihood", grid, *mixture) + f" on a {' x '.join(str(len(a)) for a in axes)} grid"
    result = student.gmm_log_likelihood(grid, *mixture)
    assert_shape(result, grid.shape[:1], call=call)
    density = np.exp(np.asarray(result).reshape([len(a) for a in axes]))
    for axis in reversed(axes):
        density = np.trapezoid(density, axis, axis=-1)
    # Grid spacing is at most a third of the narrowest standard deviation: the rule is exact to ~1e-10.
    assert_close(density, 1.0, rtol=0, atol=1e-3, what="the integral of p(x)", call=call)


@prop(points=2)
@given(case=cases(far=True))
def gmm_log_likelihood_matches_reference(student, reference, case):
    """The log-likelihoods agree with the reference solution, near the components and far from them."""
    X, mixture = case
    result, call = log_likelihood(student, X, mixture)
    assert_close(result, reference.gmm_log_likelihood(X, *mixture), rtol=REL_TOL, atol=ABS_TOL, call=call)
