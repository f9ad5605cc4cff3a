"""vi.py computed in float32: a correct implementation computing in float32 that should get full credit.

Every tensor argument is cast to float32 on arrival and all arithmetic stays in float32; every function returns
float32 tensors. The inclusive fit adds the within- and between-component variances; the exclusive fit minimises a
float32 trapezoid-rule KL(q || p) with torch.optim.LBFGS (autograd gradients) from every component, every pair of
neighbouring components and the whole mixture, polishes each with Newton steps on the gradient (autograd Hessian),
and keeps the lowest KL; CAVI runs the Gauss-Seidel updates on a float32 tensor.
"""

import math

import torch


def fit_inclusive_gaussian(weights, means, stds):
    w, m, s = (t.to(torch.float32) for t in (weights, means, stds))
    mu = torch.dot(w, m)
    within = torch.dot(w, s * s)
    between = torch.dot(w, (m - mu) ** 2)
    return mu, torch.sqrt(within + between)


# E_q[f] for q = N(mu, sigma^2) as a trapezoid rule in standard units u = (x - mu) / sigma on [-8, 8].
_U = torch.linspace(-8.0, 8.0, 2001, dtype=torch.float32)
_W = torch.exp(-0.5 * _U**2)
_W = _W / _W.sum()


def _exclusive_kl(mu, log_sigma, w, m, s):
    """KL(N(mu, sigma^2) || p) = -E_q[log p] - H(q), in float32."""
    # L-BFGS's line search may try absurd steps: keep (mu, log sigma) where float32 cannot overflow (the KL there is
    # huge and flat, so the search steps back).
    mu, log_sigma = mu.clamp(-100.0, 100.0), log_sigma.clamp(-4.0, 4.0)
    x = mu + torch.exp(log_sigma) * _U  # (n,)
    log_terms = torch.log(w)[:, None] - torch.log(s)[:, None] - 0.5 * math.log(2 * math.pi) \
        - 0.5 * ((x[None, :] - m[:, None]) / s[:, None]) ** 2  # (K, n)
    log_p = torch.logsumexp(log_terms, dim=0)
    entropy = log_sigma + 0.5 * (math.log(2 * math.pi) + 1.0)
    return -(_W * log_p).sum() - entropy


def _local_fit(mu0, sigma0, w, m, s):
    params = torch.tensor([mu0, math.log(sigma0)], dtype=torch.float32, requires_grad=True)
    objective = lambda p: _exclusive_kl(p[0], p[1], w, m, s)  # noqa: E731
    optimiser = torch.optim.LBFGS([params], lr=1.0, max_iter=100, tolerance_grad=1e-6, tolerance_change=1e-12,
                                  history_size=20, line_search_fn="strong_wolfe")

    def closure():
        optimiser.zero_grad()
        loss = objective(params)
        loss.backward()
        return loss

    with torch.enable_grad():
        optimiser.step(closure)
        # In float32 the KL is only known to about 1e-7 of its terms, so a line search on its values stalls once
        # the remaining decrease is below that, with gradients still ~1e-4. Polish with Newton steps on the
        # gradient itself (accurate to ~1e-6), keeping a step only if it shrinks the gradient.
        theta = params.detach().clone()
        gradient = torch.autograd.functional.jacobian(objective, theta)
        for _ in range(10):
            if gradient.abs().max() < 1e-6:
                break
            hessian = torch.autograd.functional.hessian(objective, theta)
            if torch.linalg.eigvalsh(hessian).min() <= 0:
                break
            candidate = theta - torch.linalg.solve(hessian, gradient)
            new_gradient = torch.autograd.functional.jacobian(objective, candidate)
            if not new_gradient.abs().max() < gradient.abs().max():
                break
            theta, gradient = candidate, new_gradient
    with torch.no_grad():
        kl = objective(theta)
    return theta, float(kl)


def fit_exclusive_gaussian(weights, means, stds):
    w, m, s = (t.detach().to("cpu", torch.float32) for t in (weights, means, stds))
    order = torch.argsort(m)
    starts = []
    # Each component, each pair of neighbours, the whole mixture: moment-matched starting points.
    groups = [order[i:i + 1] for i in range(len(order))] + [order[i:i + 2] for i in range(len(order) - 1)]
    groups.append(order)
    for g in groups:
        mu, sigma = fit_inclusive_gaussian(w[g] / w[g].sum(), m[g], s[g])
        starts.append((float(mu), float(sigma)))
    best_params, best_kl = None, math.inf
    for mu0, sigma0 in starts:
        params, kl = _local_fit(mu0, sigma0, w, m, s)
        if torch.isfinite(params).all() and kl < best_kl:
            best_params, best_kl = params, kl
    return best_params[0], torch.exp(best_params[1])


def cavi_gaussian(mu, precision, m_init, n_iter):
    mu = mu.to(torch.float32)
    lam = precision.to(torch.float32)
    m = m_init.to(torch.float32).clone()
    history = [m.clone()]
    for _ in range(n_iter):
        # Optimal q_j: the conditional of p given the other coordinate at its current mean.
        m[0] = mu[0] - lam[0, 1] / lam[0, 0] * (m[1] - mu[1])
        m[1] = mu[1] - lam[1, 0] / lam[1, 1] * (m[0] - mu[0])
        history.append(m.clone())
    return torch.stack(history), 1.0 / torch.diagonal(lam)
