"""Reference solutions for logistic.py (see PROBLEMS.md)."""

import torch


def _mean_log_likelihood(design, y, theta):
    """(1/n) sum_i [y_i eta_i - log(1 + exp(eta_i))] with eta = design @ theta, stable for any eta."""
    eta = design @ theta
    return (y * eta - torch.nn.functional.softplus(eta)).mean()


MAX_NEWTON_STEPS = 100
GRADIENT_TOLERANCE = 1e-12


def fit_logistic(X, y):
    """Maximum-likelihood (w, b) of p(y=1|x) = sigmoid(x.w + b) by Newton's method.

    Collinear columns make the Hessian singular: the Newton step is taken with its pseudo-inverse (the
    gradient always lies in the Hessian's range), which reaches one maximiser among many.
    """
    X = torch.as_tensor(X, dtype=torch.float64)
    y = torch.as_tensor(y, dtype=torch.float64, device=X.device)
    n, d = X.shape
    design = torch.cat([X, torch.ones(n, 1, dtype=X.dtype, device=X.device)], dim=1)
    theta = torch.zeros(d + 1, dtype=X.dtype, device=X.device)
    current = _mean_log_likelihood(design, y, theta)
    for _ in range(MAX_NEWTON_STEPS):
        p = torch.sigmoid(design @ theta)
        gradient = design.T @ (y - p) / n
        if gradient.abs().max() <= GRADIENT_TOLERANCE:
            break
        hessian = (design * (p * (1 - p))[:, None]).T @ design / n
        eigenvalues, eigenvectors = torch.linalg.eigh(hessian)
        kept = eigenvalues > eigenvalues.max() * 1e-12
        basis = eigenvectors[:, kept]
        step = basis @ ((basis.T @ gradient) / eigenvalues[kept])
        # Backtracking keeps every step an ascent step, also far from the optimum.
        size = 1.0
        while True:
            candidate = _mean_log_likelihood(design, y, theta + size * step)
            if candidate >= current or size < 1e-8:
                break
            size /= 2
        theta, current = theta + size * step, candidate
    return theta[:d], theta[d]


def predict_proba(w, b, X):
    """p(Y=1 | x) = sigmoid(x.w + b) for each row of X."""
    return torch.sigmoid(X @ w + b)


def sample_labels(w, b, X, generator):
    """y_i ~ Bernoulli(sigmoid(x_i.w + b)), independently per row, all randomness from ``generator``."""
    p = torch.sigmoid(X @ w + b)
    uniform = torch.rand(p.shape, generator=generator, dtype=p.dtype, device=p.device)
    return (uniform < p).to(p.dtype)
