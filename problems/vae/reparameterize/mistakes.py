"""Known mistakes in reparameterize, each a drop-in replacement with the same signature."""

import numpy as np
import torch

from grader.bank import mistake, probe


@mistake("variance_as_std", title="Variance used as the standard deviation",
         explanation="The noise is scaled by exp(logvar), the variance, instead of exp(logvar / 2), the standard "
                     "deviation, so z has variance exp(2 logvar).",
         hint="logvar is the log of sigma^2: which power of exp(logvar) is sigma?")
def reparameterize(mu, logvar, eps):
    return mu + torch.exp(logvar) * eps


@mistake("detached", title="Output detached from the graph",
         explanation="z is computed outside autograd (detached, under no_grad, or through numpy), so no "
                     "gradient reaches mu and logvar and the encoder cannot be trained.",
         hint="After z = reparameterize(mu, logvar, eps) with mu.requires_grad = True, does z.sum().backward() "
              "fill mu.grad?",
         named_by="reparameterize_gradient_wrt_mu_is_one")
def reparameterize(mu, logvar, eps):  # noqa: F811
    with torch.no_grad():
        return mu + torch.exp(0.5 * logvar) * eps


@mistake("exp_then_halve", title="exp(logvar) / 2 instead of exp(logvar / 2)",
         explanation="The halving is applied after the exponential: exp(logvar) / 2 is half the variance, not the "
                     "standard deviation exp(logvar / 2) = sqrt(exp(logvar)).",
         hint="With logvar = 0 the standard deviation is 1: what does your scale factor give?")
def reparameterize(mu, logvar, eps):  # noqa: F811
    return mu + torch.exp(logvar) / 2 * eps


# Designed inputs: sigma != 1 on both sides of 1 and eps away from 0 and 1, so that exp(logvar),
# exp(logvar) / 2 and exp(logvar / 2) differ clearly. The detached mistake returns the reference's values on
# every input: only the gradient properties reveal it, so it is named_by the gradient property instead.
PROBES = [
    probe(np.array([0.5, -1.0, 2.0]), np.array([1.2, -0.8, 0.4]), np.array([1.5, -0.7, 2.0])),
    probe(np.array([[1.0, -2.0], [0.3, 0.0]]), np.array([[2.0, -1.5], [0.7, -3.0]]),
          np.array([[-1.2, 0.8], [2.5, -1.8]])),
]
