"""Shared by the diffusion problems' specs: noise schedules and the signal levels abar_t (computed in the
grader, in float64), and the rounding a correct float32 implementation may show."""

import numpy as np
from hypothesis import strategies as st

from grader.spec import FLOAT32_HALF_ULP  # noqa: F401  (the specs read it as common.FLOAT32_HALF_ULP)
from grader.strategies import reals

# Half an ulp of 1 in float32 (FLOAT32_HALF_ULP, from grader.spec): a float32 abar_t close to 1, the product of t rounded factors, is off by up to
# about (t + 1) FLOAT32_HALF_ULP, so 1 - abar_t computed from it is off by (t + 1) FLOAT32_HALF_ULP / (1 - abar_t)
# relative.


@st.composite
def schedules(draw, min_steps=2, max_steps=50):
    """betas (T,) in (0, 1): a linear or cosine schedule, or random betas spanning [1e-4, 0.5]."""
    steps = draw(st.integers(min_steps, max_steps))
    kind = draw(st.sampled_from(("linear", "cosine", "random")))
    if kind == "linear":
        return np.linspace(draw(reals(1e-4, 1e-2)), draw(reals(0.02, 0.3)), steps)
    if kind == "cosine":
        return cosine_schedule(steps)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    return np.exp(rng.uniform(np.log(1e-4), np.log(0.5), size=steps))


def cosine_schedule(steps):
    """The cosine schedule of Nichol & Dhariwal (2021), betas clipped at 0.999 as in their code."""
    f = np.cos((np.arange(steps + 1) / steps + 0.008) / 1.008 * np.pi / 2) ** 2
    return np.clip(1 - f[1:] / f[:-1], 1e-8, 0.999)


def alpha_bars(betas):
    """abar_0..abar_T (abar_0 = 1)."""
    return np.concatenate([[1.0], np.cumprod(1 - betas)])


def noise_rounding(betas, *steps):
    """Relative error a float32 computation of 1 - abar_t may carry, summed over the given steps t >= 1."""
    abar = alpha_bars(betas)
    return sum((t + 1) * FLOAT32_HALF_ULP / (1 - abar[t]) for t in steps)
