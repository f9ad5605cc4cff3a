"""Known mistakes in ddpm_kl_term, each a drop-in replacement with the same signature."""

import numpy as np
import torch

from grader.bank import mistake, probe


@mistake("missing_half", title="Missing 1/2",
         explanation="The KL between two Gaussians with the same variance var is ||mean difference||^2 / (2 var): "
                     "the factor 1/2 was dropped, so the result is twice the KL.",
         hint="Write KL(N(m1, v) || N(m2, v)) in one dimension and compare with your SNR formula.")
def ddpm_kl_term(x0, x0_hat, t, betas):
    one = torch.ones(1, dtype=betas.dtype, device=betas.device)
    abar = torch.cat([one, torch.cumprod(1 - betas, dim=0)])
    snr = abar / (1 - abar)
    return (snr[t - 1] - snr[t]) * ((x0 - x0_hat) ** 2).sum(-1)


@mistake("mean_over_dimensions", title="Mean over dimensions instead of sum",
         explanation="The squared error is averaged over the last dimension instead of summed, so the KL of d "
                     "independent coordinates is d times too small.",
         hint="For independent coordinates, how does the KL of the joint distribution relate to the KLs of "
              "the coordinates?")
def ddpm_kl_term(x0, x0_hat, t, betas):  # noqa: F811
    one = torch.ones(1, dtype=betas.dtype, device=betas.device)
    abar = torch.cat([one, torch.cumprod(1 - betas, dim=0)])
    snr = abar / (1 - abar)
    return 0.5 * (snr[t - 1] - snr[t]) * ((x0 - x0_hat) ** 2).mean(-1)


@mistake("beta_as_variance", title="beta_t used as the variance",
         explanation="The KL divides the squared difference of the posterior means by 2 beta_t, but both Gaussians "
                     "have the posterior variance beta_t (1 - abar_{t-1}) / (1 - abar_t), which is smaller.",
         hint="Which variance do q(x_{t-1} | x_t, x0) and p(x_{t-1} | x_t) share here?")
def ddpm_kl_term(x0, x0_hat, t, betas):  # noqa: F811
    one = torch.ones(1, dtype=betas.dtype, device=betas.device)
    abar = torch.cat([one, torch.cumprod(1 - betas, dim=0)])
    beta = betas[t - 1]
    coef_x0 = torch.sqrt(abar[t - 1]) * beta / (1 - abar[t])
    return (coef_x0**2 * ((x0 - x0_hat) ** 2).sum(-1)) / (2 * beta)


_BETAS = np.array([0.1, 0.2, 0.05, 0.3, 0.15])

# Designed inputs: d > 1 (so sum and mean differ), betas far from 0, t = 2 (where the posterior variance is
# much smaller than beta_t) and t strictly inside the schedule.
PROBES = [
    probe(np.array([[1.5, -0.7, 2.0], [0.3, 0.9, -1.2]]), np.array([[1.0, 0.1, 1.6], [-0.4, 1.3, -0.2]]), 2, _BETAS),
    probe(np.array([0.8, -1.6]), np.array([-0.3, 0.5]), 4, _BETAS),
]
