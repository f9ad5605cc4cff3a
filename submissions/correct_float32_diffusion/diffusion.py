"""A correct implementation of diffusion.py computing in float32 throughout, the way a student following the
`diffusers` DDPM scheduler would: every tensor argument is cast to float32 first, the schedule is a float32
cumulative product, beta_t is recovered from it as 1 - abar_t / abar_{t-1}, the SNR difference is taken
literally, and the optimal eps comes from the posterior mean of x0. It shows that float32 arithmetic gets
full credit on the bank's well-conditioned inputs."""

import torch

F32 = torch.float32


def alpha_bar(betas):
    """[1, a_1, a_1 a_2, ...]: the running product of alphas = 1 - betas, in float32."""
    alphas = 1.0 - betas.to(F32)
    alphas_cumprod = torch.cumprod(alphas, dim=0)
    return torch.cat([torch.ones(1, dtype=F32, device=betas.device), alphas_cumprod])


def q_sample(x0, t, betas, eps):
    """x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) eps."""
    abar_t = alpha_bar(betas)[t]
    return abar_t.sqrt() * x0.to(F32) + (1.0 - abar_t).sqrt() * eps.to(F32)


def q_posterior(x_t, x0, t, betas):
    """diffusers-style posterior: beta_t and alpha_t recovered from the cumulative products (t = 1 needs no special
    case: abar_0 = 1 makes the x_t weight and the variance vanish and the x0 weight 1)."""
    x_t, x0 = x_t.to(F32), x0.to(F32)
    abar = alpha_bar(betas)
    alpha_prod_t, alpha_prod_t_prev = abar[t], abar[t - 1]
    beta_prod_t, beta_prod_t_prev = 1.0 - alpha_prod_t, 1.0 - alpha_prod_t_prev
    current_alpha_t = alpha_prod_t / alpha_prod_t_prev
    current_beta_t = 1.0 - current_alpha_t
    original_coeff = alpha_prod_t_prev.sqrt() * current_beta_t / beta_prod_t
    current_coeff = current_alpha_t.sqrt() * beta_prod_t_prev / beta_prod_t
    mean = original_coeff * x0 + current_coeff * x_t
    variance = beta_prod_t_prev / beta_prod_t * current_beta_t
    return mean, variance


def optimal_eps(x, t, data, betas):
    """E[eps | x_t = x] = (x - sqrt(abar_t) E[x0 | x_t = x]) / sqrt(1 - abar_t), the posterior over the data points
    a softmax of their Gaussian log-likelihoods under q(x_t | x0 = data_i)."""
    x, data = x.to(F32), data.to(F32)
    abar_t = alpha_bar(betas)[t]
    sigma2 = 1.0 - abar_t
    means = abar_t.sqrt() * data  # (m, d)
    sq_dist = ((x[..., None, :] - means) ** 2).sum(dim=-1)  # (..., m)
    posterior = torch.softmax(-sq_dist / (2.0 * sigma2), dim=-1)
    x0_mean = posterior @ data  # (..., d)
    return (x - abar_t.sqrt() * x0_mean) / sigma2.sqrt()


def ddpm_kl_term(x0, x0_hat, t, betas):
    """0.5 (SNR(t-1) - SNR(t)) ||x0 - x0_hat||^2 with SNR = abar / (1 - abar) taken from the float32 schedule."""
    abar = alpha_bar(betas)
    snr_prev = abar[t - 1] / (1.0 - abar[t - 1])
    snr_t = abar[t] / (1.0 - abar[t])
    squared_error = ((x0.to(F32) - x0_hat.to(F32)) ** 2).sum(dim=-1)
    return 0.5 * (snr_prev - snr_t) * squared_error
