"""Known mistakes in kl_normal, each a drop-in replacement with the same signature."""

import numpy as np
import torch

from grader.bank import mistake, probe


@mistake("direction_swapped", title="KL direction swapped",
         explanation="The result equals KL(p || q): the roles of q = N(mu_q, sigma_q^2) and p were exchanged.",
         hint="KL(q || p) is an expectation under q: which distribution's parameters weight the quadratic term?")
def kl_normal(mu_q, sigma_q, mu_p, sigma_p):
    return torch.log(sigma_q / sigma_p) + (sigma_p**2 + (mu_p - mu_q) ** 2) / (2 * sigma_q**2) - 0.5


@mistake("missing_half", title="Missing 1/2 on the quadratic term",
         explanation="The quadratic term (sigma_q^2 + (mu_q - mu_p)^2) / sigma_p^2 is not halved.",
         hint="Check KL(q || q): it must be exactly zero.")
def kl_normal(mu_q, sigma_q, mu_p, sigma_p):  # noqa: F811
    return torch.log(sigma_p / sigma_q) + (sigma_q**2 + (mu_q - mu_p) ** 2) / sigma_p**2 - 0.5


@mistake("sigma_for_variance", title="Standard deviation used where the variance belongs",
         explanation="sigma appears where sigma^2 should (in the quadratic term), so the result is wrong "
                     "whenever sigma != 1.",
         hint="Compare sigma = 1 with sigma = 2 by hand: which terms scale with sigma^2?")
def kl_normal(mu_q, sigma_q, mu_p, sigma_p):  # noqa: F811
    return torch.log(sigma_p / sigma_q) + (sigma_q + (mu_q - mu_p) ** 2) / (2 * sigma_p) - 0.5

# Designed so every mistake and the reference disagree: sigma != 1, mu != 0, unequal scales.
PROBES = [
    probe(np.asarray(0.5), np.asarray(2.0), np.asarray(-1.0), np.asarray(0.5)),
    probe(np.asarray([1.0, -0.3]), np.asarray([0.7, 1.9]), np.asarray([0.3, 0.4]), np.asarray([1.6, 0.6])),
]
