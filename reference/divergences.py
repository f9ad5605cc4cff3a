"""Reference solutions for divergences.py (see PROBLEMS.md)."""

import math

import torch


def kl_normal(mu_q, sigma_q, mu_p, sigma_p):
    """KL(N(mu_q, sigma_q^2) || N(mu_p, sigma_p^2)), elementwise with broadcasting."""
    mu_q, sigma_q, mu_p, sigma_p = (torch.as_tensor(v, dtype=torch.float64) for v in (mu_q, sigma_q, mu_p, sigma_p))
    ratio = sigma_q / sigma_p
    return -torch.log(ratio) + 0.5 * (ratio**2 + ((mu_q - mu_p) / sigma_p) ** 2) - 0.5


def kl_mvn(mu0, cov0, mu1, cov1):
    """KL(N(mu0, cov0) || N(mu1, cov1)) for (..., d) means and (..., d, d) SPD covariances."""
    d = mu0.shape[-1]
    chol1 = torch.linalg.cholesky(cov1)
    chol0 = torch.linalg.cholesky(cov0)
    # trace(cov1^-1 cov0) = ||L1^-1 L0||_F^2; the Mahalanobis term = ||L1^-1 (mu1 - mu0)||^2.
    m = torch.linalg.solve_triangular(chol1, chol0, upper=False)
    trace = (m**2).sum(dim=(-2, -1))
    diff = (mu1 - mu0).unsqueeze(-1)
    maha = (torch.linalg.solve_triangular(chol1, diff, upper=False) ** 2).sum(dim=(-2, -1))
    logdet1 = 2 * torch.log(torch.diagonal(chol1, dim1=-2, dim2=-1)).sum(-1)
    logdet0 = 2 * torch.log(torch.diagonal(chol0, dim1=-2, dim2=-1)).sum(-1)
    return 0.5 * (trace + maha - d + logdet1 - logdet0)


def kl_diag_normal_std(mu, logvar):
    """KL(N(mu, diag(exp(logvar))) || N(0, I)), summed over the last dimension."""
    return 0.5 * (torch.exp(logvar) + mu**2 - 1 - logvar).sum(-1)


def kl_categorical(p, q):
    """sum_i p_i log(p_i / q_i) over the last dimension, with 0 log(0/q) = 0 and +inf where p_i > 0 = q_i."""
    p, q = torch.broadcast_tensors(p, q)
    safe_q = torch.where(q > 0, q, torch.ones_like(q))
    terms = torch.where(p > 0, p * (torch.log(torch.where(p > 0, p, torch.ones_like(p))) - torch.log(safe_q)),
                        torch.zeros_like(p))
    terms = torch.where((p > 0) & (q <= 0), torch.full_like(p, math.inf), terms)
    return terms.sum(-1)
