"""Reference solutions for vae.py (see PROBLEMS.md).

Linear-Gaussian latent variable model: z ~ N(0, I_k), x | z ~ N(W z + b, s^2 I_d), W (d, k), b (d,), s > 0.
"""

import math

import torch

LOG_2PI = math.log(2 * math.pi)


def reparameterize(mu, logvar, eps):
    """z = mu + exp(logvar / 2) * eps, differentiable in mu and logvar; broadcasting."""
    return mu + torch.exp(0.5 * logvar) * eps


def gaussian_log_prob(x, mean, var):
    """log N(x; mean, diag(var)) summed over the last dimension of the broadcast arguments."""
    x, mean, var = torch.broadcast_tensors(x, mean, var)
    return -0.5 * ((x - mean) ** 2 / var + torch.log(var) + LOG_2PI).sum(-1)


def _log_weights(x, W, b, s, q_mu, q_logvar, eps):
    """log p(x, z_j) - log q(z_j | x) for z_j = q_mu + exp(q_logvar / 2) eps_j: shape (S, ...)."""
    s = torch.as_tensor(s, dtype=x.dtype, device=x.device)
    z = q_mu + torch.exp(0.5 * q_logvar) * eps
    d, k = x.shape[-1], z.shape[-1]
    residual = (x - z @ W.transpose(-1, -2) - b) / s
    log_likelihood = -0.5 * (residual**2).sum(-1) - d * (torch.log(s) + 0.5 * LOG_2PI)
    log_prior = -0.5 * (z**2).sum(-1) - 0.5 * k * LOG_2PI
    # (z - q_mu) / exp(q_logvar / 2) is eps itself: use it rather than dividing again.
    log_q = -0.5 * (eps**2).sum(-1) - 0.5 * q_logvar.sum(-1) - 0.5 * k * LOG_2PI
    return log_likelihood + log_prior - log_q


def elbo(x, W, b, s, q_mu, q_logvar, eps):
    """Monte Carlo ELBO: mean over the S samples of log p(x, z_j) - log q(z_j | x); returns (...)."""
    return _log_weights(x, W, b, s, q_mu, q_logvar, eps).mean(0)


def iwae_bound(x, W, b, s, q_mu, q_logvar, eps):
    """log (1/S) sum_j exp(log p(x, z_j) - log q(z_j | x)), computed with log-sum-exp; returns (...)."""
    log_w = _log_weights(x, W, b, s, q_mu, q_logvar, eps)
    return torch.logsumexp(log_w, dim=0) - math.log(log_w.shape[0])


def exact_log_marginal(x, W, b, s):
    """log N(x; b, W W^T + s^2 I) through a Cholesky factor; (..., d) -> (...)."""
    d = x.shape[-1]
    cov = W @ W.transpose(-1, -2) + s**2 * torch.eye(d, dtype=W.dtype, device=W.device)
    chol = torch.linalg.cholesky(cov)
    batch = x.shape[:-1]
    diff = (x - b).reshape(-1, d).transpose(0, 1)
    white = torch.linalg.solve_triangular(chol, diff, upper=False)
    mahalanobis = (white**2).sum(0).reshape(batch)
    logdet = 2 * torch.log(torch.diagonal(chol)).sum()
    return -0.5 * (mahalanobis + logdet + d * LOG_2PI)


def exact_posterior(x, W, b, s):
    """(mean (..., k), cov (..., k, k)) of p(z | x): precision I + W^T W / s^2, mean cov W^T (x - b) / s^2."""
    k = W.shape[-1]
    precision = torch.eye(k, dtype=W.dtype, device=W.device) + W.transpose(-1, -2) @ W / s**2
    chol = torch.linalg.cholesky(precision)
    cov = torch.cholesky_inverse(chol)
    batch = x.shape[:-1]
    projected = ((x - b) @ W / s**2).reshape(-1, k).transpose(0, 1)
    mean = torch.cholesky_solve(projected, chol).transpose(0, 1).reshape(*batch, k)
    return mean, cov.expand(*batch, k, k).clone()
