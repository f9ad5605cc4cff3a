"""Shared by the score problems' specs: spherical Gaussian mixtures sum_j w_j N(mu_j, v_j I) (a Gaussian is the
one-component case) in closed form, computed in the grader in float64: log-densities, scores, exact samples and
moments, and the matching callables of the public harness library that the student's code receives."""

import numpy as np
from scipy.special import logsumexp, softmax

from grader.spec import harness_callable, st
from grader.strategies import arrays

# float32 rounding of one operation, relative (a few ulps): tolerances of quantities computed in float32 grow with
# the magnitudes that get rounded.
FLOAT32_ROUNDING = 1e-6


def log_components(x, weights, means, variances):
    """log w_j + log N(x; mu_j, v_j I) for each component: (..., d) -> (..., k)."""
    d = x.shape[-1]
    squared = ((x[..., None, :] - means) ** 2).sum(-1)
    return np.log(weights) - 0.5 * (squared / variances + d * np.log(2 * np.pi * variances))


def log_density(x, mixture):
    """log sum_j w_j N(x; mu_j, v_j I): (..., d) -> (...)."""
    return logsumexp(log_components(x, *mixture), axis=-1)


def score(x, mixture):
    """grad_x log p(x) = sum_j r_j(x) (mu_j - x) / v_j: (..., d) -> (..., d)."""
    weights, means, variances = mixture
    responsibilities = softmax(log_components(x, *mixture), axis=-1)
    return (responsibilities[..., None] * (means - x[..., None, :]) / variances[:, None]).sum(-2)


def sample(rng, mixture, n):
    """n exact draws from the mixture, (n, d)."""
    weights, means, variances = mixture
    component = rng.choice(len(weights), size=n, p=weights)
    return means[component] + np.sqrt(variances[component])[:, None] * rng.standard_normal((n, means.shape[1]))


def coordinate_moments(mixture):
    """Per coordinate: (E[x], Var x, E[x^2], Var x^2) under the mixture, each (d,)."""
    weights, means, variances = mixture
    v = variances[:, None]
    first = weights @ means
    second = weights @ (means**2 + v)
    fourth = weights @ (means**4 + 6 * means**2 * v + 3 * v**2)
    return first, second - first**2, second, fourth - second**2


def spread(mixture):
    """A length scale of the mixture: the root of the largest per-coordinate variance."""
    return float(np.sqrt(coordinate_moments(mixture)[1].max()))


@st.composite
def mixtures(draw, d=None, components=(1, 3), means=(-2.0, 2.0), variances=(0.3, 3.0)):
    """(weights (k,), means (k, d), variances (k,)): a Gaussian when k = 1; weights at least 0.1 / k before
    normalising. The default means and variances keep the components overlapping (a random walk mixes fast)."""
    d = draw(st.integers(1, 3)) if d is None else d
    k = draw(st.integers(*components))
    raw = draw(arrays((k,), 0.1, 1.0))
    return raw / raw.sum(), draw(arrays((k, d), *means)), draw(arrays((k,), *variances))


def log_prob_callable(mixture):
    """The harness log-density of the mixture (gaussian_log_prob for one component), maps (chains, d) -> (chains,)."""
    weights, means, variances = mixture
    if len(weights) == 1:
        return harness_callable("gaussian_log_prob", mean=means[0], var=float(variances[0]))
    return harness_callable("gaussian_mixture_log_prob", weights=weights, means=means, variances=variances)


def score_callable(mixture):
    """The harness score of the mixture (gaussian_score for one component), maps (..., d) -> (..., d)."""
    weights, means, variances = mixture
    if len(weights) == 1:
        return harness_callable("gaussian_score", mean=means[0], var=float(variances[0]))
    return harness_callable("gaussian_mixture_score", weights=weights, means=means, variances=variances)


def describe(mixture):
    """A short text for failure messages: the target's weights, means and variances."""
    weights, means, variances = mixture
    if len(weights) == 1:
        return f"N(mean={np.array2string(means[0], precision=3)}, var={variances[0]:.4g} I)"
    return (f"mixture(weights={np.array2string(weights, precision=3)}, means={np.array2string(means, precision=3)}, "
            f"variances={np.array2string(variances, precision=3)})")
