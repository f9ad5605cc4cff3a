"""Known mistakes in q_posterior, each a drop-in replacement with the same signature."""

import numpy as np
import torch

from grader.bank import mistake, probe


@mistake("beta_as_variance", title="beta_t returned as the variance",
         explanation="The variance of q(x_{t-1} | x_t, x0) is beta_t (1 - abar_{t-1}) / (1 - abar_t), not beta_t: "
                     "beta_t is the variance of the forward step q(x_t | x_{t-1}), and knowing x0 reduces it (to 0 "
                     "at t = 1).",
         hint="At t = 1, how uncertain is x_{t-1} = x_0 once x0 is given?")
def q_posterior(x_t, x0, t, betas):
    one = torch.ones(1, dtype=betas.dtype, device=betas.device)
    abar = torch.cat([one, torch.cumprod(1 - betas, dim=0)])
    beta = betas[t - 1]
    mean = (torch.sqrt(abar[t - 1]) * beta * x0 + torch.sqrt(1 - beta) * (1 - abar[t - 1]) * x_t) / (1 - abar[t])
    return mean, beta


@mistake("coefficients_swapped", title="Coefficients of x0 and x_t swapped",
         explanation="The weight sqrt(abar_{t-1}) beta_t / (1 - abar_t) belongs to x0 and "
                     "sqrt(alpha_t) (1 - abar_{t-1}) / (1 - abar_t) to x_t; they were exchanged.",
         hint="At t = 1 the mean must be x0 exactly: which coefficient must then be 1 and which 0?")
def q_posterior(x_t, x0, t, betas):  # noqa: F811
    one = torch.ones(1, dtype=betas.dtype, device=betas.device)
    abar = torch.cat([one, torch.cumprod(1 - betas, dim=0)])
    beta = betas[t - 1]
    coef_x0 = torch.sqrt(abar[t - 1]) * beta / (1 - abar[t])
    coef_xt = torch.sqrt(1 - beta) * (1 - abar[t - 1]) / (1 - abar[t])
    return coef_xt * x0 + coef_x0 * x_t, beta * (1 - abar[t - 1]) / (1 - abar[t])


@mistake("off_by_one", title="Time index off by one",
         explanation="abar and beta are indexed as if time steps were 0-based (cumprod(1 - betas)[t], betas[t]): "
                     "the result is the posterior of step t + 1, and t = T runs past the end of the schedule.",
         hint="Time steps are 1-based: which entry of betas is beta_1, and which entry of cumprod(1 - betas) is abar_1?")
def q_posterior(x_t, x0, t, betas):  # noqa: F811
    alphas_cumprod = torch.cumprod(1 - betas, dim=0)
    abar, abar_prev, beta = alphas_cumprod[t], alphas_cumprod[t - 1], betas[t]
    mean = (torch.sqrt(abar_prev) * beta * x0 + torch.sqrt(1 - beta) * (1 - abar_prev) * x_t) / (1 - abar)
    return mean, beta * (1 - abar_prev) / (1 - abar)


_BETAS = np.array([0.1, 0.2, 0.05, 0.3, 0.15])

# Designed inputs: betas far from 0, x0 and x_t different, t = 1 (where the variance vanishes) and t
# strictly inside the schedule (so the off-by-one index stays in range).
PROBES = [
    probe(np.array([1.5, -0.7, 2.0]), np.array([0.4, 1.2, -0.9]), 3, _BETAS),
    probe(np.array([[0.8, -1.6], [2.5, 0.3]]), np.array([[-1.1, 0.5], [0.7, 1.9]]), 1, _BETAS),
    probe(np.array([0.3, 2.2]), np.array([-1.8, 0.6]), 2, _BETAS),
]
