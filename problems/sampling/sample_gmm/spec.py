"""Properties of sample_gmm(weights, means, variances, n, generator): n draws from a spherical Gaussian mixture.

The draws are random, so they are tested statistically. Components sit 40 to 80 spreads apart, so each draw is
traced back to its component by the nearest mean; then the count of each component tests the weights and each
cluster's offsets test its mean and variance, the moments the catalogued mistakes change.
"""

import numpy as np
from scipy.stats import kstest, ks_2samp, norm

from grader.spec import assert_all, given, note, prop, st, unit_helpers
from grader.strategies import arrays

common = unit_helpers(__file__)

COMPONENTS = (1, 4)
DIMENSIONS = (1, 3)
# log-variances at least log 2 away from 0: a variance used as the standard deviation changes every component's
# variance by a factor of at least 2.
LOG_VARIANCES = (np.log(2.0), np.log(10.0))

FREQUENCY_DRAWS = 4000
# A per-component binomial test at 2.5e-8 (k <= 4 components, Bonferroni) bounds a correct sampler's failure by
# 1e-7 per example, 1e-6 over 10 examples. One weight is at least 0.65 with k >= 2, so equal weights 1/k <= 1/2
# are off by >= 0.15, 19 standard errors (0.008) at 4000 draws: power ~ 1 against ignored weights.
FREQUENCY_LEVEL = 2.5e-8
MOMENT_DRAWS = 6000
# Up to 4 components x (3 coordinate means + 1 chi-square) = 16 tests at 6.25e-9: 1e-7 per example. Weights are
# at least 1/7, so a component gets >= 850 draws on average: its mean square over the variance is within ~0.3 of 1
# at this level, while a variance used as the standard deviation makes it >= 2 or <= 1/2.
MOMENT_LEVEL = 6.25e-9
MIN_CLUSTER = 50
KS_DRAWS = 3000
# One KS test at 1e-7 per example: 1e-6 over 10 examples.
KS_LEVEL = 1e-7


@st.composite
def separated_mixtures(draw, components=COMPONENTS, skewed=False):
    """(weights, means, variances) with variances 2 to 10 times away from 1 and means 40 to 80 spreads apart
    (spread = the largest standard deviation, or variance if larger); with ``skewed`` one weight is >= 0.6."""
    k = draw(st.integers(*components))
    d = draw(st.integers(*DIMENSIONS))
    signs = np.where(draw(st.lists(st.booleans(), min_size=k, max_size=k)), 1.0, -1.0)
    variances = np.exp(signs * draw(arrays((k,), *LOG_VARIANCES)))
    raw = draw(arrays((k,), 0.5, 1.0))
    weights = raw / raw.sum()
    if skewed:
        weights = 0.4 * weights + 0.6 * np.eye(k)[draw(st.integers(0, k - 1))]
    spread = max(np.sqrt(variances).max(), variances.max())
    means = common.separated_centres(np.random.default_rng(draw(st.integers(0, 2**32 - 1))), k, d, spread)
    return weights, means, variances


@st.composite
def overlapping_mixtures(draw):
    """(weights, means, variances): any spherical mixture, components overlapping in general."""
    k = draw(st.integers(*COMPONENTS))
    d = draw(st.integers(*DIMENSIONS))
    raw = draw(arrays((k,), 0.05, 1.0))
    return raw / raw.sum(), draw(arrays((k, d), -3.0, 3.0)), draw(arrays((k,), 0.1, 4.0))


def mixture_projection_cdf(mixture, direction):
    """The CDF of u.x for x from the mixture and a unit vector u: a 1-D mixture of N(u.mu_j, var_j)."""
    weights, means, variances = mixture
    centres, scales = means @ direction, np.sqrt(variances)
    return lambda t: (weights * norm.cdf((np.asarray(t)[..., None] - centres) / scales)).sum(-1)


def random_direction(rng, d):
    direction = rng.standard_normal(d)
    return direction / np.linalg.norm(direction)


@prop(points=1, max_examples=20)
@given(mixture=overlapping_mixtures(), n=st.integers(1, 50), seed=st.integers(0, 2**32 - 1))
def sample_gmm_returns_n_draws_of_dimension_d(student, mixture, n, seed):
    """The result has shape (n, d), one finite draw per row."""
    common.draws(student, "sample_gmm", mixture, n, mixture[1].shape[1], seed)


@prop(points=3, max_examples=10, false_failure=1e-6)
@given(mixture=separated_mixtures(components=(2, COMPONENTS[1]), skewed=True), seed=st.integers(0, 2**32 - 1))
def sample_gmm_component_frequencies_match_the_weights(student, mixture, seed):
    """Each component supplies a fraction of the draws equal to its weight (binomial test per component)."""
    weights, means, _ = mixture
    samples, call = common.draws(student, "sample_gmm", mixture, FREQUENCY_DRAWS, means.shape[1], seed)
    counts = np.bincount(common.nearest(samples, means), minlength=len(weights))
    common.check_counts(counts, weights, FREQUENCY_LEVEL, call, "component")


@prop(points=3, max_examples=10, false_failure=1e-6)
@given(mixture=separated_mixtures(), seed=st.integers(0, 2**32 - 1))
def sample_gmm_components_have_their_means_and_variances(student, mixture, seed):
    """The draws of component j are centred on means[j] with variance variances[j] per coordinate."""
    weights, means, variances = mixture
    samples, call = common.draws(student, "sample_gmm", mixture, MOMENT_DRAWS, means.shape[1], seed)
    component = common.nearest(samples, means)
    for j in range(len(weights)):
        offsets = samples[component == j] - means[j]
        if len(offsets) < MIN_CLUSTER:  # only a wrong weighting leaves a component this empty: another property
            note(f"component {j}: only {len(offsets)} draws, its moments are not tested")
            continue
        common.check_gaussian_cluster(offsets, variances[j], MOMENT_LEVEL, call, f"component {j}")


@prop(points=1, max_examples=10, false_failure=1e-6)
@given(mixture=overlapping_mixtures(), seed=st.integers(0, 2**32 - 1), direction_seed=st.integers(0, 2**32 - 1))
def sample_gmm_projections_follow_the_mixture(student, mixture, seed, direction_seed):
    """Along a random direction the draws follow the mixture's distribution (Kolmogorov-Smirnov test)."""
    samples, call = common.draws(student, "sample_gmm", mixture, KS_DRAWS, mixture[1].shape[1], seed)
    direction = random_direction(np.random.default_rng(direction_seed), mixture[1].shape[1])
    test = kstest(samples @ direction, mixture_projection_cdf(mixture, direction))
    note(f"KS statistic {test.statistic:.4g}, p-value {test.pvalue:.3g}, direction {direction}")
    assert_all(test.pvalue >= KS_LEVEL,
               f"along the direction {np.round(direction, 3)}, the {KS_DRAWS} draws do not follow the mixture "
               f"(Kolmogorov-Smirnov distance {test.statistic:.3g}, p-value {test.pvalue:.2g} < {KS_LEVEL:g})",
               call=call)


@prop(points=1, max_examples=10)
@given(mixture=overlapping_mixtures(), seed=st.integers(0, 2**32 - 2))
def sample_gmm_draws_its_randomness_from_the_generator(student, mixture, seed):
    """Generators seeded alike give the same draws, and differently seeded ones different draws."""
    # Draws have continuous noise: two independent calls coincide with probability 0.
    common.check_reproducible(student, "sample_gmm", mixture, 200, mixture[1].shape[1], seed,
                              differ_message="generators seeded differently must give different draws")


@prop(points=1, max_examples=10, false_failure=1e-6)
@given(mixture=overlapping_mixtures(), seed=st.integers(0, 2**32 - 1), direction_seed=st.integers(0, 2**32 - 1))
def sample_gmm_matches_reference_in_distribution(student, reference, mixture, seed, direction_seed):
    """Along a random direction your draws and the reference's follow the same distribution (two-sample KS)."""
    d = mixture[1].shape[1]
    samples, call = common.draws(student, "sample_gmm", mixture, KS_DRAWS, d, seed)
    expected, _ = common.draws(reference, "sample_gmm", mixture, KS_DRAWS, d, seed)
    direction = random_direction(np.random.default_rng(direction_seed), d)
    # Draws identical to the reference's (same algorithm, same generator) give distance 0, p-value 1.
    test = ks_2samp(samples @ direction, expected @ direction, method="asymp")
    note(f"two-sample KS statistic {test.statistic:.4g}, p-value {test.pvalue:.3g}")
    assert_all(test.pvalue >= KS_LEVEL,
               f"along the direction {np.round(direction, 3)}, your {KS_DRAWS} draws and the reference's differ "
               f"(two-sample Kolmogorov-Smirnov distance {test.statistic:.3g}, p-value {test.pvalue:.2g} < "
               f"{KS_LEVEL:g})", call=call)
