"""Known mistakes in iwae_bound, each a drop-in replacement with the same signature."""

import math

import numpy as np
import torch

from grader.bank import mistake, probe


@mistake("naive_log_mean_exp", title="Naive log(mean(exp(.)))",
         explanation="The weights are exponentiated before averaging: for log-weights below about -745 every "
                     "exp underflows to 0 and the bound becomes -inf (or +inf/NaN for large positive ones).",
         hint="Try log-weights around -1e4, e.g. an x far from W z + b with s = 0.05: can exp represent them?")
def iwae_bound(x, W, b, s, q_mu, q_logvar, eps):
    z = q_mu + torch.exp(0.5 * q_logvar) * eps
    d, k = x.shape[-1], z.shape[-1]
    log_likelihood = -0.5 * ((x - z @ W.T - b) ** 2).sum(-1) / s**2 - d * math.log(s) - 0.5 * d * math.log(2 * math.pi)
    log_prior = -0.5 * (z**2).sum(-1) - 0.5 * k * math.log(2 * math.pi)
    log_q = -0.5 * (eps**2 + q_logvar + math.log(2 * math.pi)).sum(-1)
    return torch.log(torch.exp(log_likelihood + log_prior - log_q).mean(0))


@mistake("missing_log_s", title="Missing the -log S",
         explanation="log sum_j w_j is returned instead of log (1/S) sum_j w_j, so the bound is log S too high "
                     "and exceeds log p(x) for large S.",
         hint="With S identical samples, the bound must equal the single-sample value: does it?")
def iwae_bound(x, W, b, s, q_mu, q_logvar, eps):  # noqa: F811
    z = q_mu + torch.exp(0.5 * q_logvar) * eps
    d, k = x.shape[-1], z.shape[-1]
    log_likelihood = -0.5 * ((x - z @ W.T - b) ** 2).sum(-1) / s**2 - d * math.log(s) - 0.5 * d * math.log(2 * math.pi)
    log_prior = -0.5 * (z**2).sum(-1) - 0.5 * k * math.log(2 * math.pi)
    log_q = -0.5 * (eps**2 + q_logvar + math.log(2 * math.pi)).sum(-1)
    return torch.logsumexp(log_likelihood + log_prior - log_q, dim=0)


@mistake("elbo_instead", title="The ELBO returned (mean of the log-weights)",
         explanation="The log-weights are averaged, log (1/S) sum_j exp(.) is not formed: that is the ELBO, "
                     "which is looser than the importance-weighted bound for S > 1.",
         hint="Which comes first in the IWAE bound: averaging the weights, or taking their logarithm?")
def iwae_bound(x, W, b, s, q_mu, q_logvar, eps):  # noqa: F811
    z = q_mu + torch.exp(0.5 * q_logvar) * eps
    d, k = x.shape[-1], z.shape[-1]
    log_likelihood = -0.5 * ((x - z @ W.T - b) ** 2).sum(-1) / s**2 - d * math.log(s) - 0.5 * d * math.log(2 * math.pi)
    log_prior = -0.5 * (z**2).sum(-1) - 0.5 * k * math.log(2 * math.pi)
    log_q = -0.5 * (eps**2 + q_logvar + math.log(2 * math.pi)).sum(-1)
    return (log_likelihood + log_prior - log_q).mean(0)


@mistake("wrong_sample_dim", title="Log-sum-exp over the wrong dimension",
         explanation="The log-sum-exp runs over the last dimension (the batch) instead of the first one (the S "
                     "samples), so the result has shape (S,) and mixes different data points.",
         hint="eps has shape (S, ..., k): along which dimension of the log-weights do the samples lie?")
def iwae_bound(x, W, b, s, q_mu, q_logvar, eps):  # noqa: F811
    z = q_mu + torch.exp(0.5 * q_logvar) * eps
    d, k = x.shape[-1], z.shape[-1]
    log_likelihood = -0.5 * ((x - z @ W.T - b) ** 2).sum(-1) / s**2 - d * math.log(s) - 0.5 * d * math.log(2 * math.pi)
    log_prior = -0.5 * (z**2).sum(-1) - 0.5 * k * math.log(2 * math.pi)
    log_q = -0.5 * (eps**2 + q_logvar + math.log(2 * math.pi)).sum(-1)
    return torch.logsumexp(log_likelihood + log_prior - log_q, dim=-1) - math.log(eps.shape[0])


_W = np.array([[0.8, -0.4], [0.3, 1.1], [-0.6, 0.5]])
_B = np.array([0.5, -1.0, 0.2])
_X = np.array([[1.2, -0.3, 0.7], [-0.9, 1.6, 0.1]])
_Q_MU = np.array([[0.4, -0.2], [-0.7, 0.9]])
_Q_LOGVAR = np.array([[-0.6, 0.4], [0.8, -1.2]])
_EPS = np.array([[[0.5, -1.1], [1.3, 0.2]], [[-0.8, 0.6], [-0.4, 1.7]], [[1.9, -0.3], [0.1, -1.4]]])

# Designed inputs: d = 3, k = 2, s != 1, a batch of 2 with S = 3 samples (so that the sample and batch
# dimensions differ); the second has log-weights around -1e4 (x far away, s = 0.05), where exp underflows.
PROBES = [
    probe(_X, _W, _B, 0.6, _Q_MU, _Q_LOGVAR, _EPS),
    probe(_X * 8.0, _W, _B, 0.05, _Q_MU, _Q_LOGVAR, _EPS),
]
