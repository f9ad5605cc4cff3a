"""Buggy example (vae.iwae_bound, mistake elbo_instead): iwae_bound averages the log-weights (the ELBO) instead of the weights; the other functions are correct."""

import math

import numpy as np
import torch
from torch.distributions import Normal


def reparameterize(mu, logvar, eps):
    """z = mu + sigma * eps with sigma = sqrt(exp(logvar)), fused into one addcmul."""
    mu, logvar, eps = torch.broadcast_tensors(mu, logvar, eps)
    return torch.addcmul(mu, logvar.mul(0.5).exp(), eps)


def gaussian_log_prob(x, mean, var):
    """log N(x; mean, diag(var)) through torch.distributions, summed over the last dimension."""
    x, mean, var = torch.broadcast_tensors(x, mean, var)
    return Normal(mean, var.sqrt()).log_prob(x).sum(dim=-1)


def _log_joint_minus_log_q(x, W, b, s, q_mu, q_logvar, eps):
    """log p(x | z) + log p(z) - log q(z | x) per sample, computed in float32 with torch.distributions."""
    x, W, b, q_mu, q_logvar, eps = (v.float() for v in (x, W, b, q_mu, q_logvar, eps))
    std = torch.exp(q_logvar / 2)
    z = q_mu + std * eps
    decoded = torch.einsum("dk,...k->...d", W, z) + b
    log_likelihood = Normal(decoded, s).log_prob(x).sum(-1)
    log_prior = Normal(0.0, 1.0).log_prob(z).sum(-1)
    log_q = Normal(q_mu, std).log_prob(z).sum(-1)
    return log_likelihood + log_prior - log_q


def elbo(x, W, b, s, q_mu, q_logvar, eps):
    """Average of the S single-sample ELBO estimates (float32 result)."""
    return _log_joint_minus_log_q(x, W, b, s, q_mu, q_logvar, eps).mean(dim=0)


def iwae_bound(x, W, b, s, q_mu, q_logvar, eps):
    """Average log importance weight over the samples."""
    log_w = _log_joint_minus_log_q(x, W, b, s, q_mu, q_logvar, eps).double()
    return log_w.mean(dim=0)


def exact_log_marginal(x, W, b, s):
    """log N(x; b, s^2 I + W W^T) with the Woodbury identity and the matrix determinant lemma (numpy)."""
    x, W, b = (np.asarray(v.detach().cpu(), dtype=np.float64) for v in (x, W, b))
    d, k = W.shape
    inner = s**2 * np.eye(k) + W.T @ W  # k x k
    r = x - b
    projected = r @ W  # (..., k)
    quadratic = ((r * r).sum(-1) - (projected * np.linalg.solve(inner, projected[..., None])[..., 0]).sum(-1)) / s**2
    logdet = (d - k) * np.log(s**2) + np.linalg.slogdet(inner)[1]
    return -0.5 * (quadratic + logdet + d * math.log(2 * math.pi))


def exact_posterior(x, W, b, s):
    """Posterior mean and a single (k, k) covariance, returned as numpy arrays."""
    x, W, b = (np.asarray(v.detach().cpu(), dtype=np.float64) for v in (x, W, b))
    k = W.shape[1]
    cov = np.linalg.inv(np.eye(k) + W.T @ W / s**2)
    cov = (cov + cov.T) / 2
    mean = np.einsum("kj,...j->...k", cov, (x - b) @ W) / s**2
    return mean, cov
