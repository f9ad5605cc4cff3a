"""score.py with one catalogued mistake in langevin_step (sqrt_step_noise); the other functions are correct."""

import math

import torch


def kde_score(x, data, sigma):
    # grad_x log q(x) by autograd through a log-sum-exp of the kernel exponents (constants dropped).
    with torch.enable_grad():
        point = x.detach().clone().requires_grad_(True)
        exponents = -((point.unsqueeze(-2) - data) ** 2).sum(-1) / (2 * sigma * sigma)
        log_q = torch.logsumexp(exponents, dim=-1)
        (gradient,) = torch.autograd.grad(log_q.sum(), point)
    return gradient


def dsm_target(x_noisy, x_clean, sigma):
    # The score of N(x_clean, sigma^2 I) at x_noisy, in float32.
    variance = float(sigma) ** 2
    return (x_clean.float() - x_noisy.float()) / variance


def langevin_step(x, score, step_size, noise):
    return x + step_size * score(x) + math.sqrt(step_size) * noise


def mh_accept_prob(log_p_current, log_p_proposal):
    # exp(-max(0, log p(x) - log p(y))): the exponent is never positive, so nothing overflows.
    gap = log_p_current.float() - log_p_proposal.float()
    return torch.exp(-torch.relu(gap))


def metropolis_hastings(log_prob, x0, n_steps, proposal_std, generator):
    chains, dim = x0.shape
    steps = torch.randn((n_steps, chains, dim), generator=generator, dtype=x0.dtype, device=x0.device)
    uniforms = torch.rand((n_steps, chains), generator=generator, dtype=x0.dtype, device=x0.device)
    current = x0.clone()
    current_log_p = log_prob(current)
    chain = torch.empty((n_steps, chains, dim), dtype=x0.dtype, device=x0.device)
    for i in range(n_steps):
        proposal = current + proposal_std * steps[i]
        proposal_log_p = log_prob(proposal)
        # Accept when u < p(y) / p(x), compared in log space (log u <= 0, so no cap is needed).
        accepted = torch.log(uniforms[i]) < proposal_log_p - current_log_p
        current = torch.where(accepted[:, None], proposal, current)
        current_log_p = torch.where(accepted, proposal_log_p, current_log_p)
        chain[i] = current
    return chain
