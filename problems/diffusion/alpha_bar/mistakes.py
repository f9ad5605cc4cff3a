"""Known mistakes in alpha_bar, each a drop-in replacement with the same signature."""

import numpy as np
import torch

from grader.bank import mistake, probe


@mistake("missing_abar_0", title="abar_0 missing",
         explanation="The cumulative product of (1 - beta) is returned as is: it has T entries abar_1..abar_T, so "
                     "abar_0 = 1 is missing and index t of the result holds abar_{t+1}.",
         hint="How many entries must the result have for T = len(betas), and what is abar_0?")
def alpha_bar(betas):
    return torch.cumprod(1 - betas, dim=0)


@mistake("product_of_betas", title="Product of the betas instead of (1 - beta)",
         explanation="The cumulative product runs over beta_s instead of alpha_s = 1 - beta_s: that is the product "
                     "of the noise levels, not the fraction of the signal that survives.",
         hint="With betas all close to 0 (almost no noise), what should abar_t be close to?")
def alpha_bar(betas):  # noqa: F811
    one = torch.ones(1, dtype=betas.dtype, device=betas.device)
    return torch.cat([one, torch.cumprod(betas, dim=0)])


@mistake("square_root", title="sqrt(abar_t) returned",
         explanation="The product of sqrt(1 - beta_s) is returned: that is sqrt(abar_t), the coefficient of x0 in "
                     "x_t, not abar_t itself.",
         hint="x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) eps: which of these did you return?")
def alpha_bar(betas):  # noqa: F811
    one = torch.ones(1, dtype=betas.dtype, device=betas.device)
    return torch.cat([one, torch.cumprod(torch.sqrt(1 - betas), dim=0)])


# Designed inputs: betas far from 0 and different from each other, so that (1 - beta), beta and
# sqrt(1 - beta) products differ clearly.
PROBES = [
    probe(np.array([0.1, 0.2, 0.05, 0.3])),
    probe(np.linspace(0.02, 0.4, 8)),
]
