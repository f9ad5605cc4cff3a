"""Known mistakes in kl_categorical, each a drop-in replacement with the same signature."""

import numpy as np
import torch

from grader.bank import mistake, probe


@mistake("nan_for_zeros", title="NaN for zero-probability entries",
         explanation="p * log(p / q) is computed for every entry, and for p_i = 0 it evaluates 0 * log(0) = "
                     "0 * (-inf) = NaN instead of the limit 0, so the whole sum becomes NaN.",
         hint="Evaluate your function on p = [1, 0], q = [1/2, 1/2] in floating point: what does the second "
              "term compute?")
def kl_categorical(p, q):
    return (p * torch.log(p / q)).sum(-1)


@mistake("bits_not_nats", title="Bits instead of nats",
         explanation="The logarithm is taken in base 2, so the KL is in bits: 1/log(2) = 1.44 times the value "
                     "in nats.",
         hint="Check KL([1, 0] || [1/2, 1/2]) by hand in nats, and compare.")
def kl_categorical(p, q):  # noqa: F811
    terms = torch.where(p > 0, p * torch.log2(p / q), torch.zeros_like(p))
    return terms.sum(-1)


@mistake("direction_swapped", title="KL direction swapped",
         explanation="The result equals KL(q || p): the roles of p and q were exchanged, so it is infinite "
                     "where q_i > 0 = p_i and finite where it should be infinite.",
         hint="KL(p || q) is an expectation under p: which distribution weights the log-ratio?")
def kl_categorical(p, q):  # noqa: F811
    terms = torch.where(q > 0, q * torch.log(q / p), torch.zeros_like(q))
    return terms.sum(-1)

# A zero in p (NaN-prone), a non-uniform q, and a q without the uniform symmetry of the swap.
PROBES = [
    probe(np.array([0.5, 0.3, 0.2, 0.0]), np.array([0.1, 0.2, 0.3, 0.4])),
    probe(np.array([0.7, 0.2, 0.1]), np.array([0.2, 0.5, 0.3])),
]
