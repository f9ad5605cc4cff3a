"""Known mistakes in conditional_path, each a drop-in replacement with the same signature."""

import numpy as np
import torch

from grader.bank import mistake, probe


@mistake("variance_as_std", title="The variance (1 - t)^2 returned as the std",
         explanation="p_t(x | x1) = N(t x1, (1 - t)^2 I) has variance (1 - t)^2 and standard deviation 1 - t; the "
                     "variance was returned where the standard deviation belongs.",
         hint="x_t = (1 - t) x0 + t x1 with x0 ~ N(0, I): by how much does x_t spread around t x1?")
def conditional_path(x1, t):
    return t * x1, torch.full_like(x1, (1 - t) ** 2)


@mistake("time_reversed", title="The path runs from the data to the noise",
         explanation="The result is N((1 - t) x1, t^2 I): the roles of t and 1 - t are exchanged, so the path "
                     "starts at x1 and ends in pure noise. With x_t = (1 - t) x0 + t x1, t = 0 is the noise p0.",
         hint="What should p_0(x | x1) be?")
def conditional_path(x1, t):  # noqa: F811
    return (1 - t) * x1, torch.full_like(x1, t)


@mistake("std_not_shaped_like_x1", title="The std returned as a single number",
         explanation="The std is returned as a scalar (1 - t) instead of a tensor shaped like x1, one entry per "
                     "coordinate: code that indexes or batches it per coordinate breaks.",
         hint="Check the shape of both returned values against x1.shape.")
def conditional_path(x1, t):  # noqa: F811
    return t * x1, torch.tensor(1 - t, dtype=x1.dtype, device=x1.device)


# Designed inputs: x1 with d = 2 and a batch of two, t = 0.3 (t, 1 - t and (1 - t)^2 all differ).
PROBES = [
    probe(np.array([[1.2, -0.7], [0.4, 2.0]]), 0.3),
    probe(np.array([-1.5, 0.8, 0.6]), 0.75),
]
