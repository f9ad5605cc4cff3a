"""A correct implementation of flow_matching.py computing in float32 throughout: every tensor argument is cast to
float32 first, the marginal velocity is the posterior mean of x1 (log-softmax weights) turned into a velocity,
and the Euler sampler calls the grader's velocity field with float32 states and float32 times. It shows that
float32 arithmetic gets full credit on the bank's well-conditioned inputs."""

import torch

F32 = torch.float32


def conditional_path(x1, t):
    """p_t(x | x1) = N(t x1, (1 - t)^2 I): the mean and the per-coordinate std, both shaped like x1."""
    x1 = x1.to(F32)
    mean = t * x1
    std = (1.0 - t) * torch.ones_like(x1)
    return mean, std


def conditional_velocity(x, x1, t):
    """u_t(x | x1) = (x1 - x) / (1 - t): the straight line from x to x1 covered in the remaining time."""
    x, x1 = x.to(F32), x1.to(F32)
    remaining = 1.0 - t  # a Python float: exact for t close to 1
    return (x1 - x) / remaining


def marginal_velocity(x, t, data):
    """v_t(x) = (E[x1 | x_t = x] - x) / (1 - t), the posterior over the rows of data a softmax of
    log N(x; t x_i, (1 - t)^2 I) (torch.softmax subtracts the largest logit, so far-away x and t near 1 stay
    finite; log_lik - logsumexp(log_lik) would not do in float32: logsumexp is rounded at the scale of the
    logits, thousands of nats near t = 1, and the weights would no longer sum to 1)."""
    x, data = x.to(F32), data.to(F32)
    sigma = 1.0 - t
    offsets = x.unsqueeze(-2) - t * data  # (..., m, d)
    log_lik = -(offsets * offsets).sum(-1) / (2.0 * sigma**2)
    posterior = torch.softmax(log_lik, dim=-1)
    x1_mean = torch.einsum("...m,md->...d", posterior, data)
    return (x1_mean - x) / sigma


def euler_sample(velocity, x0, n_steps):
    """n_steps explicit Euler steps x <- x + h v(x, t_i) from t = 0, with t_i = i h: one field call per step."""
    x = x0.to(F32)
    times = torch.arange(n_steps, dtype=F32, device=x.device) / n_steps
    h = 1.0 / n_steps
    for t_i in times:
        x = x + h * velocity(x, t_i)
    return x
