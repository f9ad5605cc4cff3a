"""Known mistakes in fit_logistic, each a drop-in replacement with the same signature."""

import numpy as np
import torch

from grader.bank import mistake, probe


@mistake("stopped_early", title="Stopped before convergence",
         explanation="A fixed, small number of gradient-ascent steps is taken, so the returned (w, b) is still "
                     "far from the maximum: the gradient of the log-likelihood there is clearly not zero.",
         hint="Print the gradient of the mean log-likelihood at your answer: stop when it is tiny, not after a "
              "fixed number of steps.")
def fit_logistic(X, y):
    w = torch.zeros(X.shape[1], dtype=X.dtype, device=X.device)
    b = torch.zeros((), dtype=X.dtype, device=X.device)
    for _ in range(100):
        residual = y - torch.sigmoid(X @ w + b)
        w = w + 0.1 * X.T @ residual / len(y)
        b = b + 0.1 * residual.mean()
    return w, b


@mistake("no_intercept", title="No intercept",
         explanation="The model is fitted as sigmoid(x.w) with b fixed to 0, so the fitted probabilities are "
                     "wrong whenever the data need an intercept (the mean residual y - p is not zero).",
         hint="At a maximiser, the derivative with respect to b is the sum of the residuals y_i - p_i: is it "
              "zero for your fit?")
def fit_logistic(X, y):  # noqa: F811
    w = torch.zeros(X.shape[1], dtype=X.dtype, device=X.device)
    for _ in range(100):
        p = torch.sigmoid(X @ w)
        gradient = X.T @ (y - p)
        hessian = (X * (p * (1 - p))[:, None]).T @ X
        w = w + torch.linalg.pinv(hessian, hermitian=True) @ gradient
    return w, torch.zeros((), dtype=X.dtype, device=X.device)


@mistake("squared_error", title="Squared error minimised instead of the log-likelihood maximised",
         explanation="(w, b) minimises the mean squared error (y - sigmoid(x.w + b))^2, whose optimum differs "
                     "from the maximum-likelihood estimate: the log-likelihood gradient is not zero there.",
         hint="Which objective is the likelihood of Bernoulli labels? Write log p(y | x) for y = 0 and y = 1.")
def fit_logistic(X, y):  # noqa: F811
    w = torch.zeros(X.shape[1], dtype=X.dtype, device=X.device, requires_grad=True)
    b = torch.zeros((), dtype=X.dtype, device=X.device, requires_grad=True)
    optimizer = torch.optim.LBFGS([w, b], lr=1.0, max_iter=1000, tolerance_grad=1e-12, tolerance_change=0.0,
                                  line_search_fn="strong_wolfe")

    def closure():
        optimizer.zero_grad()
        loss = ((y - torch.sigmoid(X @ w + b)) ** 2).mean()
        loss.backward()
        return loss

    with torch.enable_grad():
        optimizer.step(closure)
    return w.detach(), b.detach()


@mistake("l2_regularised", title="L2 penalty added",
         explanation="The fit maximises the mean log-likelihood minus 0.01 ||w||^2 / 2 (a ridge penalty, or weight "
                     "decay), which shrinks w towards 0: the unregularised log-likelihood is not at its maximum.",
         hint="The task asks for the maximum-likelihood estimate without regularisation: is there a penalty or "
              "weight decay in your objective?")
def fit_logistic(X, y):  # noqa: F811
    design = torch.cat([X, torch.ones(len(y), 1, dtype=X.dtype, device=X.device)], dim=1)
    penalty = torch.full((design.shape[1],), 0.01, dtype=X.dtype, device=X.device)
    penalty[-1] = 0.0
    theta = torch.zeros(design.shape[1], dtype=X.dtype, device=X.device)
    for _ in range(100):
        p = torch.sigmoid(design @ theta)
        gradient = design.T @ (y - p) / len(y) - penalty * theta
        hessian = (design * (p * (1 - p))[:, None]).T @ design / len(y) + torch.diag(penalty)
        theta = theta + torch.linalg.pinv(hessian, hermitian=True) @ gradient
    return theta[:-1], theta[-1]


# Designed inputs: non-zero feature means (the intercept matters), d = 2 and d = 1, overlapping labels (so that
# the squared-error fit, too, has a unique finite optimum).
PROBES = [
    probe(np.array([[3.04, -3.06], [1.42, -1.07], [0.55, -0.72], [-1.02, -0.73], [0.13, 2.82], [1.23, -0.85],
                    [0.72, -1.17], [-0.06, -0.89], [1.48, -0.74], [1.96, -0.7], [1.02, 1.05], [1.55, -1.01],
                    [0.82, 0.04], [2.94, -0.77], [0.76, 0.5], [0.11, -0.79]]),
          np.array([1.0, 1.0, 1.0, 1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 0.0, 1.0, 1.0, 0.0])),
    probe(np.array([[1.04], [0.41], [1.7], [2.5], [3.36], [2.13], [1.34], [1.06], [2.9], [3.96], [2.33], [0.52],
                    [0.85], [3.92]]),
          np.array([0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0])),
]
