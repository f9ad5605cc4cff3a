"""Known mistakes in AffineCoupling, each a drop-in replacement class with the same name and constructor.

A student's networks are their own (layers, widths, activations), so no value of y can name a mistake. The probe
is a scenario: it builds the layer, re-draws its parameters and reads off properties that do not depend on the
architecture (masked coordinates kept, round trip, the sign of each log-det against the finite-difference
Jacobian, affine dependence on the free coordinates, cancelling log-dets)."""

import numpy as np
import torch

from grader.bank import mistake, probe_scenario
from grader.spec import unit_helpers

common = unit_helpers(__file__, "common")


@mistake("log_det_sign", title="Log-determinant with the wrong sign",
         explanation="forward returns -sum(s) and inverse +sum(s): these are log|det| of the other direction. "
                     "forward scales the free coordinates by exp(s), so log|det dy/dx| = sum of s over them.",
         hint="In 1-D, y = x exp(s) + t: what is dy/dx, and its log?")
class AffineCoupling(torch.nn.Module):
    def __init__(self, dim, mask, hidden=32):
        super().__init__()
        self.register_buffer("mask", torch.as_tensor(mask, dtype=torch.get_default_dtype()).clone())
        self.s = torch.nn.Sequential(torch.nn.Linear(dim, hidden), torch.nn.Tanh(), torch.nn.Linear(hidden, dim))
        self.t = torch.nn.Sequential(torch.nn.Linear(dim, hidden), torch.nn.Tanh(), torch.nn.Linear(hidden, dim))

    def forward(self, x):
        s, t = self.s(x * self.mask) * (1 - self.mask), self.t(x * self.mask) * (1 - self.mask)
        return x * self.mask + (1 - self.mask) * (x * torch.exp(s) + t), -s.sum(-1)

    def inverse(self, y):
        s, t = self.s(y * self.mask) * (1 - self.mask), self.t(y * self.mask) * (1 - self.mask)
        return y * self.mask + (1 - self.mask) * (y - t) * torch.exp(-s), s.sum(-1)


@mistake("conditioner_reads_unmasked", title="Conditioner reads the unmasked coordinates",
         explanation="s and t are computed from the whole input x instead of m*x: the free coordinates then "
                     "depend on themselves through s and t, the Jacobian is no longer triangular (sum(s) is not "
                     "its log-det), and inverse cannot recompute s and t from y.",
         hint="Which coordinates of y equal those of x? Only those may feed the networks s and t.")
class AffineCoupling(torch.nn.Module):  # noqa: F811
    def __init__(self, dim, mask, hidden=32):
        super().__init__()
        self.register_buffer("mask", torch.as_tensor(mask, dtype=torch.get_default_dtype()).clone())
        self.s = torch.nn.Sequential(torch.nn.Linear(dim, hidden), torch.nn.Tanh(), torch.nn.Linear(hidden, dim))
        self.t = torch.nn.Sequential(torch.nn.Linear(dim, hidden), torch.nn.Tanh(), torch.nn.Linear(hidden, dim))

    def forward(self, x):
        s, t = self.s(x) * (1 - self.mask), self.t(x) * (1 - self.mask)
        return x * self.mask + (1 - self.mask) * (x * torch.exp(s) + t), s.sum(-1)

    def inverse(self, y):
        s, t = self.s(y) * (1 - self.mask), self.t(y) * (1 - self.mask)
        return y * self.mask + (1 - self.mask) * (y - t) * torch.exp(-s), -s.sum(-1)


@mistake("inverse_order_swapped", title="Inverse undoes the shift and the scale in the wrong order",
         explanation="inverse computes y exp(-s) - t: forward scales first and shifts second, so its inverse must "
                     "remove the shift first, x = (y - t) exp(-s).",
         hint="Solve y = x exp(s) + t for x by hand. Does inverse(forward(x)) give x back?")
class AffineCoupling(torch.nn.Module):  # noqa: F811
    def __init__(self, dim, mask, hidden=32):
        super().__init__()
        self.register_buffer("mask", torch.as_tensor(mask, dtype=torch.get_default_dtype()).clone())
        self.s = torch.nn.Sequential(torch.nn.Linear(dim, hidden), torch.nn.Tanh(), torch.nn.Linear(hidden, dim))
        self.t = torch.nn.Sequential(torch.nn.Linear(dim, hidden), torch.nn.Tanh(), torch.nn.Linear(hidden, dim))

    def forward(self, x):
        s, t = self.s(x * self.mask) * (1 - self.mask), self.t(x * self.mask) * (1 - self.mask)
        return x * self.mask + (1 - self.mask) * (x * torch.exp(s) + t), s.sum(-1)

    def inverse(self, y):
        s, t = self.s(y * self.mask) * (1 - self.mask), self.t(y * self.mask) * (1 - self.mask)
        return y * self.mask + (1 - self.mask) * (y * torch.exp(-s) - t), -s.sum(-1)


@mistake("log_det_includes_masked", title="Log-determinant sums s over the masked coordinates too",
         explanation="The network's s is not zeroed on the masked coordinates before summing: y is right (the "
                     "(1 - m) factor removes s there) but log_det adds s at coordinates that are passed through "
                     "unchanged, whose Jacobian entries are 1.",
         hint="Which diagonal entries of dy/dx are exp(s_i), and which are 1?")
class AffineCoupling(torch.nn.Module):  # noqa: F811
    def __init__(self, dim, mask, hidden=32):
        super().__init__()
        self.register_buffer("mask", torch.as_tensor(mask, dtype=torch.get_default_dtype()).clone())
        self.s = torch.nn.Sequential(torch.nn.Linear(dim, hidden), torch.nn.Tanh(), torch.nn.Linear(hidden, dim))
        self.t = torch.nn.Sequential(torch.nn.Linear(dim, hidden), torch.nn.Tanh(), torch.nn.Linear(hidden, dim))

    def forward(self, x):
        s, t = self.s(x * self.mask), self.t(x * self.mask)
        return x * self.mask + (1 - self.mask) * (x * torch.exp(s) + t), s.sum(-1)

    def inverse(self, y):
        s, t = self.s(y * self.mask), self.t(y * self.mask)
        return y * self.mask + (1 - self.mask) * (y - t) * torch.exp(-s), -s.sum(-1)


MASK = np.array([1.0, 0.0, 1.0, 0.0, 0.0])
X = np.array([[0.5, -1.2, 1.5, 0.8, -0.3], [-1.0, 0.3, 0.2, -1.7, 1.1], [1.8, 1.1, -0.6, 0.4, 0.9],
              [-0.4, -0.9, -1.3, 1.2, -1.6]])
MOVES = [common.free_directions(np.random.default_rng(seed), MASK, len(X)) for seed in (1, 2)]


def _sign_against(log_det, fd):
    """+1 when log_det is log|det| of the Jacobian on every row, -1 when it is minus that, 0 otherwise."""
    numerical, rounding = fd
    tol = 1e-6 * (1 + np.abs(numerical)) + 2 * rounding
    plus, minus = np.all(np.abs(log_det - numerical) <= tol), np.all(np.abs(log_det + numerical) <= tol)
    return 1.0 if plus and not minus else -1.0 if minus and not plus else 0.0


def coupling_fingerprint(module):
    """[masked kept, round trip, forward log-det sign, inverse log-det sign, affine in the free coordinates,
    log-dets cancel] for a layer with re-drawn parameters, each 1/0 (signs +1/-1/0). The tolerances are the spec's,
    which allow a layer computing in float32 (common.FLOAT32, common.COUPLING_TOL)."""
    tol = common.COUPLING_TOL
    layer = common.coupling(module, len(MASK), MASK, seed=11)
    y, forward_log_det, _ = common.coupling_call(layer, "forward", X)
    back, inverse_log_det, _ = common.coupling_call(layer, "inverse", y)
    kept = np.all(np.abs(y[:, MASK == 1] - X[:, MASK == 1]) <= 1e-12 + 2 * common.FLOAT32 * np.abs(X[:, MASK == 1]))
    (first, second), masked_change, size, _ = common.free_slopes(layer, X, MOVES)
    scale = np.where(MASK == 1, 1.0, np.maximum(np.abs(first), 1e-3))
    round_trip = np.all(np.abs(back - X) <= tol * (1 + np.abs(X) + np.abs(y) / scale))
    forward_sign = _sign_against(forward_log_det, common.finite_difference_log_det(layer, "forward", X))
    inverse_sign = _sign_against(inverse_log_det, common.finite_difference_log_det(layer, "inverse", y))
    slope_tol = tol * (1 + size) / 0.3
    affine = np.all(np.abs(first - second) <= slope_tol) and np.all(masked_change <= slope_tol)
    cancel = np.all(np.abs(forward_log_det + inverse_log_det) <= tol * (1 + np.abs(forward_log_det)))
    return np.array([kept, round_trip, forward_sign, inverse_sign, affine, cancel], dtype=np.float64)


PROBES = [probe_scenario(coupling_fingerprint)]
