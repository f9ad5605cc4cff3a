"""Known mistakes in lognormal_log_prob, each a drop-in replacement with the same signature."""

import math

import numpy as np
import torch

from grader.bank import mistake, probe


@mistake("jacobian_missing", title="Jacobian term missing",
         explanation="The result is log N(log x; mu, sigma^2): the density of u = log x evaluated at log x, without "
                     "the change-of-variables term log|du/dx| = -log x, so it does not integrate to 1 over x.",
         hint="p_X(x) = p_U(u(x)) |du/dx|: what is du/dx for u = log x?")
def lognormal_log_prob(x, mu, sigma):
    log_x = torch.log(x)
    return -0.5 * ((log_x - mu) / sigma) ** 2 - math.log(sigma) - 0.5 * math.log(2 * math.pi)


@mistake("jacobian_sign_flipped", title="Jacobian term with the wrong sign",
         explanation="log x is added instead of subtracted: the correction log|dx/du| of the forward map was used "
                     "where the density needs log|du/dx| = -log x.",
         hint="Which way does the density change when x = exp(u) stretches space (x > 1)? Check that your density "
              "integrates to 1.")
def lognormal_log_prob(x, mu, sigma):  # noqa: F811
    log_x = torch.log(x)
    return -0.5 * ((log_x - mu) / sigma) ** 2 - math.log(sigma) - 0.5 * math.log(2 * math.pi) + log_x


@mistake("sigma_as_variance", title="sigma used as the variance",
         explanation="The Gaussian term uses sigma where sigma^2 belongs (in the quadratic term and the normaliser), "
                     "so the density is that of LogNormal(mu, sigma).",
         hint="sigma is the standard deviation of log x: where does sigma^2 appear in log N(u; mu, sigma^2)?")
def lognormal_log_prob(x, mu, sigma):  # noqa: F811
    log_x = torch.log(x)
    return -0.5 * (log_x - mu) ** 2 / sigma - 0.5 * math.log(2 * math.pi * sigma) - log_x


# Designed inputs: sigma != 1, mu != 0 and x on both sides of 1, so that each mistake's term differs.
PROBES = [
    probe(np.array([0.5, 3.0, 20.0]), np.asarray(0.7), 1.5),
    probe(np.array([[0.1], [2.0]]), np.array([-1.0, 0.5]), 0.6),
]
