"""Known mistakes in sample_kde, each a drop-in replacement with the same signature.

Draws are random: a probe reproduces a student's sampler draw for draw only if it consumes the generator exactly
as the mistake does (random row indices, then standard-normal noise). The mistakes a student can make with any
sampling algorithm are therefore named by the property designed to detect them, and each such property is failed
by its own mistake only; sigma_as_variance, which shares its symptom (the spread of the noise) with no kernel noise
at all, is named by the probes when the student's draws match it.
"""

import numpy as np
import torch

from grader.bank import mistake, probe
from grader.spec import generator


@mistake("no_kernel_noise", title="No kernel noise",
         explanation="Each draw is a copy of a randomly chosen data row: that samples the empirical distribution "
                     "of the data, not the kernel density estimate, whose variance is larger by sigma^2.",
         hint="The KDE is a mixture of N(data_i, sigma^2 I): after choosing the component, what is still random?",
         named_by="sample_kde_draws_are_not_copies_of_data_rows")
def sample_kde(data, sigma, n, generator):
    rows = torch.randint(0, data.shape[0], (n,), generator=generator, device=data.device)
    return data[rows]


@mistake("last_row_never_drawn", title="Last data row never drawn",
         explanation="The row index is floor(u (m - 1)) for u uniform on [0, 1): it never reaches m - 1, so the "
                     "last row is never drawn and the others get probability 1/(m - 1). Indices 0..m-1 need "
                     "floor(u m) (or torch.randint(0, m), whose upper bound is exclusive).",
         hint="For u uniform on [0, 1), which integers can floor(u (m - 1)) take?",
         named_by="sample_kde_rows_are_chosen_uniformly")
def sample_kde(data, sigma, n, generator):  # noqa: F811
    u = torch.rand(n, generator=generator, dtype=data.dtype, device=data.device)
    rows = (u * (data.shape[0] - 1)).long()
    noise = torch.randn((n, data.shape[-1]), generator=generator, dtype=data.dtype, device=data.device)
    return data[rows] + sigma * noise


@mistake("sigma_as_variance", title="Noise scaled by sigma^2",
         explanation="The standard-normal noise is multiplied by sigma^2, so the kernel has standard deviation "
                     "sigma^2 (variance sigma^4) instead of sigma.",
         hint="sigma is the kernel's standard deviation: by what do you multiply randn to get it?")
def sample_kde(data, sigma, n, generator):  # noqa: F811
    rows = torch.randint(0, data.shape[0], (n,), generator=generator, device=data.device)
    noise = torch.randn((n, data.shape[-1]), generator=generator, dtype=data.dtype, device=data.device)
    return data[rows] + sigma**2 * noise


@mistake("ignores_generator", title="Randomness not drawn from the generator",
         explanation="The random numbers come from torch's global random state instead of the generator argument, "
                     "so the same generator seed does not give the same draws and nobody can reproduce them.",
         hint="Which argument of torch.randint and torch.randn decides where the random numbers come from?",
         named_by="sample_kde_draws_its_randomness_from_the_generator")
def sample_kde(data, sigma, n, generator):  # noqa: F811
    rows = torch.randint(0, data.shape[0], (n,), device=data.device)
    noise = torch.randn((n, data.shape[-1]), dtype=data.dtype, device=data.device)
    return data[rows] + sigma * noise


# Designed inputs: sigma on both sides of 1 (sigma^2 != sigma), d = 2 and d = 1, several rows.
PROBES = [
    probe(np.array([[-1.0, 2.0], [0.5, 0.0], [3.0, -1.5], [1.0, 1.0]]), 0.5, 12, generator(3)),
    probe(np.array([[0.0], [4.0], [-2.5]]), 2.0, 10, generator(4)),
]
