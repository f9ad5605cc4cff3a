"""Example correct submission for flow_matching.py, written independently of the reference solution."""

import numpy as np
import torch


def conditional_path(x1, t):
    """Mean and std of N(t x1, (1 - t)^2 I) as numpy arrays."""
    x1 = x1.detach().cpu().numpy()
    return t * x1, np.full(x1.shape, 1.0 - t)


def conditional_velocity(x, x1, t):
    """(x1 - x) / (1 - t) in float32."""
    return (x1.float() - x.float()) / np.float32(1.0 - t)


def marginal_velocity(x, t, data):
    """Posterior mean of x1 by log-softmax weights, in float32: v = (E[x1 | x] - x) / (1 - t)."""
    x, data = x.float(), data.float()
    s = 1.0 - t
    batch = x.shape[:-1]
    points = x.reshape(-1, 1, x.shape[-1])  # (n, 1, d)
    log_weights = torch.log_softmax(-((points - t * data) ** 2).sum(-1) / (2 * s * s), dim=1)  # (n, m)
    offsets = data - points  # (n, m, d): x_i - x
    velocity = torch.einsum("nm,nmd->nd", log_weights.exp(), offsets) / s
    return velocity.reshape(*batch, x.shape[-1])


def euler_sample(velocity, x0, n_steps):
    """Explicit Euler with the time kept as a tensor: t_i = i / n_steps."""
    x = x0.clone()
    step = 0
    while step < n_steps:
        t = torch.tensor(step / n_steps, dtype=x0.dtype, device=x0.device)
        x += velocity(x, t) / n_steps
        step += 1
    return x
