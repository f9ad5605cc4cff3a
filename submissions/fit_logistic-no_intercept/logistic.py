"""Buggy example (logistic.fit_logistic, mistake no_intercept): fit_logistic fits sigmoid(x.w) and returns b = 0; the other functions are correct."""

import numpy as np
import torch


def _mean_log_likelihood_gradient(design, y, theta):
    return design.T @ (y - torch.sigmoid(design @ theta)) / len(y)


def fit_logistic(X, y):
    """Newton's method on the log-likelihood of sigmoid(x.w)."""
    w = torch.zeros(X.shape[1], dtype=X.dtype, device=X.device)
    for _ in range(50):
        p = torch.sigmoid(X @ w)
        gradient = X.T @ (y - p)
        hessian = X.T @ (X * (p * (1 - p))[:, None])
        w = w + torch.linalg.lstsq(hessian, gradient[:, None]).solution[:, 0]
    return w.cpu().numpy(), 0.0


def predict_proba(w, b, X):
    """sigmoid(z) = (1 + tanh(z / 2)) / 2, computed in float32."""
    z = X.float() @ w.float() + b.float()
    return 0.5 * (1 + torch.tanh(z / 2))


def sample_labels(w, b, X, generator):
    """One Bernoulli draw per row, returned as a numpy integer array."""
    p = torch.special.expit(X @ w + b)
    return torch.bernoulli(p, generator=generator).cpu().numpy().astype(np.int64)
