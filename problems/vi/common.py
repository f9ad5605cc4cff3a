"""Shared by the vi problems' specs: 1-D Gaussian mixtures p = sum_k w_k N(m_k, s_k^2), their moments, and
KL(q || p) for q = N(mu, sigma^2) by accurate quadrature (computed in the grader, float64), with its gradient,
Hessian and a multi-start search for its local and global minima."""

import numpy as np
from scipy.optimize import minimize

from grader.spec import assert_all, assert_finite, call_text, st
from grader.strategies import arrays, reals

COMPONENTS = (1, 4)
MEANS = (-6.0, 6.0)
STDS = (0.3, 2.0)
LOG_2PI = np.log(2 * np.pi)

# Trapezoid rule in eps = (x - mu) / sigma on [-10, 10]: spectrally accurate for the analytic log p (features no
# narrower than min(s_k) / sigma >= 0.02 in eps, 4 grid steps), and exact to 1e-22 in the cut-off tails.
EPS = np.linspace(-10.0, 10.0, 4001)
QUADRATURE = np.exp(-0.5 * EPS**2)
QUADRATURE /= QUADRATURE.sum()
# A coarser rule (accurate to about 1e-4) ranks the grid of starting points.
COARSE_EPS = np.linspace(-8.0, 8.0, 321)
COARSE_QUADRATURE = np.exp(-0.5 * COARSE_EPS**2)
COARSE_QUADRATURE /= COARSE_QUADRATURE.sum()


def logsumexp(values, axis=-1, keepdims=False):
    top = values.max(axis=axis, keepdims=True)
    total = top + np.log(np.exp(values - top).sum(axis=axis, keepdims=True))
    return total if keepdims else np.squeeze(total, axis=axis)


def moments(weights, means, stds):
    """Mean and standard deviation of the mixture (total variance: within plus between components)."""
    mean = float(weights @ means)
    return mean, float(np.sqrt(weights @ (stds**2 + (means - mean) ** 2)))


def _column(values, x):
    """(K,) parameters as a (K, 1, ..., 1) array broadcasting against x: the components come first, so that
    reductions over them run along contiguous rows (several times faster than over a short last axis)."""
    return np.reshape(values, (-1,) + (1,) * np.ndim(x))


def _component_terms(x, weights, means, stds):
    """log w_k + log N(x; m_k, s_k^2), shape (K, *x.shape)."""
    z = (x - _column(means, x)) / _column(stds, x)
    return _column(np.log(weights) - np.log(stds) - 0.5 * LOG_2PI, x) - 0.5 * z**2


def log_density(x, mixture):
    return logsumexp(_component_terms(x, *mixture), axis=0)


def score(x, mixture):
    """d/dx log p(x)."""
    weights, means, stds = mixture
    terms = _component_terms(x, *mixture)
    resp = np.exp(terms - logsumexp(terms, axis=0, keepdims=True))
    return (resp * (_column(means, x) - x) / _column(stds**2, x)).sum(0)


def exclusive_kl(mu, sigma, mixture, coarse=False):
    """KL(N(mu, sigma^2) || p) = -H(q) - E_q[log p]; mu, sigma broadcast together."""
    mu, sigma = np.asarray(mu, dtype=float), np.asarray(sigma, dtype=float)
    eps, quadrature = (COARSE_EPS, COARSE_QUADRATURE) if coarse else (EPS, QUADRATURE)
    x = mu[..., None] + sigma[..., None] * eps
    cross_entropy = -(log_density(x, mixture) @ quadrature)
    return cross_entropy - np.log(sigma) - 0.5 * (LOG_2PI + 1)


def scaled_gradient(mu, sigma, mixture):
    """(sigma dKL/dmu, dKL/dlog sigma): the gradient in the dimensionless coordinates (mu / sigma, log sigma),
    the same under any affine change of variables."""
    slope = score(mu + sigma * EPS, mixture)
    return np.array([-sigma * (slope * QUADRATURE).sum(), -1.0 - sigma * (slope * EPS * QUADRATURE).sum()])


def _objective(theta, mixture):
    """KL(q || p) and its gradient in theta = (mu, log sigma), from one evaluation of the component terms."""
    weights, means, stds = mixture
    if not (abs(theta[1]) <= 30 and abs(theta[0]) <= 1e13):
        # A line search's trial step may land absurdly far (exp would overflow): report a value no start can
        # beat, so that the search steps back.
        return 1e12, np.array([0.0, np.sign(theta[1])])
    mu, sigma = theta[0], np.exp(theta[1])
    x = mu + sigma * EPS
    terms = _component_terms(x, *mixture)
    log_p = logsumexp(terms, axis=0)
    slope = (np.exp(terms - log_p) * (means[:, None] - x) / stds[:, None] ** 2).sum(0)
    kl = -(log_p @ QUADRATURE) - theta[1] - 0.5 * (LOG_2PI + 1)
    return kl, np.array([-(slope @ QUADRATURE), -1.0 - sigma * ((slope * EPS) @ QUADRATURE)])


def scaled_hessian(mu, sigma, mixture, step=1e-4):
    """Hessian of KL in (mu / sigma, log sigma) by central differences of the analytic gradient (symmetrised)."""
    columns = []
    for direction in np.eye(2):
        u, v = step * direction
        plus = scaled_gradient(mu + u * sigma, sigma * np.exp(v), mixture)
        minus = scaled_gradient(mu - u * sigma, sigma * np.exp(-v), mixture)
        columns.append((plus - minus) / (2 * step))
    hessian = np.array(columns)
    return (hessian + hessian.T) / 2


def starts(mixture):
    """Starting points (mu, sigma): the moment-matched fit of every run of components adjacent in mean
    (each component alone, each neighbouring pair, ..., the whole mixture), and the best points of a grid."""
    weights, means, stds = mixture
    order = np.argsort(means)
    points = []
    for first in range(len(order)):
        for last in range(first + 1, len(order) + 1):
            group = order[first:last]
            points.append(moments(weights[group] / weights[group].sum(), means[group], stds[group]))
    grid_mu, grid_sigma = candidate_grid(mixture)
    values = exclusive_kl(grid_mu, grid_sigma, mixture, coarse=True)
    for index in np.argsort(values.ravel())[:4]:
        points.append((grid_mu.ravel()[index], grid_sigma.ravel()[index]))
    return points


def candidate_grid(mixture, n_mu=41, n_sigma=16):
    """A grid of candidate (mu, sigma) covering every component's neighbourhood and the whole mixture."""
    weights, means, stds = mixture
    mu = np.linspace(means.min() - 3 * stds.max(), means.max() + 3 * stds.max(), n_mu)
    sigma = np.exp(np.linspace(np.log(stds.min() / 2), np.log(2 * moments(*mixture)[1]), n_sigma))
    return np.meshgrid(mu, sigma, indexing="ij")


def local_minima(mixture):
    """Distinct local minima of KL(q || p) as (kl, mu, sigma), best first, found by BFGS from every start."""
    found = []
    for mu, sigma in starts(mixture):
        result = minimize(_objective, np.array([mu, np.log(sigma)]), args=(mixture,), jac=True, method="BFGS",
                          options={"gtol": 1e-10, "maxiter": 500})
        mu, sigma = result.x[0], np.exp(min(result.x[1], 30.0))
        if not np.abs(scaled_gradient(mu, sigma, mixture)).max() <= 1e-6:
            continue
        if all(abs(mu - m) > 1e-3 * s or abs(np.log(sigma / s)) > 1e-3 for _, m, s in found):
            found.append((float(exclusive_kl(mu, sigma, mixture)), mu, sigma))
    return sorted(found)


@st.composite
def mixtures(draw, k=None, min_k=1):
    """(weights (K,), means (K,), stds (K,)): weights at least 0.05 before normalising, means in [-6, 6], stds in
    [0.3, 2] (generally != 1)."""
    k = draw(st.integers(max(min_k, COMPONENTS[0]), COMPONENTS[1])) if k is None else k
    raw = draw(arrays((k,), 0.05, 1.0))
    return raw / raw.sum(), draw(arrays((k,), *MEANS)), draw(arrays((k,), *STDS))


@st.composite
def separated_mixtures(draw):
    """Mixtures of 2 to 4 components at least 12 widest standard deviations apart, whose heaviest weight exceeds
    the next by a factor of at least 1.3: the exclusive fit is then the heaviest component, to within 1e-6."""
    k = draw(st.integers(2, COMPONENTS[1]))
    stds = draw(arrays((k,), *STDS))
    gaps = 12 * stds.max() * (1 + draw(arrays((k - 1,), 0.0, 0.5)))
    means = draw(reals(-10.0, 10.0)) + np.concatenate([[0.0], np.cumsum(gaps)])
    raw = draw(arrays((k,), 0.05, 1.0))
    heaviest = int(np.argmax(raw))
    raw[heaviest] = max(raw[heaviest], 1.3 * np.delete(raw, heaviest).max())
    order = draw(st.permutations(range(k)))
    return raw[order] / raw.sum(), means[order], stds[order]


def fit(student, name, mixture):
    """The student's (mu, sigma) as two floats, with clear messages for malformed results."""
    call = call_text(name, *mixture)
    result = getattr(student, name)(*mixture)
    if not (isinstance(result, tuple) and len(result) == 2):
        found = f"a tuple of {len(result)} values" if isinstance(result, tuple) else f"shape {np.shape(result)}"
        raise AssertionError(f"{name} returned {found}, but should return a tuple (mu, sigma) [{call}]")
    for value, what in zip(result, ("mu", "sigma")):
        if np.size(value) != 1 or np.ndim(value) > 1:
            raise AssertionError(f"{what} has shape {np.shape(value)}, but should be a scalar (shape ()) [{call}]")
        assert_finite(value, what=what, call=call)
    mu, sigma = (float(np.reshape(value, ())) for value in result)
    assert_all(sigma > 0, "sigma must be positive", sigma=sigma, call=call)
    return mu, sigma, call


def scale(mixture):
    """The mixture's length scale, for absolute tolerances: float32 rounds its parameters to ~6e-8 of it."""
    _, means, stds = mixture
    return float(np.abs(means).max() + stds.max())
