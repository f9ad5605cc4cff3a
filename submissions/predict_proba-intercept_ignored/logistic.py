"""Buggy example (logistic.predict_proba, mistake intercept_ignored): predict_proba forgets the intercept b; the other functions are correct."""

import numpy as np
import torch


def _mean_log_likelihood_gradient(design, y, theta):
    return design.T @ (y - torch.sigmoid(design @ theta)) / len(y)


def fit_logistic(X, y):
    """Gradient ascent on the mean log-likelihood with step 1/L, L = ||Z||_2^2 / (4n) bounding its curvature.

    Plain gradient steps stay in the row space of the design, so collinear columns need no special care.
    """
    design = torch.cat([X, torch.ones_like(X[:, :1])], dim=1)
    step = 4 * len(y) / torch.linalg.matrix_norm(design, ord=2) ** 2
    theta = torch.zeros(design.shape[1], dtype=X.dtype, device=X.device)
    for _ in range(200_000):
        gradient = _mean_log_likelihood_gradient(design, y, theta)
        if gradient.abs().max() < 1e-10:
            break
        theta = theta + step * gradient
    return theta[:-1].cpu().numpy(), float(theta[-1])


def predict_proba(w, b, X):
    """sigmoid(x.w)."""
    return torch.sigmoid(torch.mv(X, w))


def sample_labels(w, b, X, generator):
    """One Bernoulli draw per row, returned as a numpy integer array."""
    p = torch.special.expit(X @ w + b)
    return torch.bernoulli(p, generator=generator).cpu().numpy().astype(np.int64)
