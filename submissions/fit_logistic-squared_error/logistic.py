"""Buggy example (logistic.fit_logistic, mistake squared_error): fit_logistic minimises the mean squared error of the probabilities; the other functions are correct."""

import numpy as np
import torch


def _mean_log_likelihood_gradient(design, y, theta):
    return design.T @ (y - torch.sigmoid(design @ theta)) / len(y)


def fit_logistic(X, y):
    """Fit sigmoid(x.w + b) to the labels by least squares, with L-BFGS."""
    w = torch.zeros(X.shape[1], dtype=X.dtype, device=X.device, requires_grad=True)
    b = torch.zeros((), dtype=X.dtype, device=X.device, requires_grad=True)
    optimizer = torch.optim.LBFGS([w, b], max_iter=1000, tolerance_grad=1e-12, tolerance_change=1e-15,
                                  line_search_fn="strong_wolfe")

    def closure():
        optimizer.zero_grad()
        loss = torch.mean((torch.sigmoid(X @ w + b) - y) ** 2)
        loss.backward()
        return loss

    with torch.enable_grad():
        optimizer.step(closure)
    return w.detach().cpu().numpy(), float(b)


def predict_proba(w, b, X):
    """sigmoid(z) = (1 + tanh(z / 2)) / 2, computed in float32."""
    z = X.float() @ w.float() + b.float()
    return 0.5 * (1 + torch.tanh(z / 2))


def sample_labels(w, b, X, generator):
    """One Bernoulli draw per row, returned as a numpy integer array."""
    p = torch.special.expit(X @ w + b)
    return torch.bernoulli(p, generator=generator).cpu().numpy().astype(np.int64)
