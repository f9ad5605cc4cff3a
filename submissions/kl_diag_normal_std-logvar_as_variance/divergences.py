"""Buggy example (divergences.kl_diag_normal_std, mistake logvar_as_variance): kl_diag_normal_std treats logvar as the variance; the other functions are correct."""

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
    """The VAE's KL term, summed over the last dimension."""
    var = logvar
    return 0.5 * torch.sum(var + mu**2 - 1 - torch.log(var), dim=-1)


def kl_categorical(p, q):
    """sum_i p_i log(p_i / q_i); xlogy gives 0 log 0 = 0, and -p_i log 0 = +inf where q_i = 0 < p_i."""
    return (torch.special.xlogy(p, p) - torch.special.xlogy(p, q)).sum(dim=-1)
