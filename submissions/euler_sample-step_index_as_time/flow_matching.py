"""Example submission for flow_matching.py with one catalogued mistake: step_index_as_time in euler_sample."""

import torch


def conditional_path(x1, t):
    mean = t * x1
    std = (1 - t) * torch.ones_like(x1)
    return mean, std


def conditional_velocity(x, x1, t):
    return (x1 - x) / (1 - t)


def marginal_velocity(x, t, data):
    diff = x[..., None, :] - t * data
    logits = -(diff**2).sum(-1) / (2 * (1 - t) ** 2)
    weights = torch.softmax(logits, dim=-1)
    x1_hat = (weights[..., None] * data).sum(-2)
    return (x1_hat - x) / (1 - t)


def euler_sample(velocity, x0, n_steps):
    h = 1 / n_steps
    x = x0
    for t in range(n_steps):
        x = x + h * velocity(x, t)
    return x
