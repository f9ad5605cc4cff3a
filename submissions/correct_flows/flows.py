"""A correct flows.py written differently from the reference: torch.distributions, float32 arithmetic with the
textbook formulas, autograd for the sigmoid flow's derivative, and one network producing both s and t."""

import math

import numpy as np
import torch


def lognormal_log_prob(x, mu, sigma):
    dist = torch.distributions.LogNormal(torch.as_tensor(mu, dtype=torch.float32), sigma)
    return dist.log_prob(x.to(torch.float32))


def original_space_log_likelihood(ll_transformed, scale, dim):
    return ll_transformed.cpu().numpy() + dim * np.log(np.abs(scale))


def radial_flow(z, z0, alpha, beta):
    z, z0 = z.float(), z0.float()
    r = (z - z0).norm(dim=-1, keepdim=True)
    h = 1.0 / (alpha + r)
    y = z + beta * h * (z - z0)
    dh = -h**2
    log_det = (z.shape[-1] - 1) * torch.log1p(beta * h) + torch.log1p(beta * h + beta * dh * r)
    return y, log_det.squeeze(-1)


def radial_flow_inverse(y, z0, alpha, beta):
    y, z0 = y.float(), z0.float()
    s = (y - z0).norm(dim=-1, keepdim=True)
    # r^2 + (alpha + beta - s) r - alpha s = 0, the non-negative root
    p = alpha + beta - s
    r = (-p + torch.sqrt(p * p + 4 * alpha * s)) / 2
    return z0 + (y - z0) / (1 + beta / (alpha + r))


def sigmoid_mixture_flow(z, w, a, b):
    z = z.detach().float().requires_grad_(True)
    w, a, b = w.float(), a.float(), b.float()
    with torch.enable_grad():
        u = z.unsqueeze(-1) * a + b
        log_s = torch.logsumexp(w.log() + torch.nn.functional.logsigmoid(u), -1)
        log_1ms = torch.logsumexp(w.log() + torch.nn.functional.logsigmoid(-u), -1)
        y = log_s - log_1ms
        (dy,) = torch.autograd.grad(y.sum(), z)
    return y.detach(), dy


class AffineCoupling(torch.nn.Module):
    def __init__(self, dim, mask, hidden=32):
        super().__init__()
        self.dim = dim
        self.register_buffer("mask", torch.as_tensor(mask).clone().float())
        self.net = torch.nn.Sequential(
            torch.nn.Linear(dim, hidden), torch.nn.ReLU(),
            torch.nn.Linear(hidden, hidden), torch.nn.ReLU(),
            torch.nn.Linear(hidden, 2 * dim),
        )
        self.scale = torch.nn.Parameter(torch.ones(dim))

    def _st(self, kept):
        s, t = self.net(kept).chunk(2, dim=-1)
        s = self.scale * torch.tanh(s)
        keep = self.mask.bool()
        return torch.where(keep, torch.zeros_like(s), s), torch.where(keep, torch.zeros_like(t), t)

    def forward(self, x):
        s, t = self._st(x * self.mask)
        y = torch.where(self.mask.bool(), x, x * s.exp() + t)
        return y, s.sum(dim=1)

    def inverse(self, y):
        s, t = self._st(y * self.mask)
        x = torch.where(self.mask.bool(), y, (y - t) * torch.exp(-s))
        return x, -s.sum(dim=1)
