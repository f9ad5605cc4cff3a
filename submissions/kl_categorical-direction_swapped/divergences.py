"""Buggy example (divergences.kl_categorical, mistake direction_swapped): kl_categorical computes KL(q || p) instead of KL(p || q); the other functions are correct."""

import torch
from torch.distributions import Normal, kl_divergence


def kl_normal(mu_q, sigma_q, mu_p, sigma_p):
    """KL(N(mu_q, sigma_q^2) || N(mu_p, sigma_p^2)), elementwise."""
    q = Normal(torch.as_tensor(mu_q), torch.as_tensor(sigma_q))
    p = Normal(torch.as_tensor(mu_p), torch.as_tensor(sigma_p))
    return kl_divergence(q, p)


def kl_mvn(mu0, cov0, mu1, cov1):
    """KL(N(mu0, cov0) || N(mu1, cov1)) = 1/2 [tr(S1^-1 S0) + (m1 - m0)^T S1^-1 (m1 - m0) - d + log|S1| - log|S0|]."""
    d = mu0.shape[-1]
    precision1 = torch.linalg.inv(cov1)
    delta = mu1 - mu0
    # tr(A B) = sum_ij A_ij B_ji
    trace = (precision1 * cov0.transpose(-1, -2)).sum(dim=(-2, -1))
    mahalanobis = torch.einsum("...i,...ij,...j->...", delta, precision1, delta)
    logdet1 = torch.linalg.slogdet(cov1).logabsdet
    logdet0 = torch.linalg.slogdet(cov0).logabsdet
    return 0.5 * (trace + mahalanobis - d + logdet1 - logdet0)


def kl_diag_normal_std(mu, logvar):
    """The VAE's KL term: -1/2 sum(1 + log sigma^2 - mu^2 - sigma^2) over the last dimension."""
    return -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp(), dim=-1)


def kl_categorical(p, q):
    """sum_i p_i log(p_i / q_i) over the last dimension."""
    return (torch.special.xlogy(q, q) - torch.special.xlogy(q, p)).sum(dim=-1)
