"""Known mistakes in fit_inclusive_gaussian, each a drop-in replacement with the same signature."""

import numpy as np
import torch

from grader.bank import mistake, probe


@mistake("between_component_variance_forgotten", title="Between-component variance forgotten",
         explanation="sigma^2 is the average within-component variance sum_k w_k s_k^2: the spread of the "
                     "component means around mu, sum_k w_k (m_k - mu)^2, is missing, so q is far too narrow.",
         hint="Var[X] = E[Var[X | k]] + Var[E[X | k]] (the law of total variance): which term is missing?")
def fit_inclusive_gaussian(weights, means, stds):
    return (weights * means).sum(), (weights * stds**2).sum().sqrt()


@mistake("variance_returned", title="Variance returned instead of the standard deviation",
         explanation="The second value is the mixture's variance sigma^2, not its standard deviation sigma.",
         hint="q = N(mu, sigma^2): which quantity does the problem ask for, the variance or its square root?")
def fit_inclusive_gaussian(weights, means, stds):  # noqa: F811
    mu = (weights * means).sum()
    return mu, (weights * (stds**2 + (means - mu) ** 2)).sum()


@mistake("weights_ignored", title="Mixture weights ignored",
         explanation="The moments are plain averages over the components, as if every weight were 1/K.",
         hint="The mixture's mean is sum_k w_k m_k: do unequal weights change your answer?")
def fit_inclusive_gaussian(weights, means, stds):  # noqa: F811
    mu = means.mean()
    return mu, (stds**2 + (means - mu) ** 2).mean().sqrt()


@mistake("heaviest_component", title="The heaviest component returned",
         explanation="(m_k, s_k) of the component with the largest weight is returned: that is mode-seeking "
                     "behaviour, but KL(p || q) is mass-covering and its minimiser matches p's moments.",
         hint="KL(p || q) is an expectation under p: what happens to it where p has mass and q has almost none?")
def fit_inclusive_gaussian(weights, means, stds):  # noqa: F811
    k = torch.argmax(weights)
    return means[k], stds[k]


# Designed inputs: unequal weights, stds != 1, means spread so that the between-component variance matters and the
# total variance is neither 1 nor the heaviest component's.
PROBES = [
    probe(np.array([0.2, 0.5, 0.3]), np.array([-2.0, 0.5, 3.0]), np.array([0.6, 1.3, 0.8])),
    probe(np.array([0.7, 0.3]), np.array([1.5, -1.0]), np.array([0.4, 2.0])),
]
