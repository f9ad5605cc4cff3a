"""Properties of sample_kde(data, sigma, n, generator): n draws from (1/m) sum_i N(data_i, sigma^2 I).

The draws are random, so they are tested statistically. With data rows 40 to 80 kernel widths apart each draw is
traced back to its row by the nearest row: the counts per row test the uniform choice, and the offsets from the
rows test the kernel noise (variance sigma^2 per coordinate), the moments the catalogued mistakes change.
"""

import numpy as np
from scipy.stats import ks_2samp

from grader.spec import assert_all, given, note, prop, st, unit_helpers
from grader.strategies import arrays

common = unit_helpers(__file__)

ROWS = (1, 8)
DIMENSIONS = (1, 3)
# log-sigmas at least log 1.6 away from 0: a noise scaled by sigma^2 instead of sigma changes the kernel's
# variance by a factor sigma^2 of at least 2.56 (or at most 1/2.56).
LOG_SIGMAS = (np.log(1.6), np.log(8.0))

COPY_DRAWS = 200
# A draw "copies" a row when every coordinate is within float32 rounding of it (1e-6 relative). For a correct
# sampler that needs |sigma eps| < 4e-6 with sigma >= 0.125: probability < 3e-5 per draw, so 10 copies among 200
# draws happen with probability < C(200, 10) (3e-5)^10 < 1e-28. Without kernel noise every draw is a copy.
COPY_RTOL = 1e-6
MAX_COPIES = 10
OFFSET_DRAWS = 3000
# d + 1 <= 4 tests (coordinate means, chi-square of the squared offsets) at 2.5e-8: 1e-7 per example, 1e-6 over 10.
# With 3000 d degrees of freedom the chi-square accepts a mean square within 0.1 of sigma^2 (relative) at this
# level; a noise scaled by sigma^2 is off by a factor >= 2.56, no noise at all by a factor 0.
OFFSET_LEVEL = 2.5e-8
ROW_DRAWS = 3000
# A binomial test per row (m <= 6) at 1.6e-8: 1e-7 per example, 1e-6 over 10. A row that is never drawn should get
# 3000 / m >= 500 draws, 24 standard errors away.
ROW_LEVEL = 1.6e-8
KS_DRAWS = 3000
KS_LEVEL = 1e-7


@st.composite
def sigmas(draw):
    """A kernel width sigma (Python float) in [1/8, 1/1.6] or [1.6, 8]."""
    return float(np.exp(draw(st.sampled_from((-1.0, 1.0))) * draw(st.floats(*LOG_SIGMAS))))


@st.composite
def data_sets(draw, rows=ROWS):
    """(data (m, d), sigma): rows anywhere in a box, overlapping kernels in general."""
    m = draw(st.integers(*rows))
    d = draw(st.integers(*DIMENSIONS))
    return draw(arrays((m, d), -3.0, 3.0)), draw(sigmas())


@st.composite
def separated_data_sets(draw, rows=(1, 5)):
    """(data (m, d), sigma): rows 40 to 80 spreads apart, spread = max(sigma, sigma^2)."""
    m = draw(st.integers(*rows))
    d = draw(st.integers(*DIMENSIONS))
    sigma = draw(sigmas())
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    return common.separated_centres(rng, m, d, max(sigma, sigma**2)), sigma


@prop(points=1, max_examples=20)
@given(case=data_sets(), n=st.integers(1, 50), seed=st.integers(0, 2**32 - 1))
def sample_kde_returns_n_draws_of_dimension_d(student, case, n, seed):
    """The result has shape (n, d), one finite draw per row."""
    data, sigma = case
    common.draws(student, "sample_kde", (data, sigma), n, data.shape[1], seed)


@prop(points=2, max_examples=10, false_failure=1e-27)
@given(case=data_sets(), seed=st.integers(0, 2**32 - 1))
def sample_kde_draws_are_not_copies_of_data_rows(student, case, seed):
    """Every draw is a data row plus Gaussian kernel noise, never an exact copy of a data row."""
    data, sigma = case
    samples, call = common.draws(student, "sample_kde", (data, sigma), COPY_DRAWS, data.shape[1], seed)
    close = np.abs(samples[:, None, :] - data[None, :, :]) <= COPY_RTOL * (1 + np.abs(data[None, :, :]))
    copies = int(close.all(-1).any(-1).sum())
    assert_all(copies <= MAX_COPIES,
               f"{copies} of {COPY_DRAWS} draws are copies of data rows: add N(0, sigma^2 I) kernel noise to the "
               f"chosen row (sigma = {sigma:.4g})", call=call)


@prop(points=3, max_examples=10, false_failure=1e-6)
@given(case=separated_data_sets(), seed=st.integers(0, 2**32 - 1))
def sample_kde_noise_has_variance_sigma_squared(student, case, seed):
    """Draws minus their data row are N(0, sigma^2 I): centred, with variance sigma^2 per coordinate."""
    data, sigma = case
    samples, call = common.draws(student, "sample_kde", (data, sigma), OFFSET_DRAWS, data.shape[1], seed)
    offsets = samples - data[common.nearest(samples, data)]
    common.check_gaussian_cluster(offsets, sigma**2, OFFSET_LEVEL, call, "the kernel noise")


@prop(points=2, max_examples=10, false_failure=1e-6)
@given(case=separated_data_sets(rows=(2, 6)), seed=st.integers(0, 2**32 - 1))
def sample_kde_rows_are_chosen_uniformly(student, case, seed):
    """Each data row is the centre of about n / m of the draws (binomial test per row)."""
    data, sigma = case
    samples, call = common.draws(student, "sample_kde", (data, sigma), ROW_DRAWS, data.shape[1], seed)
    counts = np.bincount(common.nearest(samples, data), minlength=len(data))
    common.check_counts(counts, np.full(len(data), 1 / len(data)), ROW_LEVEL, call, "data row")


@prop(points=1, max_examples=10)
@given(case=separated_data_sets(rows=(2, 5)), seed=st.integers(0, 2**32 - 2))
def sample_kde_draws_its_randomness_from_the_generator(student, case, seed):
    """Generators seeded alike give the same draws, and differently seeded ones different draws."""
    data, sigma = case
    # Draws have continuous noise: two independent calls coincide with probability 0. With m >= 2 distinct rows even
    # the row choices alone (a sampler without kernel noise, named by its own property) differ: 2^-200 otherwise.
    common.check_reproducible(student, "sample_kde", (data, sigma), 200, data.shape[1], seed,
                              differ_message="generators seeded differently must give different draws")


@prop(points=1, max_examples=10, false_failure=1e-6)
@given(case=data_sets(), seed=st.integers(0, 2**32 - 1), direction_seed=st.integers(0, 2**32 - 1))
def sample_kde_matches_reference_in_distribution(student, reference, case, seed, direction_seed):
    """Along a random direction your draws and the reference's follow the same distribution (two-sample KS)."""
    data, sigma = case
    samples, call = common.draws(student, "sample_kde", (data, sigma), KS_DRAWS, data.shape[1], seed)
    expected, _ = common.draws(reference, "sample_kde", (data, sigma), KS_DRAWS, data.shape[1], seed)
    direction = np.random.default_rng(direction_seed).standard_normal(data.shape[1])
    direction /= np.linalg.norm(direction)
    # Draws identical to the reference's (same algorithm, same generator) give distance 0, p-value 1.
    test = ks_2samp(samples @ direction, expected @ direction, method="asymp")
    note(f"two-sample KS statistic {test.statistic:.4g}, p-value {test.pvalue:.3g}")
    assert_all(test.pvalue >= KS_LEVEL,
               f"along the direction {np.round(direction, 3)}, your {KS_DRAWS} draws and the reference's differ "
               f"(two-sample Kolmogorov-Smirnov distance {test.statistic:.3g}, p-value {test.pvalue:.2g} < "
               f"{KS_LEVEL:g})", call=call)
