"""A correct implementation of flows.py computing in float32 throughout: every tensor argument is cast to float32
first (and the coupling layer casts its input and its parameters to float32 inside forward and inverse, whatever
dtype the grader moved it to). Textbook formulas: the log-normal density written out, the radial flow's
log-determinant from 1 + beta h and 1 + beta h + beta h' r, its inverse from the quadratic formula, and the
sigmoid flow's derivative from the component responsibilities of S and 1 - S. It shows that float32 arithmetic
gets full credit on the bank's well-conditioned inputs."""

import math

import torch
import torch.nn.functional as F

F32 = torch.float32


def lognormal_log_prob(x, mu, sigma):
    """log p(x) = log N(log x; mu, sigma^2) + log |d log x / dx|
    = -(log x - mu)^2 / (2 sigma^2) - log(sigma sqrt(2 pi)) - log x."""
    log_x = torch.log(x.to(F32))
    mu = mu.to(F32)
    return -((log_x - mu) ** 2) / (2 * sigma**2) - math.log(sigma * math.sqrt(2 * math.pi)) - log_x


def original_space_log_likelihood(ll_transformed, scale, dim):
    """p(x) = p'(x') |det dx'/dx| with dx'/dx = scale I_dim: add dim log|scale|."""
    ll = ll_transformed.to(F32)
    log_abs_scale = torch.log(torch.tensor(abs(scale), dtype=F32, device=ll.device))
    return ll + dim * log_abs_scale


def radial_flow(z, z0, alpha, beta):
    """y = z + beta h(r) (z - z0); the Jacobian has D - 1 eigenvalues 1 + beta h and one 1 + beta h + beta h'(r) r."""
    z, z0 = z.to(F32), z0.to(F32)
    diff = z - z0
    r = torch.linalg.norm(diff, dim=-1, keepdim=True)
    h = 1.0 / (alpha + r)
    y = z + beta * h * diff
    h_prime = -h * h
    tangential = 1.0 + beta * h
    radial = 1.0 + beta * h + beta * h_prime * r
    log_det = (z.shape[-1] - 1) * torch.log(tangential) + torch.log(radial)
    return y, log_det.squeeze(-1)


def radial_flow_inverse(y, z0, alpha, beta):
    """|y - z0| = r (1 + beta / (alpha + r)) is the quadratic r^2 + (alpha + beta - |y - z0|) r - alpha |y - z0| = 0;
    take its non-negative root, then z - z0 = (y - z0) / (1 + beta h(r))."""
    y, z0 = y.to(F32), z0.to(F32)
    diff = y - z0
    s = torch.linalg.norm(diff, dim=-1, keepdim=True)
    b = alpha + beta - s
    r = 0.5 * (torch.sqrt(b * b + 4.0 * alpha * s) - b)
    return z0 + diff / (1.0 + beta / (alpha + r))


def sigmoid_mixture_flow(z, w, a, b):
    """y = log S - log(1 - S) with both logs as log-sum-exps; dy/dz = d log S / dz - d log(1 - S) / dz, where
    d log S / dz = sum_i a_i p_i sigmoid(-u_i) and d log(1 - S) / dz = -sum_i a_i q_i sigmoid(u_i), with
    u_i = a_i z + b_i and p, q the responsibilities of the components in S and in 1 - S."""
    z, w, a, b = z.to(F32), w.to(F32), a.to(F32), b.to(F32)
    u = z.unsqueeze(-1) * a + b  # (..., N)
    log_w = torch.log(w)
    log_terms_s = log_w + F.logsigmoid(u)
    log_terms_1ms = log_w + F.logsigmoid(-u)
    y = torch.logsumexp(log_terms_s, dim=-1) - torch.logsumexp(log_terms_1ms, dim=-1)
    p = torch.softmax(log_terms_s, dim=-1)
    q = torch.softmax(log_terms_1ms, dim=-1)
    slope = (a * (p * torch.sigmoid(-u) + q * torch.sigmoid(u))).sum(-1)
    return y, slope


class AffineCoupling(torch.nn.Module):
    """RealNVP coupling: y = m x + (1 - m) (x exp(s(m x)) + t(m x)), s and t two heads on a shared hidden layer.
    Everything runs in float32: the parameters are cast at each call, so the layer may live in any dtype."""

    def __init__(self, dim, mask, hidden=32):
        super().__init__()
        self.register_buffer("mask", torch.as_tensor(mask, dtype=F32).clone())
        self.hidden = torch.nn.Linear(dim, hidden)
        self.log_scale = torch.nn.Linear(hidden, dim)
        self.translation = torch.nn.Linear(hidden, dim)

    @staticmethod
    def _linear(layer, x):
        return F.linear(x, layer.weight.to(F32), layer.bias.to(F32))

    def _conditioner(self, masked):
        """s and t of the masked input, zero on the masked coordinates."""
        free = 1.0 - self.mask.to(F32)
        features = torch.tanh(self._linear(self.hidden, masked))
        return self._linear(self.log_scale, features) * free, self._linear(self.translation, features) * free

    def forward(self, x):
        x = x.to(F32)
        mask = self.mask.to(F32)
        s, t = self._conditioner(x * mask)
        y = mask * x + (1.0 - mask) * (x * torch.exp(s) + t)
        return y, s.sum(dim=-1)

    def inverse(self, y):
        y = y.to(F32)
        mask = self.mask.to(F32)
        s, t = self._conditioner(y * mask)
        x = mask * y + (1.0 - mask) * ((y - t) * torch.exp(-s))
        return x, -s.sum(dim=-1)
