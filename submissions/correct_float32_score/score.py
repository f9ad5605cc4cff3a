"""score.py computed in float32: a correct implementation computing in float32 that should get full credit.

Every tensor argument is cast to float32 on arrival and all arithmetic stays in float32, including the calls to
the score and log-density callables the grader passes in (they receive float32 points and answer in float32);
every function returns float32 tensors. The KDE score is written as (posterior mean of the data - x) / sigma^2,
the acceptance probability as a where() on the sign of the log-ratio, and the sampler compares a uniform draw with
the density ratio itself.
"""

import math

import torch


def kde_score(x, data, sigma):
    # grad log q(x) = (E[data_i | x] - x) / sigma^2, with p(i | x) a softmax over the kernel exponents.
    x = x.to(torch.float32)
    data = data.to(torch.float32)
    sq_dist = ((x[..., None, :] - data) ** 2).sum(dim=-1)  # (..., m)
    resp = torch.softmax(-sq_dist / (2.0 * sigma**2), dim=-1)  # (..., m)
    posterior_mean = resp @ data  # (..., d)
    return (posterior_mean - x) / sigma**2


def dsm_target(x_noisy, x_clean, sigma):
    # d/dx_noisy of -|x_noisy - x_clean|^2 / (2 sigma^2).
    x_noisy = x_noisy.to(torch.float32)
    x_clean = x_clean.to(torch.float32)
    return -(x_noisy - x_clean) / sigma**2


def langevin_step(x, score, step_size, noise):
    x = x.to(torch.float32)
    noise = noise.to(torch.float32)
    return x + step_size * score(x) + math.sqrt(2.0 * step_size) * noise


def mh_accept_prob(log_p_current, log_p_proposal):
    log_p_current = log_p_current.to(torch.float32)
    log_p_proposal = log_p_proposal.to(torch.float32)
    log_ratio = log_p_proposal - log_p_current
    # A better (or equal) proposal is always accepted; exp of a positive log-ratio is never used (it may be inf).
    return torch.where(log_ratio >= 0, torch.ones_like(log_ratio), torch.exp(log_ratio))


def metropolis_hastings(log_prob, x0, n_steps, proposal_std, generator):
    x = x0.to(torch.float32)
    n_chains = x.shape[0]
    log_p = log_prob(x)
    states = []
    for _ in range(n_steps):
        eps = torch.randn(x.shape, generator=generator, dtype=torch.float32, device=x.device)
        y = x + proposal_std * eps
        log_p_y = log_prob(y)
        u = torch.rand(n_chains, generator=generator, dtype=torch.float32, device=x.device)
        accept = u < torch.exp(log_p_y - log_p)  # min(1, ratio) is implicit: u < 1 always
        x = torch.where(accept[:, None], y, x)
        log_p = torch.where(accept, log_p_y, log_p)
        states.append(x)
    return torch.stack(states, dim=0)
