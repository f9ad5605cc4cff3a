"""score.py with one catalogued mistake in metropolis_hastings (ratio_inverted); the other functions are correct."""

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
    drift = score(x).float()
    return x.float() + step_size * drift + math.sqrt(2.0 * step_size) * noise.float()


def mh_accept_prob(log_p_current, log_p_proposal):
    # exp(-max(0, log p(x) - log p(y))): the exponent is never positive, so nothing overflows.
    gap = log_p_current.float() - log_p_proposal.float()
    return torch.exp(-torch.relu(gap))


def metropolis_hastings(log_prob, x0, n_steps, proposal_std, generator):
    x = x0.clone()
    logp_x = log_prob(x)
    samples = []
    for _ in range(n_steps):
        y = x + proposal_std * torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
        logp_y = log_prob(y)
        u = torch.rand(x.shape[0], generator=generator, dtype=x.dtype, device=x.device)
        accept = torch.log(u) < logp_x - logp_y
        x = torch.where(accept[:, None], y, x)
        logp_x = torch.where(accept, logp_y, logp_x)
        samples.append(x.clone())
    return torch.stack(samples)
