"""Known mistakes in exact_posterior, each a drop-in replacement with the same signature."""

import numpy as np
import torch

from grader.bank import mistake, probe


@mistake("precision_as_cov", title="Posterior precision returned as the covariance",
         explanation="I + W^T W / s^2 is the posterior precision (inverse covariance); it is returned as the "
                     "covariance without being inverted, so the posterior looks wider than the prior.",
         hint="Can observing x ever make you less certain about z than the prior N(0, I)? Compare your "
              "covariance with I.")
def exact_posterior(x, W, b, s):
    k = W.shape[-1]
    precision = torch.eye(k, dtype=W.dtype, device=W.device) + W.T @ W / s**2
    mean = torch.linalg.solve(precision, ((x - b) @ W / s**2).unsqueeze(-1)).squeeze(-1)
    return mean, precision.expand(*x.shape[:-1], k, k)


@mistake("s_as_variance", title="s used as the noise variance",
         explanation="The likelihood's precision is taken as 1 / s instead of 1 / s^2: s is the standard deviation "
                     "of the observation noise, so W^T W / s and W^T (x - b) / s are wrong whenever s != 1.",
         hint="x | z ~ N(W z + b, s^2 I): write log p(x | z) and collect its terms in z.")
def exact_posterior(x, W, b, s):  # noqa: F811
    k = W.shape[-1]
    cov = torch.linalg.inv(torch.eye(k, dtype=W.dtype, device=W.device) + W.T @ W / s)
    mean = (x - b) @ W / s @ cov
    return mean, cov.expand(*x.shape[:-1], k, k)


@mistake("offset_ignored", title="The offset b is ignored in the mean",
         explanation="The mean is computed from W^T x instead of W^T (x - b): the decoder's offset b is not "
                     "subtracted from the data.",
         hint="If x = b exactly, where should the posterior mean be?")
def exact_posterior(x, W, b, s):  # noqa: F811
    k = W.shape[-1]
    cov = torch.linalg.inv(torch.eye(k, dtype=W.dtype, device=W.device) + W.T @ W / s**2)
    mean = x @ W / s**2 @ cov
    return mean, cov.expand(*x.shape[:-1], k, k)


@mistake("prior_ignored", title="The prior is ignored (least squares)",
         explanation="The posterior precision is W^T W / s^2 without the prior's I, which is the maximum-likelihood "
                     "(least-squares) solution: the mean is not shrunk towards 0 and the covariance is too large.",
         hint="Both p(x | z) and p(z) contribute a quadratic term in z to log p(z | x): did you keep both?")
def exact_posterior(x, W, b, s):  # noqa: F811
    k = W.shape[-1]
    cov = torch.linalg.inv(W.T @ W / s**2)
    mean = (x - b) @ W / s**2 @ cov
    return mean, cov.expand(*x.shape[:-1], k, k)


_W = np.array([[0.8, -0.4], [0.3, 1.1], [-0.6, 0.5]])

# Designed inputs: d = 3 > k = 2, a full (non-orthogonal) W, b != 0, s on both sides of 1. x is a single point:
# the covariance is then (k, k) whether a submission returns it per data point or once.
PROBES = [
    probe(np.array([1.2, -0.3, 0.7]), _W, np.array([0.5, -1.0, 0.2]), 0.6),
    probe(np.array([2.0, 0.5, -1.5]), _W, np.array([0.5, -1.0, 0.2]), 1.8),
]
