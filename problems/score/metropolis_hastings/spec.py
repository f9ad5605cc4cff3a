"""Properties of metropolis_hastings(log_prob, x0, n_steps, proposal_std, generator): random-walk Metropolis chains.

Targets are spherical Gaussian mixtures from the public harness library (a Gaussian is the one-component case), so
that exact samples, moments and, for Gaussians, the stationary acceptance rate are known in the grader.
"""

import math

import numpy as np
from scipy import integrate
from scipy.stats import binomtest, chi, norm

from grader.spec import assert_all, assert_finite, assert_shape, call_text, generator, given, note, prop, st, unit_helpers
from grader.strategies import reals

common = unit_helpers(__file__)

# Random-walk proposals of 2.38 / sqrt(d) target standard deviations are near-optimal (Gelman, Roberts & Gilks);
# the specs use 0.5 to 2 times that, where a correct chain accepts 10% to 65% of its proposals.
OPTIMAL_SCALE = 2.38


def proposal_std(ratio, mixture):
    return float(ratio * OPTIMAL_SCALE * common.spread(mixture) / math.sqrt(mixture[1].shape[1]))


@st.composite
def setups(draw, components=(1, 3), means=(-2.0, 2.0), variances=(0.3, 3.0), ratios=(0.5, 2.0)):
    """(mixture, proposal_std, seed): a target, a proposal scale relative to the target's spread, a seed."""
    mixture = draw(common.mixtures(components=components, means=means, variances=variances))
    return mixture, proposal_std(draw(reals(*ratios)), mixture), draw(st.integers(0, 2**32 - 2))


def run(student, mixture, x0, n_steps, std, seed):
    """The student's chain, checked to have shape (n_steps, chains, d) and to be finite."""
    call = call_text("metropolis_hastings", f"log-density of {common.describe(mixture)}", x0, n_steps, std,
                     f"generator({seed})")
    chain = student.metropolis_hastings(common.log_prob_callable(mixture), x0, n_steps, std, generator(seed))
    assert_shape(chain, (n_steps, *x0.shape), call=call, what="the chain")
    assert_finite(chain, call=call, what="the chain")
    return chain, call


def moved(chain, x0):
    """(n_steps, chains) booleans: whether each chain's state changed at each step."""
    previous = np.concatenate([x0[None], chain[:-1]])
    return (chain != previous).any(-1)


# --- structure ---------------------------------------------------------------------------------------------------

STRUCTURE_CHAINS = 100
# A random-walk proposal changes every coordinate, but in float32 a coordinate of an accepted proposal
# x + proposal_std * eps rounds back to x when |proposal_std * eps| < ulp(x) / 2: probability up to 0.8 ulp(x) / (2
# proposal_std) < 1e-6 per coordinate here (|x| < 4, proposal_std >= 0.37). Summed over the accepted moves of one
# example, the expected number of such partial moves is 3.5e-5 on average over this strategy and 3.6e-4 at its worst
# corner (means at +-2, variance 0.3, d = 3, 10 steps; simulated): one is allowed. Two or more have probability below
# 3.6e-4^2 / 2 = 6.5e-8 per example, 1.3e-6 over 20 (2^-29 times less in float64). A sampler accepting coordinates
# separately makes hundreds of partial moves per example (d >= 2).
MAX_PARTIAL_MOVES = 1
# Row 0 is compared with x0 beyond float32 rounding (a float32 copy of x0 differs from x0 by up to 6e-8 |x0|, so
# exact inequality would not see a float32 chain that returns x0 as its row 0). An accepted proposal moves every
# coordinate by less than 1e-6 (1 + |x0|) with probability below 1e-5, so no chain moving beyond that in row 0 has
# probability below (0.45 + 1e-5)^100 < 1e-34 (see the acceptance rate below).
X0_RTOL = 1e-6


@prop(points=1, max_examples=20, false_failure=2e-6)
@given(case=setups(components=(1, 1), ratios=(0.5, 0.5)), n_steps=st.integers(1, 10))
def metropolis_hastings_returns_the_states_after_each_step(student, case, n_steps):
    """The chain has shape (n_steps, chains, d): row i is the state after step i + 1, which either keeps or replaces
    the whole previous state."""
    mixture, std, seed = case
    x0 = common.sample(np.random.default_rng(seed), mixture, STRUCTURE_CHAINS)
    chain, call = run(student, mixture, x0, n_steps, std, seed)
    previous = np.concatenate([x0[None], chain[:-1]])
    changed = chain != previous
    partial = changed.any(-1) & ~changed.all(-1)
    # A random-walk proposal changes every coordinate (with probability 1 up to rounding, see MAX_PARTIAL_MOVES): a
    # move replaces the whole state.
    assert_all(partial.sum() <= MAX_PARTIAL_MOVES, "each step must either keep a chain's state or move it to the "
               "proposal as a whole (some coordinates changed while others did not)",
               steps_and_chains=np.argwhere(partial)[:4], call=call)
    # On a Gaussian target, proposals of 1.19 / sqrt(d) standard deviations are accepted more than 55% of the time
    # from exact samples (d <= 3), so all 100 chains staying at x0 in the first step has probability below
    # 0.45^100 < 1e-34: a row 0 equal to x0 (up to float32 rounding) is x0 itself.
    moved_from_x0 = np.abs(chain[0] - x0) > X0_RTOL * (1 + np.abs(x0))
    assert_all(moved_from_x0.any(), "row 0 must be the state after the first step (x0 itself is not part of the "
               "chain), but no chain moved away from x0 in row 0", call=call)


@prop(points=1, max_examples=10)
@given(case=setups(components=(1, 1)))
def metropolis_hastings_draws_its_randomness_from_the_generator(student, case):
    """Generators seeded alike give the same chain, and differently seeded ones different chains."""
    mixture, std, seed = case
    x0 = common.sample(np.random.default_rng(seed), mixture, 50)
    first, call = run(student, mixture, x0, 10, std, seed)
    again, _ = run(student, mixture, x0, 10, std, seed)
    assert_all(first == again, "two calls with generators seeded alike must return the same chain (draw every random "
               "number from the generator argument)", differing_entries=int((first != again).sum()), call=call)
    other, _ = run(student, mixture, x0, 10, std, seed + 1)
    # Continuous proposals: two independent runs coincide only if all 50 chains reject all 10 proposals in both,
    # below 0.91^1000 < 1e-40 (a Gaussian target accepts at least 9% of these proposals from exact samples).
    assert_all((first != other).any(), "generators seeded differently must give different chains",
               call=f"{call} vs generator({seed + 1})")


# --- rejections and the acceptance rate ---------------------------------------------------------------------------

REJECTION_CHAINS = 200
REJECTION_STEPS = 10


@prop(points=1, max_examples=10, false_failure=1e-30)
@given(case=setups(components=(1, 1)))
def metropolis_hastings_rejects_some_proposals(student, case):
    """Started from the target itself, some proposals are rejected: a chain sometimes stays where it is."""
    mixture, std, seed = case
    x0 = common.sample(np.random.default_rng(seed), mixture, REJECTION_CHAINS)
    chain, call = run(student, mixture, x0, REJECTION_STEPS, std, seed)
    # A correct chain accepts at most 67% of these proposals from exact samples of a Gaussian: no rejection among
    # 2000 steps has probability below 0.67^2000 < 1e-300.
    assert_all((~moved(chain, x0)).any(), f"no chain ever stayed at its state in {REJECTION_STEPS} steps of "
               f"{REJECTION_CHAINS} chains: proposals must be rejected with probability 1 - min(1, p(y) / p(x))",
               call=call)


def stationary_acceptance_rate(ratio_to_std, d):
    """E[min(1, p(y) / p(x))] for x ~ N(m, s^2 I_d), y = x + tau eps, tau / s = ratio_to_std.

    log p(y) - log p(x) = -(tau/s) u.eps - (tau/s)^2 |eps|^2 / 2 with u ~ N(0, I): given r = |eps| it is
    N(-sigma^2 / 2, sigma^2) with sigma = (tau/s) r, and E[min(1, e^L)] = 2 Phi(-sigma / 2) for such L."""
    value, _ = integrate.quad(lambda r: 2 * norm.cdf(-ratio_to_std * r / 2) * chi.pdf(r, d), 0, np.inf)
    return value


ACCEPTANCE_CHAINS = 4000
ACCEPTANCE_STEPS = 5
# The number of chains that move in the last step is Binomial(chains, a) for a correct kernel started from exact
# samples (each chain's state before that step is an exact draw, and chains are independent). An exact two-sided
# binomial test at level 1e-8 per example: 1e-7 over 10 examples.
ACCEPTANCE_LEVEL = 1e-8


@prop(points=2, max_examples=10, false_failure=1e-7)
@given(case=setups(components=(1, 1)))
def metropolis_hastings_accepts_at_the_stationary_rate(student, case):
    """From exact samples of a Gaussian target, the fraction of chains that move matches E[min(1, p(y) / p(x))]."""
    mixture, std, seed = case
    _, means, variances = mixture
    rate = stationary_acceptance_rate(std / math.sqrt(variances[0]), means.shape[1])
    x0 = common.sample(np.random.default_rng(seed), mixture, ACCEPTANCE_CHAINS)
    chain, call = run(student, mixture, x0, ACCEPTANCE_STEPS, std, seed)
    moves = int(moved(chain, x0)[-1].sum())
    test = binomtest(moves, ACCEPTANCE_CHAINS, rate)
    note(f"{moves} of {ACCEPTANCE_CHAINS} chains moved in the last step; stationary acceptance rate {rate:.6g}")
    assert_all(test.pvalue >= ACCEPTANCE_LEVEL,
               f"{moves} of {ACCEPTANCE_CHAINS} chains moved in the last step, but a correct kernel accepts with "
               f"probability {rate:.4f} at stationarity (expected {rate * ACCEPTANCE_CHAINS:.0f} +- "
               f"{math.sqrt(ACCEPTANCE_CHAINS * rate * (1 - rate)):.0f}; binomial test p-value {test.pvalue:.2g})",
               call=call)


# --- the distribution of the states -------------------------------------------------------------------------------

Z_TWO_SIDED = 6.0


def assert_target_moments(chain, mixture, call, what):
    """The last row's per-coordinate mean and second moment match the target's within Z_TWO_SIDED standard errors.

    The chains are independent, so the last row holds iid draws when the chain has the target's distribution: the
    standard errors are exact (population variances of x and x^2 under the target), and each of the 2 d <= 6
    statistics exceeds 6 of them with probability about 2.0e-9 (CLT; with 4000 or more draws the skewness of the
    mean of x^2 is below 0.05, which moves that tail by well under a factor 2).
    """
    first, variance, second, second_variance = common.coordinate_moments(mixture)
    last = chain[-1]
    n = len(last)
    z_mean = (last.mean(0) - first) / np.sqrt(variance / n)
    z_second = ((last**2).mean(0) - second) / np.sqrt(second_variance / n)
    note(f"z-scores of the per-coordinate means {z_mean} and second moments {z_second}")
    assert_all((np.abs(z_mean) <= Z_TWO_SIDED) & (np.abs(z_second) <= Z_TWO_SIDED),
               f"{what}: the last states' mean and second moment must match the target's within {Z_TWO_SIDED:g} "
               "standard errors", mean=last.mean(0), target_mean=first, second_moment=(last**2).mean(0),
               target_second_moment=second, z_scores=np.concatenate([z_mean, z_second]), call=call)


INVARIANCE_CHAINS = 10000
INVARIANCE_STEPS = 20


# Power: accepting every proposal turns the chain into a random walk whose variance grows by proposal_std^2 per
# step, at least 20 (0.5 * 2.38)^2 / 3 > 9 target variances after 20 steps: the second moment is off by hundreds of
# standard errors. Comparing proposals with log p(x0) instead of the current state moves the largest of the 2 d
# z-scores to 6.6 at least, 9.5 at the 5% quantile and 14.6 at the median (measured on 60 random targets of this
# strategy), so 10 examples all missing it is beyond any practical chance; the inverted ratio gives over 2000.
@prop(points=3, max_examples=10, false_failure=1e-6)
@given(case=setups())
def metropolis_hastings_leaves_the_target_invariant(student, case):
    """Started from exact samples of the target, the chains still have the target's mean and second moment after 20 steps."""
    mixture, std, seed = case
    x0 = common.sample(np.random.default_rng(seed), mixture, INVARIANCE_CHAINS)
    chain, call = run(student, mixture, x0, INVARIANCE_STEPS, std, seed)
    assert_target_moments(chain, mixture, call, f"from {INVARIANCE_CHAINS} exact samples of the target")


LONG_RUN_CHAINS = 4000
LONG_RUN_STEPS = 150


# Convergence from a single point 3 spreads away from the target's mean: measured with 200000 chains on 12 random
# targets of this strategy, the bias of the last states is below 1.1 standard errors (of 4000 chains) after 50
# steps and within sampling noise (0.3) after 100, shrinking about 8-fold every 25 steps: after 150 steps it is
# far below the 6 standard errors tested.
@prop(points=2, max_examples=10, false_failure=1e-6)
@given(case=setups(means=(-1.0, 1.0), variances=(0.5, 2.0)), direction=st.integers(0, 2**32 - 1))
def metropolis_hastings_reaches_the_target_from_a_poor_start(student, case, direction):
    """Started with every chain at one point far from the mean, the chains reach the target's mean and second moment."""
    mixture, std, seed = case
    first = common.coordinate_moments(mixture)[0]
    u = np.random.default_rng(direction).standard_normal(len(first))
    start = first + 3 * common.spread(mixture) * u / np.linalg.norm(u)
    x0 = np.tile(start, (LONG_RUN_CHAINS, 1))
    chain, call = run(student, mixture, x0, LONG_RUN_STEPS, std, seed)
    assert_target_moments(chain, mixture, call, f"after {LONG_RUN_STEPS} steps from x0 = {np.round(start, 3)}")
