"""Known mistakes in elbo, each a drop-in replacement with the same signature."""

import math

import numpy as np
import torch

from grader.bank import mistake, probe


@mistake("missing_entropy", title="Entropy term (-log q) missing",
         explanation="The estimate averages log p(x | z_j) + log p(z_j) only: the -log q(z_j | x) term, whose "
                     "expectation is the entropy of q, is left out, so it is not a bound on log p(x) and its "
                     "gradient pushes q's variance to zero.",
         hint="When q is the exact posterior, log p(x, z) - log q(z | x) does not depend on z: does your "
              "estimate equal log p(x) there?")
def elbo(x, W, b, s, q_mu, q_logvar, eps):
    z = q_mu + torch.exp(0.5 * q_logvar) * eps
    d, k = x.shape[-1], z.shape[-1]
    log_likelihood = -0.5 * ((x - z @ W.T - b) ** 2).sum(-1) / s**2 - d * math.log(s) - 0.5 * d * math.log(2 * math.pi)
    log_prior = -0.5 * (z**2).sum(-1) - 0.5 * k * math.log(2 * math.pi)
    return (log_likelihood + log_prior).mean(0)


@mistake("sum_over_samples", title="Sum over samples instead of mean",
         explanation="The S per-sample terms are summed instead of averaged, so the estimate is S times the "
                     "ELBO.",
         hint="Duplicate your eps (S -> 2S samples, each draw twice): should the estimate change?")
def elbo(x, W, b, s, q_mu, q_logvar, eps):  # noqa: F811
    std = torch.exp(0.5 * q_logvar)
    z = q_mu + std * eps
    d, k = x.shape[-1], z.shape[-1]
    log_likelihood = -0.5 * ((x - z @ W.T - b) ** 2).sum(-1) / s**2 - d * math.log(s) - 0.5 * d * math.log(2 * math.pi)
    log_prior = -0.5 * (z**2).sum(-1) - 0.5 * k * math.log(2 * math.pi)
    log_q = -0.5 * (eps**2).sum(-1) - torch.log(std).sum(-1) - 0.5 * k * math.log(2 * math.pi)
    return (log_likelihood + log_prior - log_q).sum(0)


@mistake("variance_as_std", title="Samples scaled by the variance",
         explanation="exp(q_logvar), the variance, is used as q's standard deviation, both to draw "
                     "z_j = q_mu + exp(q_logvar) * eps_j and in log q: the bound is computed for "
                     "N(q_mu, diag(exp(2 q_logvar))) instead of q.",
         hint="q_logvar is log sigma^2: what is sigma?")
def elbo(x, W, b, s, q_mu, q_logvar, eps):  # noqa: F811
    std = torch.exp(q_logvar)
    z = q_mu + std * eps
    d, k = x.shape[-1], z.shape[-1]
    log_likelihood = -0.5 * ((x - z @ W.T - b) ** 2).sum(-1) / s**2 - d * math.log(s) - 0.5 * d * math.log(2 * math.pi)
    log_prior = -0.5 * (z**2).sum(-1) - 0.5 * k * math.log(2 * math.pi)
    log_q = (-0.5 * ((z - q_mu) / std) ** 2 - torch.log(std) - 0.5 * math.log(2 * math.pi)).sum(-1)
    return (log_likelihood + log_prior - log_q).mean(0)


@mistake("s_as_variance", title="s used as the likelihood's variance",
         explanation="log p(x | z) treats s as the variance of the decoder's noise instead of its standard "
                     "deviation (s^2 is the variance), so the likelihood term is wrong whenever s != 1.",
         hint="x | z ~ N(W z + b, s^2 I): write log p(x | z) for d = 1 and s = 2 by hand.")
def elbo(x, W, b, s, q_mu, q_logvar, eps):  # noqa: F811
    z = q_mu + torch.exp(0.5 * q_logvar) * eps
    d, k = x.shape[-1], z.shape[-1]
    log_likelihood = -0.5 * ((x - z @ W.T - b) ** 2).sum(-1) / s - 0.5 * d * math.log(2 * math.pi * s)
    log_prior = -0.5 * (z**2).sum(-1) - 0.5 * k * math.log(2 * math.pi)
    log_q = -0.5 * (eps**2 + q_logvar + math.log(2 * math.pi)).sum(-1)
    return (log_likelihood + log_prior - log_q).mean(0)


_W = np.array([[0.8, -0.4], [0.3, 1.1], [-0.6, 0.5]])
_B = np.array([0.5, -1.0, 0.2])
_X = np.array([[1.2, -0.3, 0.7], [-0.9, 1.6, 0.1]])
_Q_MU = np.array([[0.4, -0.2], [-0.7, 0.9]])
_Q_LOGVAR = np.array([[-0.6, 0.4], [0.8, -1.2]])
_EPS = np.array([[[0.5, -1.1], [1.3, 0.2]], [[-0.8, 0.6], [-0.4, 1.7]], [[1.9, -0.3], [0.1, -1.4]]])

# Designed inputs: d = 3, k = 2, s != 1, q_mu != 0, variances on both sides of 1, S = 3 and S = 2 samples.
PROBES = [
    probe(_X, _W, _B, 0.6, _Q_MU, _Q_LOGVAR, _EPS),
    probe(_X[0], _W, _B, 1.7, _Q_MU[1], _Q_LOGVAR[1], _EPS[:2, 1]),
]
