"""Reference solutions for diffusion.py (see PROBLEMS.md).

betas (T,) in (0, 1); time steps are 1-based: betas[t-1] is beta_t, abar_t = prod_{s<=t} (1 - beta_s), abar_0 = 1.
"""

import torch


def _log_alpha_bar(betas):
    """log abar_0..log abar_T, accumulated in log space (log1p keeps small betas exact)."""
    log_alphas = torch.log1p(-betas)
    return torch.cat([torch.zeros(1, dtype=betas.dtype, device=betas.device), torch.cumsum(log_alphas, 0)])


def alpha_bar(betas):
    """abar_0..abar_T: a (T+1,) tensor with abar_0 = 1."""
    return torch.exp(_log_alpha_bar(betas))


def _signal_and_noise_variances(betas, t):
    """(abar_t, 1 - abar_t); the latter through expm1, accurate when abar_t is close to 1."""
    log_abar = _log_alpha_bar(betas)[t]
    return torch.exp(log_abar), -torch.expm1(log_abar)


def q_sample(x0, t, betas, eps):
    """x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) eps."""
    abar, one_minus_abar = _signal_and_noise_variances(betas, t)
    return torch.sqrt(abar) * x0 + torch.sqrt(one_minus_abar) * eps


def q_posterior(x_t, x0, t, betas):
    """(mean, var) of q(x_{t-1} | x_t, x0); var is 0-d (0 at t = 1, where x_{t-1} = x0)."""
    beta = betas[t - 1]
    abar_prev, one_minus_abar_prev = _signal_and_noise_variances(betas, t - 1)
    _, one_minus_abar = _signal_and_noise_variances(betas, t)
    coef_x0 = torch.sqrt(abar_prev) * beta / one_minus_abar
    coef_xt = torch.sqrt(1 - beta) * one_minus_abar_prev / one_minus_abar
    mean = coef_x0 * x0 + coef_xt * x_t
    var = beta * one_minus_abar_prev / one_minus_abar
    return mean, var


def optimal_eps(x, t, data, betas):
    """E[eps | x_t = x] for x0 uniform over the rows of data: a softmax-weighted mixture of per-point noises."""
    abar, one_minus_abar = _signal_and_noise_variances(betas, t)
    scaled = torch.sqrt(abar) * data  # (m, d): the means of the components of p_t
    diff = x.unsqueeze(-2) - scaled  # (..., m, d)
    logits = -0.5 * (diff**2).sum(-1) / one_minus_abar
    weights = torch.softmax(logits, dim=-1)  # stable: subtracts the largest logit
    return (weights.unsqueeze(-1) * diff).sum(-2) / torch.sqrt(one_minus_abar)


def ddpm_kl_term(x0, x0_hat, t, betas):
    """KL(q(x_{t-1} | x_t, x0) || p(x_{t-1} | x_t)) = 1/2 (SNR(t-1) - SNR(t)) ||x0 - x0_hat||^2, t >= 2."""
    beta = betas[t - 1]
    abar_prev, one_minus_abar_prev = _signal_and_noise_variances(betas, t - 1)
    _, one_minus_abar = _signal_and_noise_variances(betas, t)
    # SNR(t-1) - SNR(t) = abar_{t-1} beta_t / ((1 - abar_{t-1}) (1 - abar_t)), without cancellation.
    snr_drop = abar_prev * beta / (one_minus_abar_prev * one_minus_abar)
    return 0.5 * snr_drop * ((x0 - x0_hat) ** 2).sum(-1)
