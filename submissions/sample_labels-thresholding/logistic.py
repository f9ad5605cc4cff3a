"""Buggy example (logistic.sample_labels, mistake thresholding): sample_labels returns the most likely label instead of a random one; the other functions are correct."""

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
    """sigmoid(z) = (1 + tanh(z / 2)) / 2, computed in float32."""
    z = X.float() @ w.float() + b.float()
    return 0.5 * (1 + torch.tanh(z / 2))


def sample_labels(w, b, X, generator):
    """Label 1 where class 1 is the more likely one."""
    p = torch.special.expit(X @ w + b)
    return torch.where(p > 0.5, 1, 0).cpu().numpy()
