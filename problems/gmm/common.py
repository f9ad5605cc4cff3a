"""Strategies and helpers shared by the gmm problems: spherical Gaussian mixtures theta = (weights (k,),
means (k, d), variances (k,)), points drawn from them or far from them, and exact log-densities (scipy)."""

import numpy as np
from scipy.special import softmax
from scipy.stats import norm

from grader.spec import st
from grader.strategies import arrays

COMPONENTS = (1, 4)
DIMENSIONS = (1, 3)
ROWS = (1, 30)
MEANS = (-5.0, 5.0)
VARIANCES = (0.1, 4.0)


@st.composite
def mixtures(draw, k=None, d=None, variances=VARIANCES):
    """(weights (k,), means (k, d), variances (k,)): weights at least 0.05 / k (before normalising), generally
    unequal, means anywhere in a box, variances != 1 in general."""
    k = draw(st.integers(*COMPONENTS)) if k is None else k
    d = draw(st.integers(*DIMENSIONS)) if d is None else d
    raw = draw(arrays((k,), 0.05, 1.0))
    return raw / raw.sum(), draw(arrays((k, d), *MEANS)), draw(arrays((k,), *variances))


def sample(rng, mixture, n):
    """n points drawn from the mixture with 1.5 times its spread, so that the tails are visited too."""
    weights, means, variances = mixture
    component = rng.choice(len(weights), size=n, p=weights)
    return means[component] + 1.5 * np.sqrt(variances[component])[:, None] * rng.standard_normal((n, means.shape[1]))


def far_points(rng, mixture, n, distances=(100.0, 1000.0)):
    """n points 100 to 1000 times (widest standard deviation + spread of the means) away from the centre of the
    means, in random directions: their log-densities reach -1e8."""
    _, means, variances = mixture
    scale = np.sqrt(variances.max()) + np.abs(means - means.mean(0)).max()
    direction = rng.standard_normal((n, means.shape[1]))
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    return means.mean(0) + direction * scale * rng.uniform(*distances, size=(n, 1))


@st.composite
def cases(draw, far=False, mixture=None):
    """(X, mixture): points sampled from the mixture (with ``far``: as many again far from every mean)."""
    mixture = draw(mixtures() if mixture is None else mixture)
    n = draw(st.integers(*ROWS))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    X = sample(rng, mixture, n)
    if far:
        X = np.concatenate([X, far_points(rng, mixture, n)])
    return X, mixture


def log_joint(X, mixture):
    """log w_j + log N(x_i; mu_j, var_j I) for every row and component, (n, k), computed by scipy."""
    weights, means, variances = mixture
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(weights) + norm.logpdf(X[:, None, :], means, np.sqrt(variances)[:, None]).sum(-1)


def posterior(X, mixture):
    """p(z = j | x_i) by Bayes' rule: (n, k)."""
    return softmax(log_joint(X, mixture), axis=-1)
