"""Known mistakes in cavi_gaussian, each a drop-in replacement with the same signature."""

import numpy as np
import torch

from grader.bank import mistake, probe


@mistake("jacobi", title="Both coordinates updated from the old means (Jacobi)",
         explanation="m_1 is updated from the previous m_0 instead of the one just computed, so both coordinates "
                     "move at once: that is not coordinate ascent (it still converges for two coordinates, but along "
                     "a different path).",
         hint="In CAVI each factor is updated given the CURRENT values of all others: which m_0 does the update of "
              "m_1 use?")
def cavi_gaussian(mu, precision, m_init, n_iter):
    means = [m_init]
    m = m_init
    for _ in range(n_iter):
        m = torch.stack([mu[0] - precision[0, 1] * (m[1] - mu[1]) / precision[0, 0],
                         mu[1] - precision[1, 0] * (m[0] - mu[0]) / precision[1, 1]])
        means.append(m)
    return torch.stack(means), 1 / torch.diagonal(precision)


@mistake("variance_is_marginal", title="Variances are the true marginal variances",
         explanation="The factors' variances are inv(precision)_jj, the exact marginals of p. The optimal "
                     "mean-field factor has variance 1 / precision_jj, the conditional variance, which is smaller: "
                     "mean-field under-estimates the marginal variances of a correlated target.",
         hint="Write log q_j*(x_j) = E_{q_-j}[log p(x)] + const: which coefficient multiplies x_j^2?")
def cavi_gaussian(mu, precision, m_init, n_iter):  # noqa: F811
    means = [m_init]
    m = m_init.clone()
    for _ in range(n_iter):
        m = m.clone()
        m[0] = mu[0] - precision[0, 1] * (m[1] - mu[1]) / precision[0, 0]
        m[1] = mu[1] - precision[1, 0] * (m[0] - mu[0]) / precision[1, 1]
        means.append(m)
    return torch.stack(means), torch.diagonal(torch.linalg.inv(precision))


@mistake("history_missing_initial", title="History missing m_init",
         explanation="means holds only the n_iter updated values: means[0] should be m_init, so the history has "
                     "n_iter + 1 rows.",
         hint="With n_iter = 0 your function must return m_init as the only row of means.")
def cavi_gaussian(mu, precision, m_init, n_iter):  # noqa: F811
    means = []
    m = m_init.clone()
    for _ in range(n_iter):
        m = m.clone()
        m[0] = mu[0] - precision[0, 1] * (m[1] - mu[1]) / precision[0, 0]
        m[1] = mu[1] - precision[1, 0] * (m[0] - mu[0]) / precision[1, 1]
        means.append(m)
    return torch.stack(means), 1 / torch.diagonal(precision)


@mistake("coupling_sign_flipped", title="Sign of the coupling term flipped",
         explanation="The update adds precision_01 (m_1 - mu_1) / precision_00 instead of subtracting it: that "
                     "confuses the precision form of the conditional mean, mu_0 - (P_01 / P_00)(x_1 - mu_1), with "
                     "the covariance form, mu_0 + (S_01 / S_11)(x_1 - mu_1).",
         hint="For a positive correlation, a larger m_1 must pull m_0 up: what is the sign of precision_01 then?")
def cavi_gaussian(mu, precision, m_init, n_iter):  # noqa: F811
    means = [m_init]
    m = m_init.clone()
    for _ in range(n_iter):
        m = m.clone()
        m[0] = mu[0] + precision[0, 1] * (m[1] - mu[1]) / precision[0, 0]
        m[1] = mu[1] + precision[1, 0] * (m[0] - mu[0]) / precision[1, 1]
        means.append(m)
    return torch.stack(means), 1 / torch.diagonal(precision)


# Designed inputs: mu != 0, unequal diagonal precisions, correlations of either sign, m_init away from mu and
# n_iter > 1 (so that the Gauss-Seidel and Jacobi paths separate).
PROBES = [
    probe(np.array([1.0, -0.5]), np.array([[2.0, 0.9], [0.9, 0.8]]), np.array([-2.0, 3.0]), 3),
    probe(np.array([-0.7, 2.0]), np.array([[0.6, -0.4], [-0.4, 1.5]]), np.array([1.5, 0.5]), 2),
]
