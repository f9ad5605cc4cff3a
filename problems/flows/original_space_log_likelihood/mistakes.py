"""Known mistakes in original_space_log_likelihood, each a drop-in replacement with the same signature."""

import math

import numpy as np
import torch

from grader.bank import mistake, probe


@mistake("sign_flipped", title="Sign of the correction flipped",
         explanation="The result is ll' - dim log|scale|: the log-determinant of the preprocessing was subtracted, "
                     "which is the correction for going from x to x', not back.",
         hint="p(x) = p'(x') |det dx'/dx|: with scale = 1/127.5 (a contraction), should the density of the "
              "original pixels be larger or smaller than that of the rescaled ones?")
def original_space_log_likelihood(ll_transformed, scale, dim):
    return ll_transformed - dim * math.log(abs(scale))


@mistake("correction_not_times_dim", title="Correction counted once, not once per coordinate",
         explanation="Only log|scale| is added: the preprocessing scales each of the dim coordinates, so the "
                     "Jacobian's determinant is scale^dim and its log dim * log|scale|.",
         hint="The Jacobian of x -> scale * x + shift on dim coordinates is scale * I: what is its determinant?")
def original_space_log_likelihood(ll_transformed, scale, dim):  # noqa: F811
    return ll_transformed + math.log(abs(scale))


@mistake("no_absolute_value", title="log(scale) without the absolute value",
         explanation="The change of variables uses |det|: for a negative scale log(scale) is NaN, although a "
                     "reflection changes no volume beyond |scale|^dim.",
         hint="Try scale = -1/127.5: what does your answer become?")
def original_space_log_likelihood(ll_transformed, scale, dim):  # noqa: F811
    return ll_transformed + dim * torch.log(torch.as_tensor(scale, dtype=ll_transformed.dtype))


# Designed inputs: dim > 1 and |scale| != 1, once with a negative scale.
PROBES = [
    probe(np.array([-3.5, 10.25]), 1 / 127.5, 3),
    probe(np.asarray(-1.0), -2.5, 2),
]
