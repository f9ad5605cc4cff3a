"""Example submission for flow_matching.py with one catalogued mistake: unscaled_means in marginal_velocity."""

import torch


def conditional_path(x1, t):
    mean = t * x1
    std = (1 - t) * torch.ones_like(x1)
    return mean, std


def conditional_velocity(x, x1, t):
    return (x1 - x) / (1 - t)


def marginal_velocity(x, t, data):
    diff = x[..., None, :] - data
    logits = -(diff**2).sum(-1) / (2 * (1 - t) ** 2)
    weights = torch.softmax(logits, dim=-1)
    x1_hat = (weights[..., None] * data).sum(-2)
    return (x1_hat - x) / (1 - t)


def euler_sample(velocity, x0, n_steps):
    h = 1 / n_steps
    x = x0
    t = 0.0
    for _ in range(n_steps):
        x = x + h * velocity(x, t)
        t = t + h
    return x
