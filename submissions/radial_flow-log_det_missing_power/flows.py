"""flows.py with one mistake in radial_flow: log-det missing the (D - 1) power."""

import math

import torch
from torch import nn

LOG_2PI = math.log(2 * math.pi)


def lognormal_log_prob(x, mu, sigma):
    """log LogNormal(x; mu, sigma^2) = log N(log x; mu, sigma^2) - log x for x > 0: the density of exp(u),
    u ~ N(mu, sigma^2), by the change of variables x = exp(u) (|dx/du| = x)."""
    log_x = torch.log(x)
    return -0.5 * ((log_x - mu) / sigma) ** 2 - math.log(sigma) - 0.5 * LOG_2PI - log_x


def original_space_log_likelihood(ll_transformed, scale, dim):
    """log p(x) = log p'(x') + dim * log|scale| for x' = scale * x + shift applied to dim coordinates."""
    return ll_transformed + dim * math.log(abs(scale))


def _radial_terms(r, alpha, beta):
    """log(1 + beta h) and log(1 + beta h + beta h' r) = log(1 + beta alpha h^2), h = 1 / (alpha + r).

    Written as log(alpha + beta + r) - log(alpha + r) so that the boundary beta = -alpha keeps its precision
    near r = 0 (where 1 + beta h cancels)."""
    log_tangential = torch.log(alpha + beta + r) - torch.log(alpha + r)
    # (alpha + r)^2 + beta alpha = r^2 + 2 alpha r + alpha (alpha + beta): no cancellation for beta >= -alpha.
    radial = (r * r + 2 * alpha * r + alpha * (alpha + beta)) / (alpha + r) ** 2
    return log_tangential, torch.log(radial)


def radial_flow(z, z0, alpha, beta):
    diff = z - z0
    r = torch.linalg.vector_norm(diff, dim=-1)
    h = 1 / (alpha + r)
    y = z + (beta * h)[..., None] * diff
    return y, torch.log(1 + beta * h) + torch.log(1 + beta * h - beta * h * h * r)


def radial_flow_inverse(y, z0, alpha, beta):
    """z with radial_flow(z) = y: ||y - z0|| = r (alpha + beta + r) / (alpha + r) is solved for r >= 0 (the
    non-negative root of r^2 + (alpha + beta - s) r - alpha s = 0), then z - z0 = (y - z0) (alpha + r) /
    (alpha + beta + r)."""
    diff = y - z0
    s = torch.linalg.vector_norm(diff, dim=-1)
    b = alpha + beta - s
    root = torch.sqrt(b * b + 4 * alpha * s)
    # Both forms are the same root; each avoids cancellation on its side of b = 0.
    r = torch.where(b > 0, 2 * alpha * s / (b + root).clamp_min(torch.finfo(s.dtype).tiny), (root - b) / 2)
    factor = (alpha + r) / (alpha + beta + r)
    return z0 + factor[..., None] * diff


def _log_mixture(log_w, logits):
    """log sum_i w_i sigmoid(logits_i) over the trailing component dimension, stably."""
    return torch.logsumexp(log_w + nn.functional.logsigmoid(logits), dim=-1)


def sigmoid_mixture_flow(z, w, a, b):
    """y = logit(S), S = sum_i w_i sigmoid(a_i z + b_i), elementwise in z; returns (y, dy/dz).

    log S and log(1 - S) = log sum_i w_i sigmoid(-(a_i z + b_i)) are both log-sum-exps, so the tails stay
    finite; dy/dz = S' / (S (1 - S)) with S' = sum_i w_i a_i sigmoid(.) sigmoid(-.)."""
    logits = a * z[..., None] + b
    log_w = torch.log(w)
    log_s = _log_mixture(log_w, logits)
    log_one_minus_s = _log_mixture(log_w, -logits)
    y = log_s - log_one_minus_s
    log_slope_terms = log_w + torch.log(a) + nn.functional.logsigmoid(logits) + nn.functional.logsigmoid(-logits)
    log_slope = torch.logsumexp(log_slope_terms, dim=-1)
    return y, torch.exp(log_slope - log_s - log_one_minus_s)


class AffineCoupling(nn.Module):
    """RealNVP affine coupling: y = m x + (1 - m) (x exp(s(m x)) + t(m x)); s, t are MLPs of the masked input."""

    def __init__(self, dim, mask, hidden=32):
        super().__init__()
        self.register_buffer("mask", torch.as_tensor(mask, dtype=torch.get_default_dtype()).clone())
        self.scale_net = nn.Sequential(nn.Linear(dim, hidden), nn.Tanh(), nn.Linear(hidden, dim))
        self.shift_net = nn.Sequential(nn.Linear(dim, hidden), nn.Tanh(), nn.Linear(hidden, dim))

    def _scale_shift(self, masked):
        free = 1 - self.mask
        return self.scale_net(masked) * free, self.shift_net(masked) * free

    def forward(self, x):
        """(y, log|det dy/dx|): only the free coordinates (mask 0) are scaled, so the log-det is sum s."""
        masked = x * self.mask
        s, t = self._scale_shift(masked)
        y = masked + (1 - self.mask) * (x * torch.exp(s) + t)
        return y, s.sum(-1)

    def inverse(self, y):
        """(x, log|det dx/dy|): m y = m x, so the same s and t are recomputed from y and undone."""
        masked = y * self.mask
        s, t = self._scale_shift(masked)
        x = masked + (1 - self.mask) * (y - t) * torch.exp(-s)
        return x, -s.sum(-1)
