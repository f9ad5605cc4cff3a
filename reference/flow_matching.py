"""Reference solutions for flow_matching.py (see PROBLEMS.md).

p0 = N(0, I_d); linear paths x_t = (1 - t) x0 + t x1, so p_t(x | x1) = N(t x1, (1 - t)^2 I); t a float in [0, 1).
"""

import torch


def conditional_path(x1, t):
    """(mean, std) of p_t(x | x1) = N(t x1, (1 - t)^2 I), both shaped like x1."""
    return t * x1, torch.full_like(x1, 1.0 - t)


def conditional_velocity(x, x1, t):
    """u_t(x | x1) = (x1 - x) / (1 - t): the velocity that carries x to x1 by time 1 in a straight line."""
    return (x1 - x) / (1.0 - t)


def marginal_velocity(x, t, data):
    """v_t(x) = E[u_t(x | x1) | x_t = x] = (E[x1 | x_t = x] - x) / (1 - t) for x1 uniform over the rows of data.

    The posterior over the data points is a softmax of the Gaussian log-likelihoods of p_t(x | x_i) =
    N(t x_i, (1 - t)^2 I); torch.softmax subtracts the largest logit, so far-away x and t close to 1 stay finite.
    """
    std = 1.0 - t
    residuals = x.unsqueeze(-2) - t * data  # (..., m, d): x - t x_i
    logits = -0.5 * (residuals**2).sum(-1) / std**2
    weights = torch.softmax(logits, dim=-1)  # (..., m)
    return (weights.unsqueeze(-1) * (data - x.unsqueeze(-2))).sum(-2) / std


def euler_sample(velocity, x0, n_steps):
    """x at t = 1 after n_steps explicit Euler steps x <- x + h velocity(x, t_i), h = 1 / n_steps, t_i = i h."""
    h = 1.0 / n_steps
    x = x0
    for i in range(n_steps):
        x = x + h * velocity(x, i * h)
    return x
