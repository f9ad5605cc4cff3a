"""Reference solutions for score.py (see PROBLEMS.md): score functions, Langevin dynamics and Metropolis-Hastings."""

import math

import torch


def kde_score(x, data, sigma):
    """grad_x log q(x) for q = (1/m) sum_i N(x; data_i, sigma^2 I): sum_i w_i(x) (data_i - x) / sigma^2, with the
    posterior weights w(x) a softmax (max-shifted, so finite far from every data point); x (..., d), data (m, d)."""
    offsets = data - x.unsqueeze(-2)  # (..., m, d)
    weights = torch.softmax(-0.5 * (offsets**2).sum(-1) / sigma**2, dim=-1)  # (..., m)
    return (weights.unsqueeze(-1) * offsets).sum(-2) / sigma**2


def dsm_target(x_noisy, x_clean, sigma):
    """grad_{x_noisy} log N(x_noisy; x_clean, sigma^2 I) = -(x_noisy - x_clean) / sigma^2."""
    return (x_clean - x_noisy) / sigma**2


def langevin_step(x, score, step_size, noise):
    """One unadjusted Langevin step x + h score(x) + sqrt(2 h) noise."""
    return x + step_size * score(x) + math.sqrt(2 * step_size) * noise


def mh_accept_prob(log_p_current, log_p_proposal):
    """min(1, exp(log_p_proposal - log_p_current)), elementwise; the exponent is clamped at 0 first, so large
    differences neither overflow nor produce inf * 0."""
    return torch.exp(torch.clamp(log_p_proposal - log_p_current, max=0.0))


def metropolis_hastings(log_prob, x0, n_steps, proposal_std, generator):
    """Random-walk Metropolis: n_steps states (after steps 1..n_steps) of len(x0) independent chains.

    Each step draws the Gaussian proposals, then one uniform per chain, both from ``generator``; a chain moves to
    its proposal when log u < log p(proposal) - log p(current).
    """
    x = x0
    log_p = log_prob(x)
    states = []
    for _ in range(n_steps):
        proposal = x + proposal_std * torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
        log_p_proposal = log_prob(proposal)
        uniform = torch.rand(x.shape[:1], generator=generator, dtype=x.dtype, device=x.device)
        accept = torch.log(uniform) < log_p_proposal - log_p
        x = torch.where(accept.unsqueeze(-1), proposal, x)
        log_p = torch.where(accept, log_p_proposal, log_p)
        states.append(x)
    return torch.stack(states)
