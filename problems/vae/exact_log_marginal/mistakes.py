"""Known mistakes in exact_log_marginal, each a drop-in replacement with the same signature."""

import math

import numpy as np
import torch

from grader.bank import mistake, probe


@mistake("s_as_variance", title="s used as the noise variance",
         explanation="The covariance is W W^T + s I instead of W W^T + s^2 I: s is the standard deviation of the "
                     "observation noise, not its variance.",
         hint="x | z ~ N(W z + b, s^2 I): what is the covariance of x when W = 0?")
def exact_log_marginal(x, W, b, s):
    d = x.shape[-1]
    cov = W @ W.T + s * torch.eye(d, dtype=x.dtype, device=x.device)
    return torch.distributions.MultivariateNormal(b, covariance_matrix=cov).log_prob(x)


@mistake("noise_added_to_every_entry", title="s^2 added to every entry instead of the diagonal",
         explanation="W W^T + s**2 adds s^2 to every entry of the matrix (broadcasting), which is W W^T + s^2 1 1^T, "
                     "not W W^T + s^2 I: the noise is treated as one shared scalar instead of independent per "
                     "coordinate.",
         hint="Print your covariance for W = 0: is it s^2 times the identity?")
def exact_log_marginal(x, W, b, s):  # noqa: F811
    cov = W @ W.T + s**2
    return torch.distributions.MultivariateNormal(b, covariance_matrix=cov).log_prob(x)


@mistake("log_of_det", title="log(det(.)) underflows",
         explanation="The log-determinant is computed as log(det(cov)): in high dimension with small s the "
                     "determinant underflows to 0 and log p(x) becomes +inf (or NaN).",
         hint="Try d = 200 and s = 0.02: what is det(W W^T + s^2 I) in floating point? Which functions give "
              "log|det| directly?")
def exact_log_marginal(x, W, b, s):  # noqa: F811
    d = x.shape[-1]
    cov = W @ W.T + s**2 * torch.eye(d, dtype=x.dtype, device=x.device)
    diff = x - b
    mahalanobis = (diff @ torch.linalg.inv(cov) * diff).sum(-1)
    return -0.5 * (mahalanobis + torch.log(torch.det(cov)) + d * math.log(2 * math.pi))


_RNG = np.random.default_rng(7)
_W_HIGH = 0.01 * _RNG.standard_normal((200, 199))
_X_HIGH = 0.3 * _RNG.standard_normal((2, 200))

# Designed inputs: d = 3 > k = 2, b != 0, s on both sides of 1; the last one has d = 200, k = 199 and s = 0.02,
# where det(W W^T + s^2 I) underflows to 0 (k = d - 1 keeps W W^T + s^2 1 1^T invertible there).
PROBES = [
    probe(np.array([[1.2, -0.3, 0.7], [-0.9, 1.6, 0.1]]), np.array([[0.8, -0.4], [0.3, 1.1], [-0.6, 0.5]]),
          np.array([0.5, -1.0, 0.2]), 0.6),
    probe(np.array([2.0, 0.5, -1.5]), np.array([[0.8, -0.4], [0.3, 1.1], [-0.6, 0.5]]),
          np.array([0.5, -1.0, 0.2]), 1.8),
    probe(_X_HIGH, _W_HIGH, np.zeros(200), 0.02),
]
