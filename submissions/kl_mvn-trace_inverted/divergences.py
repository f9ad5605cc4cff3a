"""Buggy example (divergences.kl_mvn, mistake trace_inverted): kl_mvn's trace term uses inv(cov0) @ cov1; the other functions are correct."""

import torch
from torch.distributions import Normal, kl_divergence


def kl_normal(mu_q, sigma_q, mu_p, sigma_p):
    """KL(N(mu_q, sigma_q^2) || N(mu_p, sigma_p^2)), elementwise."""
    q = Normal(torch.as_tensor(mu_q), torch.as_tensor(sigma_q))
    p = Normal(torch.as_tensor(mu_p), torch.as_tensor(sigma_p))
    return kl_divergence(q, p)


def kl_mvn(mu0, cov0, mu1, cov1):
    """KL(N(mu0, cov0) || N(mu1, cov1))."""
    d = mu0.shape[-1]
    delta = (mu1 - mu0).unsqueeze(-1)
    trace = torch.diagonal(torch.linalg.solve(cov0, cov1), dim1=-2, dim2=-1).sum(-1)
    mahalanobis = (delta.transpose(-1, -2) @ torch.linalg.solve(cov1, delta)).squeeze(-1).squeeze(-1)
    return 0.5 * (trace + mahalanobis - d + torch.logdet(cov1) - torch.logdet(cov0))


def kl_diag_normal_std(mu, logvar):
    """The VAE's KL term: -1/2 sum(1 + log sigma^2 - mu^2 - sigma^2) over the last dimension."""
    return -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp(), dim=-1)


def kl_categorical(p, q):
    """sum_i p_i log(p_i / q_i); xlogy gives 0 log 0 = 0, and -p_i log 0 = +inf where q_i = 0 < p_i."""
    return (torch.special.xlogy(p, p) - torch.special.xlogy(p, q)).sum(dim=-1)
