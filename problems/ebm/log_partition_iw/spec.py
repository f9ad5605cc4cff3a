"""Properties of log_partition_iw(log_p_tilde, log_q) = log (1/N) sum_i exp(log p~(x_i) - log q(x_i)) over the last
dimension: the log of the importance-sampling estimate of Z, computed stably."""

import numpy as np

from grader.spec import assert_all, assert_close, assert_finite, assert_shape, call_text, given, prop, st, unit_helpers
from grader.strategies import reals

common = unit_helpers(__file__)
log_values, proportional_log_values, log_mean_exp = common.log_values, common.proportional_log_values, common.log_mean_exp
gaussian_models, gaussian_log_values, tolerance = common.gaussian_models, common.gaussian_log_values, common.tolerance


def describe(log_p_tilde, log_q):
    return call_text("log_partition_iw", log_p_tilde, log_q)


@prop(points=1)
@given(args=log_values())
def log_partition_iw_has_the_batch_shape(student, args):
    """The estimate has the batch shape (...): the N samples along the last dimension are combined."""
    assert_shape(student.log_partition_iw(*args), args[0].shape[:-1], call=describe(*args))


@prop(points=2)
@given(case=proportional_log_values())
def log_partition_iw_equals_log_z_when_q_is_proportional_to_p_tilde(student, case):
    """When log p~ = log q + log Z at every sample, every weight is Z and the estimate is exactly log Z, for any N."""
    log_p_tilde, log_q, log_z = case
    call = describe(log_p_tilde, log_q) + f" with log Z = {log_z:.6g}"
    value = student.log_partition_iw(log_p_tilde, log_q)
    assert_finite(value, call=call)
    assert_close(value, np.full(log_q.shape[:-1], log_z), rtol=0, atol=tolerance(log_p_tilde, log_q),
                 what="the estimate", call=call)


@prop(points=2)
@given(args=log_values(samples=(2, 8)))
def log_partition_iw_lies_between_the_elbo_and_the_largest_log_weight(student, args):
    """On the same samples, mean log-weight (the ELBO) <= estimate <= largest log-weight (Jensen; log-mean-exp)."""
    call = describe(*args)
    value = student.log_partition_iw(*args)
    assert_finite(value, call=call)
    weights = args[0] - args[1]
    elbo, largest, tol = weights.mean(-1), weights.max(-1), tolerance(*args)
    assert_all(value >= elbo - tol, "the estimate must be >= the mean log-weight (the ELBO) on the same samples",
               estimate=value, elbo=elbo, call=call)
    assert_all(value <= largest + tol, "the estimate must be <= the largest log-weight log p~(x_i) - log q(x_i)",
               estimate=value, largest_log_weight=largest, call=call)


@st.composite
def extreme_log_values(draw):
    """(log_p_tilde, log_q) whose log-weights are all around +1e4 or all around -1e4 (exp overflows or underflows)."""
    log_p_tilde, log_q = draw(log_values(samples=(2, 8)))
    offset = draw(reals(5e3, 2e4)) * draw(st.sampled_from([-1.0, 1.0]))
    return log_p_tilde + offset, log_q


@prop(points=2)
@given(args=extreme_log_values())
def log_partition_iw_is_finite_for_log_weights_of_magnitude_1e4(student, args):
    """With log-weights around +-1e4 (where exp overflows or underflows) the estimate is finite and exact."""
    call = describe(*args)
    value = student.log_partition_iw(*args)
    assert_finite(value, call=call)
    assert_close(value, log_mean_exp(args[0] - args[1]), rtol=0, atol=tolerance(*args), what="the estimate",
                 call=call)


# A stochastic assertion: N_ESTIMATES independent estimates of N_SAMPLES samples each, from a proposal wider than p
# (so that the weights are bounded, by 4 Z at most); exp(estimate) / Z must average to 1 (unbiasedness) within
# Z_TWO_SIDED standard errors, estimated from the returned values (t-statistic with 1999 degrees of freedom, two-sided
# tail 2e-9 at 6; bounded summands). The catalogued mistakes are off by a factor N, or by Jensen's gap (the ELBO's
# exp(-KL(q || p)) < 0.9 here), more than 10 standard errors.
N_ESTIMATES = 2000
N_SAMPLES = 8
Z_TWO_SIDED = 6.0
MAX_EXAMPLES = 5


@prop(points=1, max_examples=MAX_EXAMPLES, false_failure=MAX_EXAMPLES * 2 * 2e-9)
@given(model=gaussian_models(wider_proposal=True))
def log_partition_iw_exponentiated_is_unbiased_for_z(student, model):
    """Over x ~ q, exp(estimate) averages to Z: importance sampling is unbiased for Z (6 standard errors)."""
    log_p_tilde, log_q = gaussian_log_values(model, (N_ESTIMATES, N_SAMPLES))
    call = describe(log_p_tilde, log_q) + f": {N_ESTIMATES} estimates of {N_SAMPLES} samples"
    values = student.log_partition_iw(log_p_tilde, log_q)
    assert_shape(values, (N_ESTIMATES,), call=call)
    assert_finite(values, call=call)
    ratios = np.exp(values - model[0])
    average, standard_error = ratios.mean(), ratios.std(ddof=1) / np.sqrt(N_ESTIMATES)
    # Rounding of a float32 implementation, for the case where every ratio is 1 (q = p): see log_partition_elbo.
    assert_all(abs(average - 1) <= Z_TWO_SIDED * standard_error + np.expm1(tolerance(log_p_tilde, log_q)),
               f"exp(estimate) / Z must average to 1 within {Z_TWO_SIDED:g} standard errors",
               average_ratio=average, standard_error=standard_error, log_z=model[0], call=call)


@prop(points=2)
@given(args=log_values())
def log_partition_iw_matches_reference(student, reference, args):
    """The estimate agrees with the reference solution to float32 precision."""
    assert_close(student.log_partition_iw(*args), reference.log_partition_iw(*args), rtol=0,
                 atol=tolerance(*args), call=describe(*args))
