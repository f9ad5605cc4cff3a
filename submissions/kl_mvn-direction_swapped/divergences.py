"""Buggy example (divergences.kl_mvn, mistake direction_swapped): kl_mvn computes KL(N1 || N0) instead of KL(N0 || N1); the other functions are correct."""

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
    precision0 = torch.linalg.inv(cov0)
    delta = mu0 - mu1
    trace = (precision0 * cov1.transpose(-1, -2)).sum(dim=(-2, -1))
    mahalanobis = torch.einsum("...i,...ij,...j->...", delta, precision0, delta)
    logdet1 = torch.linalg.slogdet(cov1).logabsdet
    logdet0 = torch.linalg.slogdet(cov0).logabsdet
    return 0.5 * (trace + mahalanobis - d + logdet0 - logdet1)


def kl_diag_normal_std(mu, logvar):
    """The VAE's KL term: -1/2 sum(1 + log sigma^2 - mu^2 - sigma^2) over the last dimension."""
    return -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp(), dim=-1)


def kl_categorical(p, q):
    """sum_i p_i log(p_i / q_i); xlogy gives 0 log 0 = 0, and -p_i log 0 = +inf where q_i = 0 < p_i."""
    return (torch.special.xlogy(p, p) - torch.special.xlogy(p, q)).sum(dim=-1)
