"""Known mistakes in gmm_log_likelihood, each a drop-in replacement with the same signature."""

import math

import numpy as np
import torch

from grader.bank import mistake, probe


@mistake("naive_logsumexp", title="exp, sum, log underflows far from the means",
         explanation="The densities w_j N(x; mu_j, var_j I) are computed with exp and summed before the log; far "
                     "from every mean each of them underflows to 0, so the log-likelihood becomes -inf.",
         hint="Evaluate your function at a point 1000 standard deviations away from every mean: which "
              "intermediate value becomes exactly 0? log-sum-exp can be computed without leaving the log domain.")
def gmm_log_likelihood(X, weights, means, variances):
    d = X.shape[-1]
    squared = ((X[:, None, :] - means) ** 2).sum(-1)
    densities = weights * torch.exp(-squared / (2 * variances)) / (2 * math.pi * variances) ** (d / 2)
    return torch.log(densities.sum(-1))


@mistake("variance_as_std", title="Variances used as standard deviations",
         explanation="Each component is evaluated as N(x; mu_j, variances[j]^2 I): the variance is squared as "
                     "if it were a standard deviation.",
         hint="For one component in d = 1 with variance 4, what is the log-density at the mean? Compare with "
              "-log(2 pi 4) / 2.")
def gmm_log_likelihood(X, weights, means, variances):  # noqa: F811
    d = X.shape[-1]
    var = variances**2
    squared = ((X[:, None, :] - means) ** 2).sum(-1)
    log_joint = torch.log(weights) - 0.5 * squared / var - 0.5 * d * torch.log(2 * math.pi * var)
    return torch.logsumexp(log_joint, dim=-1)


@mistake("normaliser_missing_d", title="Normalising constant not raised to the power d",
         explanation="The log-normaliser is -log(2 pi var_j) / 2, as for one coordinate, instead of "
                     "-d log(2 pi var_j) / 2 for a d-dimensional spherical Gaussian.",
         hint="A spherical Gaussian in d dimensions is a product of d univariate Gaussians: how many "
              "normalising constants does the product carry?")
def gmm_log_likelihood(X, weights, means, variances):  # noqa: F811
    squared = ((X[:, None, :] - means) ** 2).sum(-1)
    log_joint = torch.log(weights) - 0.5 * squared / variances - 0.5 * torch.log(2 * math.pi * variances)
    return torch.logsumexp(log_joint, dim=-1)


@mistake("weights_not_logged", title="Weights added without their logarithm",
         explanation="Inside the log-sum-exp the weights are added as w_j instead of log w_j, which computes "
                     "log sum_j exp(w_j) N(x; mu_j, var_j I): not a probability density.",
         hint="log(w N) = log w + log N: which quantity enters your log-sum-exp for the weights?")
def gmm_log_likelihood(X, weights, means, variances):  # noqa: F811
    d = X.shape[-1]
    squared = ((X[:, None, :] - means) ** 2).sum(-1)
    log_joint = weights - 0.5 * squared / variances - 0.5 * d * torch.log(2 * math.pi * variances)
    return torch.logsumexp(log_joint, dim=-1)


# Designed inputs: k = 2, d = 2, unequal weights and variances != 1, one point far from both means.
_WEIGHTS = np.array([0.3, 0.7])
_MEANS = np.array([[1.0, -1.0], [-2.0, 0.5]])
PROBES = [
    probe(np.array([[0.5, -0.5], [-2.5, 1.0], [0.0, 0.0]]), _WEIGHTS, _MEANS, np.array([0.5, 2.0])),
    probe(np.array([[1.5, -1.0], [300.0, -400.0]]), _WEIGHTS, _MEANS, np.array([0.25, 3.0])),
]
