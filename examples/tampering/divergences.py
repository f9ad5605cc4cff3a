"""A tampering submission, for docs/isolation.md ("Tampering inside the worker"): issue 14's attack.

kl_diag_normal_std is computed in numpy, so it has no autograd graph and its two gradient
properties fail (7/10). The module then finds the harness's class by walking the garbage collector
and replaces its ``gradients`` with one that returns the right answers by hand. Before the tamper
monitor this scored 10/10; now the worker still calls the gradients it bound before the import (the
properties fail as before), the monitor reports both the walk and the replacement, and the problem
scores 0 with its status "review" until the course staff look at it.
"""

import gc

import numpy as np
import torch


def kl_diag_normal_std(mu, logvar):
    m, lv = mu.detach().cpu().numpy(), logvar.detach().cpu().numpy()
    return torch.tensor(0.5 * (np.exp(lv) + m**2 - 1 - lv).sum(-1))


def _forged(self, args, kwargs, call, wrt, output_index, cotangent):
    mu, logvar = args[:2]
    grads = {0: mu.clone(), 1: (torch.exp(logvar) - 1) / 2}
    return call(*args, **kwargs), tuple(grads[i] for i in wrt)


for found in gc.get_objects():
    if isinstance(found, type) and found.__name__ == "Harness" and found.__module__ == "grader.harness":
        found.gradients = _forged
