"""Known mistakes in fit_exclusive_gaussian, each a drop-in replacement with the same signature."""

import math

import numpy as np
import torch

from grader.bank import mistake, probe


@mistake("inclusive_instead", title="The inclusive (moment-matching) fit returned",
         explanation="(mu, sigma) matches the mixture's mean and variance: that minimises KL(p || q), not "
                     "KL(q || p). The exclusive fit is mode-seeking: it avoids the regions between modes where p is "
                     "small, so it is narrower and sits on one mode (or a group of close modes).",
         hint="KL(q || p) is an expectation under q of log q - log p: what does it cost q to put mass where p is "
              "almost zero?")
def fit_exclusive_gaussian(weights, means, stds):
    mu = (weights * means).sum()
    return mu, (weights * (stds**2 + (means - mu) ** 2)).sum().sqrt()


@mistake("heaviest_component", title="The heaviest component returned without optimising",
         explanation="(m_k, s_k) of the component with the largest weight is returned. That is close to the "
                     "exclusive fit only when the modes are far apart; for overlapping components the neighbours "
                     "pull q, and KL(q || p) is not stationary there.",
         hint="Evaluate the gradient of KL(q || p) at your answer for two components one standard deviation apart.")
def fit_exclusive_gaussian(weights, means, stds):  # noqa: F811
    k = torch.argmax(weights)
    return means[k], stds[k]


@mistake("single_start", title="One local search from the first component",
         explanation="KL(q || p) is minimised by a single local search started at the first component, which "
                     "ends in that mode's local minimum: KL(q || p) has a local minimum at every mode, and the "
                     "global one is elsewhere when another mode is heavier.",
         hint="Start the optimiser from every component (and from the moment-matched fit), and keep the best.")
def fit_exclusive_gaussian(weights, means, stds):  # noqa: F811
    eps = torch.linspace(-10.0, 10.0, 4001, dtype=torch.float64, device=means.device)
    phi = torch.exp(-0.5 * eps**2)
    phi = phi / phi.sum()
    theta = torch.stack([means[0], torch.log(stds[0])]).detach().clone().requires_grad_(True)
    optimizer = torch.optim.LBFGS([theta], lr=1.0, max_iter=500, tolerance_grad=1e-12, tolerance_change=0.0,
                                  line_search_fn="strong_wolfe")

    def closure():
        optimizer.zero_grad()
        x = theta[0] + torch.exp(theta[1]) * eps
        log_p = torch.logsumexp(torch.log(weights) - 0.5 * ((x[:, None] - means) / stds) ** 2 - torch.log(stds)
                                - 0.5 * math.log(2 * math.pi), dim=1)
        kl = -(phi * log_p).sum() - theta[1]
        kl.backward()
        return kl

    with torch.enable_grad():
        optimizer.step(closure)
    return theta[0].detach(), torch.exp(theta[1]).detach()


# Designed inputs: the first component is neither the heaviest nor where the global minimum lies; in the first probe
# the two heavier components overlap, so that the global fit covers both and differs from the heaviest component.
PROBES = [
    probe(np.array([0.2, 0.5, 0.3]), np.array([-3.5, 0.5, 1.8]), np.array([0.6, 0.8, 1.1])),
    probe(np.array([0.35, 0.65]), np.array([-4.0, 1.0]), np.array([0.5, 1.5])),
]
