"""Known mistakes in m_step, each a drop-in replacement with the same signature."""

import numpy as np
import torch

from grader.bank import mistake, probe


@mistake("variance_not_divided_by_d", title="Variance not divided by the dimension d",
         explanation="The variance is the responsibility-weighted mean of the squared distances |x_i - mu_j|^2, "
                     "which sum over d coordinates: the per-coordinate variance is that divided by d.",
         hint="For points drawn from N(0, s^2 I_d), what is the mean of |x|^2, and what is the variance of "
              "one coordinate?")
def m_step(X, resp):
    counts = resp.sum(0)
    means = resp.T @ X / counts[:, None]
    squared = ((X[:, None, :] - means) ** 2).sum(-1)
    return counts / len(X), means, (resp * squared).sum(0) / counts


@mistake("weights_not_normalised", title="Weights not normalised",
         explanation="The weights are the total responsibilities N_j = sum_i r_ij, not N_j / n: they sum to n "
                     "instead of 1.",
         hint="Do your weights sum to 1?")
def m_step(X, resp):  # noqa: F811
    d = X.shape[-1]
    counts = resp.sum(0)
    means = resp.T @ X / counts[:, None]
    squared = ((X[:, None, :] - means) ** 2).sum(-1)
    return counts, means, (resp * squared).sum(0) / (d * counts)


@mistake("std_returned", title="Standard deviations returned instead of variances",
         explanation="The square root of the maximising variance is returned, but the model's parameters are "
                     "variances.",
         hint="The statement asks for variances: what is the unit of your third output?")
def m_step(X, resp):  # noqa: F811
    d = X.shape[-1]
    counts = resp.sum(0)
    means = resp.T @ X / counts[:, None]
    squared = ((X[:, None, :] - means) ** 2).sum(-1)
    return counts / len(X), means, torch.sqrt((resp * squared).sum(0) / (d * counts))


@mistake("unbiased_variance", title="Bessel's correction in the variance",
         explanation="The squared deviations are divided by (N_j - 1) d instead of N_j d, as torch.var does by "
                     "default; the maximum-likelihood variance divides by N_j d.",
         hint="Differentiate the ELBO with respect to var_j and set it to zero: what is the denominator?")
def m_step(X, resp):  # noqa: F811
    d = X.shape[-1]
    counts = resp.sum(0)
    means = resp.T @ X / counts[:, None]
    squared = ((X[:, None, :] - means) ** 2).sum(-1)
    return counts / len(X), means, (resp * squared).sum(0) / (d * (counts - 1))


# Designed inputs: d = 2, soft responsibilities with unequal column sums, spreads != 1.
PROBES = [
    probe(np.array([[0.0, 1.0], [2.0, 3.0], [4.0, -1.0], [-1.0, -2.0], [3.0, 0.5], [1.0, 1.5]]),
          np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.6, 0.4], [0.1, 0.9], [0.5, 0.5]])),
    probe(np.array([[0.5, 0.2], [1.5, -0.3], [-0.2, 0.4], [3.0, 2.5], [2.0, 3.5], [4.0, 2.0], [2.5, 1.0]]),
          np.eye(2)[[0, 0, 0, 1, 1, 1, 1]].astype(float)),
]
