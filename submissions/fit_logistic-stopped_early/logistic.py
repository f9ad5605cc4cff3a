"""Buggy example (logistic.fit_logistic, mistake stopped_early): fit_logistic runs a fixed 100 steps of gradient ascent and stops there; the other functions are correct."""

import numpy as np
import torch


def _mean_log_likelihood_gradient(design, y, theta):
    return design.T @ (y - torch.sigmoid(design @ theta)) / len(y)


def fit_logistic(X, y):
    """Gradient ascent on the mean log-likelihood: 100 steps of size 0.1."""
    w = torch.zeros(X.shape[1], dtype=X.dtype, device=X.device)
    b = torch.zeros((), dtype=X.dtype, device=X.device)
    for _ in range(100):
        residual = y - torch.sigmoid(X @ w + b)
        w = w + 0.1 * X.T @ residual / len(y)
        b = b + 0.1 * residual.mean()
    return w.cpu().numpy(), float(b)


def predict_proba(w, b, X):
    """sigmoid(z) = (1 + tanh(z / 2)) / 2, computed in float32."""
    z = X.float() @ w.float() + b.float()
    return 0.5 * (1 + torch.tanh(z / 2))


def sample_labels(w, b, X, generator):
    """One Bernoulli draw per row, returned as a numpy integer array."""
    p = torch.special.expit(X @ w + b)
    return torch.bernoulli(p, generator=generator).cpu().numpy().astype(np.int64)
