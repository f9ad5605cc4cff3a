"""Buggy example (logistic.fit_logistic, mistake l2_regularised): fit_logistic adds a ridge penalty 0.01 ||w||^2 / 2 to keep Newton's method stable; the other functions are correct."""

import numpy as np
import torch


def _mean_log_likelihood_gradient(design, y, theta):
    return design.T @ (y - torch.sigmoid(design @ theta)) / len(y)


def fit_logistic(X, y):
    """Newton's method on the mean log-likelihood minus 0.01 ||w||^2 / 2 (the ridge keeps the Hessian invertible)."""
    design = torch.cat([X, torch.ones_like(X[:, :1])], dim=1)
    penalty = torch.full((design.shape[1],), 0.01, dtype=X.dtype, device=X.device)
    penalty[-1] = 0.0
    theta = torch.zeros(design.shape[1], dtype=X.dtype, device=X.device)
    for _ in range(50):
        p = torch.sigmoid(design @ theta)
        gradient = design.T @ (y - p) / len(y) - penalty * theta
        hessian = design.T @ (design * (p * (1 - p))[:, None]) / len(y) + torch.diag(penalty)
        theta = theta + torch.linalg.solve(hessian, gradient)
    return theta[:-1].cpu().numpy(), float(theta[-1])


def predict_proba(w, b, X):
    """sigmoid(z) = (1 + tanh(z / 2)) / 2, computed in float32."""
    z = X.float() @ w.float() + b.float()
    return 0.5 * (1 + torch.tanh(z / 2))


def sample_labels(w, b, X, generator):
    """One Bernoulli draw per row, returned as a numpy integer array."""
    p = torch.special.expit(X @ w + b)
    return torch.bernoulli(p, generator=generator).cpu().numpy().astype(np.int64)
