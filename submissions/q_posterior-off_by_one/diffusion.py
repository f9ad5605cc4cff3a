"""Buggy example (diffusion.q_posterior, mistake off_by_one): q_posterior indexes betas and cumprod(1 - betas) 0-based (the posterior of step t + 1); the other functions are correct."""

import math

import numpy as np
import torch


def alpha_bar(betas):
    """abar_0..abar_T as a numpy array: a running product of the alphas, with abar_0 = 1 prepended."""
    alphas = 1.0 - betas.detach().cpu().numpy()
    return np.concatenate([[1.0], np.cumprod(alphas)])


def _abar(betas, t):
    """abar_t as a Python float: the product of the first t alphas (the empty product is abar_0 = 1)."""
    return float(torch.prod(1.0 - betas[:t]))


def q_sample(x0, t, betas, eps):
    """x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) eps, computed in float32."""
    abar = _abar(betas, t)
    return math.sqrt(abar) * x0.float() + math.sqrt(1.0 - abar) * eps.float()


def q_posterior(x_t, x0, t, betas):
    """Posterior mean and variance of q(x_{t-1} | x_t, x0)."""
    alphas_cumprod = torch.cumprod(1.0 - betas, dim=0)
    beta = betas[t]
    abar, abar_prev = alphas_cumprod[t], alphas_cumprod[t - 1]
    mean = (torch.sqrt(abar_prev) * beta * x0 + torch.sqrt(1.0 - beta) * (1.0 - abar_prev) * x_t) / (1.0 - abar)
    return mean, beta * (1.0 - abar_prev) / (1.0 - abar)


def optimal_eps(x, t, data, betas):
    """Tweedie's formula: E[eps | x_t = x] = -sqrt(1 - abar_t) grad_x log p_t(x), by autograd."""
    abar = _abar(betas, t)
    x = x.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        squared = ((x.unsqueeze(-2) - math.sqrt(abar) * data) ** 2).sum(-1)
        log_p = torch.logsumexp(-squared / (2.0 * (1.0 - abar)), dim=-1)
        (score,) = torch.autograd.grad(log_p.sum(), x)
    return -math.sqrt(1.0 - abar) * score


def ddpm_kl_term(x0, x0_hat, t, betas):
    """KL of two Gaussians with the same variance: |difference of the posterior means|^2 / (2 var), in float32."""
    beta = float(betas[t - 1])
    abar_prev, abar = _abar(betas, t - 1), _abar(betas, t)
    coef_x0 = math.sqrt(abar_prev) * beta / (1.0 - abar)
    var = beta * (1.0 - abar_prev) / (1.0 - abar)
    return ((coef_x0 * (x0.float() - x0_hat.float())) ** 2).sum(-1) / (2.0 * var)
