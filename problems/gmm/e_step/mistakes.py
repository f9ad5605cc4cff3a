"""Known mistakes in e_step, each a drop-in replacement with the same signature."""

import math

import numpy as np
import torch

from grader.bank import mistake, probe


@mistake("unnormalised", title="Responsibilities not normalised",
         explanation="Each row holds the joint densities w_j N(x_i; mu_j, var_j I) instead of the posterior "
                     "probabilities, which are these divided by their sum over j.",
         hint="Do the rows of your responsibilities sum to 1? p(z = j | x) = p(x, z = j) / p(x).")
def e_step(X, weights, means, variances):
    d = X.shape[-1]
    squared = ((X[:, None, :] - means) ** 2).sum(-1)
    return weights * torch.exp(-squared / (2 * variances)) / (2 * math.pi * variances) ** (d / 2)


@mistake("naive_softmax", title="Normalising exp of the log-joint without subtracting its maximum",
         explanation="The joint densities are exponentiated before normalising; far from every mean all of them "
                     "underflow to 0, and 0 / 0 gives NaN responsibilities.",
         hint="Evaluate your function at a point far from every mean: what are the numerator and the "
              "denominator? Subtracting the row's largest log-joint before exp changes nothing mathematically.")
def e_step(X, weights, means, variances):  # noqa: F811
    d = X.shape[-1]
    squared = ((X[:, None, :] - means) ** 2).sum(-1)
    joint = torch.exp(torch.log(weights) - 0.5 * squared / variances - 0.5 * d * torch.log(2 * math.pi * variances))
    return joint / joint.sum(-1, keepdim=True)


@mistake("weights_ignored", title="Mixture weights ignored",
         explanation="The responsibilities are proportional to the likelihoods N(x_i; mu_j, var_j I) alone: the "
                     "prior weights w_j are left out of Bayes' rule.",
         hint="If all components had the same mean and variance, what should the responsibilities be?")
def e_step(X, weights, means, variances):  # noqa: F811
    d = X.shape[-1]
    squared = ((X[:, None, :] - means) ** 2).sum(-1)
    return torch.softmax(-0.5 * squared / variances - 0.5 * d * torch.log(2 * math.pi * variances), dim=-1)


@mistake("variance_normaliser_dropped", title="Normalising constants dropped although the variances differ",
         explanation="The factor (2 pi var_j)^(-d/2) is dropped as if it cancelled in the ratio, but it depends on "
                     "j: it cancels only when all components have the same variance.",
         hint="Take two components with the same mean and weight but variances 1 and 4: which should be more "
              "responsible for a point at the mean?")
def e_step(X, weights, means, variances):  # noqa: F811
    squared = ((X[:, None, :] - means) ** 2).sum(-1)
    return torch.softmax(torch.log(weights) - 0.5 * squared / variances, dim=-1)


# Designed inputs: k = 3, d = 2, unequal weights and variances, one point far from every mean.
_WEIGHTS = np.array([0.2, 0.5, 0.3])
_MEANS = np.array([[1.0, -1.0], [-2.0, 0.5], [0.5, 2.0]])
PROBES = [
    probe(np.array([[0.5, -0.5], [-1.0, 0.0], [0.5, 1.5]]), _WEIGHTS, _MEANS, np.array([0.5, 2.0, 1.5])),
    probe(np.array([[0.0, 0.5], [400.0, -300.0]]), _WEIGHTS, _MEANS, np.array([0.25, 3.0, 1.0])),
]
