"""Buggy example (gmm.e_step, mistake variance_normaliser_dropped): e_step drops the (2 pi var_j)^(-d/2) factors as if they cancelled; the other functions are correct."""

import math

import numpy as np
import torch
from torch.distributions import Categorical, Independent, MixtureSameFamily, Normal


def _mixture(weights, means, variances):
    scales = variances.sqrt()[:, None].expand_as(means)
    return MixtureSameFamily(Categorical(probs=weights), Independent(Normal(means, scales), 1))


def gmm_log_likelihood(X, weights, means, variances):
    """log p(x | theta) from torch.distributions' mixture (which works in the log domain)."""
    return _mixture(weights, means, variances).log_prob(X)


def _log_joint32(X, weights, means, variances):
    """log w_j + log N(x_i; mu_j, var_j I) in float32, with |x - mu|^2 = |x|^2 - 2 x.mu + |mu|^2."""
    X, weights, means, variances = (t.float() for t in (X, weights, means, variances))
    d = X.shape[1]
    squared = (X**2).sum(1, keepdim=True) - 2 * X @ means.T + (means**2).sum(1)
    return weights.log() - squared / (2 * variances) - d / 2 * torch.log(2 * math.pi * variances)


def e_step(X, weights, means, variances):
    """Bayes' rule in the log domain; the Gaussian normalising constants cancel in the softmax."""
    squared = ((X[:, None, :] - means[None]) ** 2).sum(-1)
    return torch.softmax(torch.log(weights) - squared / (2 * variances), dim=1)


def _maximise(X, resp):
    counts = torch.einsum("ik->k", resp)
    means = torch.einsum("ik,id->kd", resp, X) / counts[:, None]
    second_moment = torch.einsum("ik,i->k", resp, (X**2).sum(1)) / counts
    variances = (second_moment - (means**2).sum(1)) / X.shape[1]
    return counts / counts.sum(), means, variances


def m_step(X, resp):
    """Closed-form maximiser; variance from E_r[|x|^2] - |mu|^2."""
    return _maximise(X, resp)


def em(X, weights, means, variances, n_iter):
    """EM with the history kept as a numpy array."""
    loglik = np.empty(n_iter + 1)
    loglik[0] = _mixture(weights, means, variances).log_prob(X).sum().item()
    for i in range(1, n_iter + 1):
        log_joint = torch.log(weights) + Normal(means, variances.sqrt()[:, None]).log_prob(X[:, None, :]).sum(-1)
        weights, means, variances = _maximise(X, torch.softmax(log_joint, dim=1))
        loglik[i] = _mixture(weights, means, variances).log_prob(X).sum().item()
    return weights, means, variances, loglik
