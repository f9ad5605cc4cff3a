"""Known mistakes in q_sample, each a drop-in replacement with the same signature."""

import numpy as np
import torch

from grader.bank import mistake, probe


@mistake("alpha_t_for_alpha_bar", title="alpha_t used instead of abar_t",
         explanation="Only the last step's alpha_t = 1 - beta_t is used, not the product abar_t of all steps "
                     "1..t: the result is one forward step from x0, not t of them.",
         hint="Compose two forward steps x1 = sqrt(alpha_1) x0 + ..., x2 = sqrt(alpha_2) x1 + ...: what is the "
              "coefficient of x0 in x2?")
def q_sample(x0, t, betas, eps):
    alpha = 1 - betas[t - 1]
    return torch.sqrt(alpha) * x0 + torch.sqrt(1 - alpha) * eps


@mistake("off_by_one", title="Time index off by one",
         explanation="abar is indexed as if time steps were 0-based: cumprod(1 - betas)[t] is abar_{t+1}, one "
                     "step too late (and t = T runs past the end of the schedule).",
         hint="Time steps are 1-based: which entry of cumprod(1 - betas) holds abar_1?")
def q_sample(x0, t, betas, eps):  # noqa: F811
    abar = torch.cumprod(1 - betas, dim=0)[t]
    return torch.sqrt(abar) * x0 + torch.sqrt(1 - abar) * eps


@mistake("missing_sqrt", title="Square roots missing",
         explanation="x_t = abar_t x0 + (1 - abar_t) eps uses the variances as coefficients: the coefficients "
                     "must be the standard deviations sqrt(abar_t) and sqrt(1 - abar_t), so that the variance is "
                     "preserved.",
         hint="For x0 and eps independent N(0, 1), what is the variance of your x_t?")
def q_sample(x0, t, betas, eps):  # noqa: F811
    abar = torch.prod(1 - betas[:t])
    return abar * x0 + (1 - abar) * eps


_BETAS = np.array([0.1, 0.2, 0.05, 0.3, 0.15])

# Designed inputs: betas far from 0, x0 != 0 and eps != 0 of different signs, t strictly inside 1..T (so the
# off-by-one index stays in range) and t > 1 (so alpha_t and abar_t differ).
PROBES = [
    probe(np.array([1.5, -0.7, 2.0]), 3, _BETAS, np.array([0.4, 1.2, -0.9])),
    probe(np.array([[0.8, -1.6], [2.5, 0.3]]), 2, _BETAS, np.array([[-1.1, 0.5], [0.7, 1.9]])),
]
