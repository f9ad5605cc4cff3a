"""Shared by the sampling problems' specs: fetching a sampler's draws with checks, well-separated centres (so that
every draw can be traced back to the component or data row it came from), and the exact tests used on them."""

import numpy as np
from scipy.stats import binomtest, chi2, norm

from grader.spec import assert_all, assert_finite, assert_shape, call_text, generator, note


def draws(student, name, args, n, d, seed):
    """The student's n draws for ``generator(seed)``, checked to be an (n, d) array of finite numbers."""
    call = call_text(name, *args, n, f"generator({seed})")
    result = getattr(student, name)(*args, n, generator(seed))
    assert_shape(result, (n, d), call=call)
    assert_finite(result, call=call)
    return np.asarray(result, dtype=np.float64), call


def separated_centres(rng, count, d, spread, gaps=(40.0, 80.0), box=5.0):
    """``count`` points in R^d along a random direction, consecutive ones 40 to 80 ``spread`` apart, in random
    order and shifted anywhere in [-box, box]^d: a draw within 20 ``spread`` of its own centre is nearest to it."""
    direction = rng.standard_normal(d)
    direction /= np.linalg.norm(direction)
    positions = np.concatenate([[0.0], np.cumsum(rng.uniform(*gaps, size=count - 1))]) * spread
    positions = rng.permutation(positions - positions.mean())
    return rng.uniform(-box, box, d) + positions[:, None] * direction


def nearest(points, centres):
    """Index of the nearest centre for each point: (n,)."""
    return np.argmin(((points[:, None, :] - centres[None, :, :]) ** 2).sum(-1), axis=1)


def check_counts(counts, probabilities, level, call, what):
    """Each count is Binomial(total, p_j): a two-sided exact binomial test at ``level`` per entry."""
    total = int(counts.sum())
    for j, (count, p) in enumerate(zip(counts, probabilities)):
        test = binomtest(int(count), total, float(p))
        note(f"{what} {j}: {int(count)} of {total} draws, probability {p:.6g}, p-value {test.pvalue:.3g}")
        assert_all(test.pvalue >= level,
                   f"{what} {j} got {int(count)} of {total} draws, but its probability is {p:.4g} (expected about "
                   f"{p * total:.0f} +- {np.sqrt(total * p * (1 - p)):.0f}; binomial test p-value "
                   f"{test.pvalue:.2g} < {level:g})", call=call)


def check_gaussian_cluster(offsets, variance, level, call, what):
    """Offsets (n_j, d) from a known centre are N(0, variance I): the mean of each coordinate (z-test) and the
    sum of squares (chi-square with n_j d degrees of freedom), each two-sided at ``level`` per test."""
    count, d = offsets.shape
    z = offsets.mean(0) / np.sqrt(variance / count)
    limit = norm.isf(level / 2)
    assert_all(np.abs(z) <= limit,
               f"the draws of {what} should be centred on its mean: their average is off by more than "
               f"{limit:.2f} standard errors ({count} draws, variance {variance:.4g})",
               z_scores=z, call=call)
    statistic = float((offsets**2).sum() / variance)
    degrees = count * d
    low, high = chi2.ppf(level / 2, degrees), chi2.isf(level / 2, degrees)
    note(f"{what}: {count} draws, mean square / variance {statistic / degrees:.4g}, chi-square range "
         f"[{low / degrees:.4g}, {high / degrees:.4g}]")
    assert_all((statistic >= low) & (statistic <= high),
               f"the draws of {what} should have variance {variance:.4g} per coordinate, but their mean square "
               f"around its mean is {statistic / degrees * variance:.4g} ({count} draws in {d} dimensions; "
               f"chi-square test at level {level:g} accepts [{low / degrees * variance:.4g}, "
               f"{high / degrees * variance:.4g}])", call=call)


def check_reproducible(student, name, args, n, d, seed, *, differ_message):
    """Equally seeded generators give the same draws, differently seeded ones different draws."""
    first, call = draws(student, name, args, n, d, seed)
    again, _ = draws(student, name, args, n, d, seed)
    assert_all(first == again, "two calls with generators seeded alike must return the same draws "
               "(draw every random number from the generator argument)",
               differing_entries=int((first != again).sum()), call=call)
    other, _ = draws(student, name, args, n, d, seed + 1)
    assert_all((first != other).any(), differ_message, call=f"{call} vs generator({seed + 1})")
