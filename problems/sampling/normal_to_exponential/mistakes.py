"""Known mistakes in normal_to_exponential, each a drop-in replacement with the same signature."""

import numpy as np
import torch

from grader.bank import mistake, probe


@mistake("multiplies_by_rate", title="Multiplied by the rate instead of divided",
         explanation="The result is -log(1 - Phi(z)) * rate: Exponential draws with mean rate instead of 1/rate. "
                     "The quantile of Exponential(rate) is F^{-1}(u) = -log(1 - u) / rate.",
         hint="Solve u = 1 - exp(-rate x) for x. With rate = 2, should the draws be larger or smaller than for "
              "rate = 1?")
def normal_to_exponential(z, rate):
    return -torch.special.log_ndtr(-z) * rate


@mistake("naive_survival", title="1 - Phi(z) computed before the logarithm",
         explanation="-log(1 - Phi(z)) / rate evaluated as written loses the tails: 1 - Phi(z) rounds to 0 for "
                     "z > 8.3 (the result is inf) and to 1 for z < -8.3 (the result is 0, not Phi(z) / rate).",
         hint="1 - Phi(z) = Phi(-z): compute its logarithm directly with torch.special.log_ndtr, or use log1p for "
              "negative z.")
def normal_to_exponential(z, rate):  # noqa: F811
    return -torch.log(1 - torch.special.ndtr(z)) / rate


@mistake("decreasing_map", title="Phi(z) used as the survival probability",
         explanation="The result is -log(Phi(z)) / rate, i.e. F^{-1}(1 - Phi(z)): its draws are Exponential(rate) "
                     "too, but the map is decreasing, so large normal draws become small exponential ones (the "
                     "inverse-CDF transform F^{-1}(Phi(z)) is increasing).",
         hint="-log(U) / rate is Exponential for U uniform, but which U = Phi(z) or 1 - Phi(z) makes x grow with z?")
def normal_to_exponential(z, rate):  # noqa: F811
    return -torch.special.log_ndtr(z) / rate


# Designed inputs: rate != 1 on both sides of 1, z in both tails (|z| = 12 and 30, beyond where 1 - Phi(z) rounds)
# and in the bulk, on both sides of 0.
PROBES = [
    probe(np.array([-30.0, -12.0, -1.5, 0.3, 2.0, 12.0, 30.0]), 2.5),
    probe(np.array([[-0.7, 1.1], [3.0, -2.2]]), 0.4),
]
