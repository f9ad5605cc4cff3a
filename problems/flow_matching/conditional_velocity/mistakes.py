"""Known mistakes in conditional_velocity, each a drop-in replacement with the same signature."""

import numpy as np
import torch  # noqa: F401  (mistakes may use it; these need only arithmetic)

from grader.bank import mistake, probe


@mistake("divides_by_t", title="Divided by t instead of 1 - t",
         explanation="The velocity is (x1 - x) / t. On the path x = (1 - t) x0 + t x1, x1 - x = (1 - t) (x1 - x0), "
                     "so it is the remaining time 1 - t that must be divided out to recover x1 - x0.",
         hint="How much time is left before the path reaches x1, starting from time t?")
def conditional_velocity(x, x1, t):
    return (x1 - x) / t


@mistake("sign_flipped", title="Velocity points away from x1",
         explanation="The result is (x - x1) / (1 - t): it carries x away from the data point x1, so the path "
                     "runs backwards.",
         hint="At time 1 the path must reach x1: in which direction must x move?")
def conditional_velocity(x, x1, t):  # noqa: F811
    return (x - x1) / (1 - t)


@mistake("not_divided", title="The displacement x1 - x returned as the velocity",
         explanation="x1 - x is the displacement still to cover, not a velocity: it must be covered in the "
                     "remaining time 1 - t, so the velocity is (x1 - x) / (1 - t). (x1 - x0 is the velocity along "
                     "the path, but x is not x0 once t > 0.)",
         hint="Express x1 - x0 in terms of x_t, x1 and t.")
def conditional_velocity(x, x1, t):  # noqa: F811
    return x1 - x


# Designed inputs: d = 2 and d = 1 with broadcasting; t = 0.3 and 0.8 (t, 1 - t and 1 all differ).
PROBES = [
    probe(np.array([[0.3, -1.2], [2.0, 0.5]]), np.array([1.0, -0.5]), 0.3),
    probe(np.array([[-0.7], [1.5]]), np.array([[0.4], [-1.1]]), 0.8),
]
