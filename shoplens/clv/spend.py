"""The spend model: Gamma-Gamma, or its constant-value limit when spend does not vary.

Gamma-Gamma (Fader & Hardie 2013) is fitted on repeat buyers with positive
mean spend (:func:`shoplens.clv.summary.compress_spend`). Two kinds of valid
data leave it nothing to fit, and both are served with the limiting model
``constant_value`` instead of declining the CLV step:

* **constant spend**: every such buyer has the same mean spend c (a shop with
  one fixed price). The Gamma-Gamma likelihood then grows without bound as
  p, q -> inf with the population mean p v / (q - 1) held at c: the limit is
  "every purchase day is worth c". Recorded with ``at_boundary`` in
  ``ml_clv_parameters``.
* **no spend**: every repeat purchase day totals 0.00 (free samples only).
  The value per purchase day is 0, so CLV is 0 while the purchase
  predictions are served as usual; the reason says there is no spend to
  model.

Fewer positive-spend repeat buyers than ``clv_min_repeat_customers`` (some
bought again for 0.00 only) also serve ``constant_value`` at their mean
spend, flagged as a fallback.

Gamma-Gamma's scale ``v`` is in money: a shop whose purchase days are worth
hundreds of thousands (KRW, IDR, VND, or hashed price units) puts it past the
range a fit may reach. So where the median spend is above 1,000 (or below
0.01) the fit runs with spend in units of a power of ten near it
(:func:`spend_unit`) and ``v`` is converted back; p and q, and the fit itself
at penalizer 0, do not depend on the unit. Where even
that fit fails, the mean spend is served as ``constant_value`` with the
reason, and the step is degraded instead of red. Fewer repeat buyers than that in all (whatever
they spent) never get here: the step declines in
:func:`shoplens.clv.summary.validate_summary`.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from shoplens.clv.config import (
    CONSTANT_SPEND_MODEL,
    SPEND_MODEL,
    ClvConfig,
    ClvDeclined,
    ClvFitError,
)
from shoplens.clv.fitted import FittedModel
from shoplens.clv.models import MODELS
from shoplens.clv.summary import compress_spend

NO_SPEND_REASON = (
    "no spend to model: every repeat purchase day totals 0.00, so the value per purchase"
    " day is 0 and clv is 0 for every customer (purchase predictions are served as usual)"
)


def fit_spend(frame: pd.DataFrame, config: ClvConfig) -> FittedModel:
    """Gamma-Gamma on the validated summary ``frame``, or its constant-value limit.

    Raises :class:`ClvDeclined` when Gamma-Gamma estimates q <= 1 (infinite
    mean spend); :func:`heavy_tail_message` says whether a small sample or
    outlier orders is the likelier cause.
    """
    from shoplens.clv.fit import fit_model  # fit imports this module

    data = compress_spend(frame)
    weight = data["weight"].to_numpy(dtype=float)
    values = data["monetary_value"].to_numpy(dtype=float)
    n = int(weight.sum())
    if n == 0:
        return constant_spend(0.0, 0, config, NO_SPEND_REASON, at_boundary=False)
    if np.ptp(values) <= 1e-9 * max(1.0, float(values.max())):
        reason = (
            f"constant spend: all {n} repeat buyers with spend have mean spend {values[0]:.2f}"
            " per purchase day, so Gamma-Gamma sits at its boundary (p, q -> inf); served the"
            " limiting constant-value model"
        )
        return constant_spend(float(values[0]), n, config, reason, at_boundary=True)
    if n < config.min_repeat_customers:
        mean = float(weight @ values / n)
        reason = (
            f"only {n} repeat buyers with spend above 0.00 (clv_min_repeat_customers ="
            f" {config.min_repeat_customers}): served their mean spend {mean:.2f} per purchase day"
        )
        return constant_spend(mean, n, config, reason, at_boundary=False)
    unit = spend_unit(values, weight)
    try:
        gg = in_money(fit_model(SPEND_MODEL, data.assign(monetary_value=values / unit),
                                penalizer=config.penalizer, time_unit=config.time_unit,
                                engine=config.engine), unit, n)
    except ClvFitError as exc:
        mean = float(weight @ values / n)
        reason = (
            f"Gamma-Gamma could not be fitted on the {n} repeat buyers' mean spend per purchase day"
            f" (customer_btyd_summary.monetary_value, median {weighted_median(values, weight):.2f},"
            f" largest {float(values.max()):.2f}; fitted in units of {unit:g}): {exc}. Served their"
            f" mean spend {mean:.2f} per purchase day for every customer"
        )
        return constant_spend(mean, n, config, reason, at_boundary=False)
    if gg.params["q"] <= 1:
        raise ClvDeclined(heavy_tail_message(gg, data))
    return gg


def weighted_median(values: np.ndarray, weight: np.ndarray) -> float:
    """The median of ``values`` counted ``weight`` times each."""
    order = np.argsort(values, kind="stable")
    cum = np.cumsum(weight[order])
    return float(values[order][np.searchsorted(cum, cum[-1] / 2)])


#: Median mean spends per purchase day inside this range are fitted in the shop's own money
#: (every currency priced in units to thousands: the fits as lifetimes gives them); outside
#: it, in the power of ten nearest the median.
OWN_MONEY_RANGE = (0.01, 1000.0)


def spend_unit(values: np.ndarray, weight: np.ndarray) -> float:
    """The unit of money Gamma-Gamma is fitted in: 1, or for a median mean spend outside
    ``OWN_MONEY_RANGE`` the power of ten nearest it (a won shop's 45,000 is fitted as 4.5
    units of 10,000), so that ``v`` stays inside the range a fit may reach."""
    median = weighted_median(values, weight)
    if median <= 0 or OWN_MONEY_RANGE[0] <= median <= OWN_MONEY_RANGE[1]:
        return 1.0
    return float(10.0 ** np.round(np.log10(median)))


def in_money(gg: FittedModel, unit: float, n: int) -> FittedModel:
    """A Gamma-Gamma fitted on spend divided by ``unit``, in the shop's money: ``v`` times
    ``unit`` (the log-parameters' covariance is unchanged) and the log-likelihood of the
    spend in money (each buyer's density of mean spend is ``unit`` times smaller)."""
    if unit == 1.0:
        return gg
    return replace(gg, params={**gg.params, "v": gg.params["v"] * unit},
                   log_likelihood=gg.log_likelihood - n * np.log(unit))


#: Below this many repeat buyers with spend, q <= 1 is read as a small sample unless one
#: buyer's mean spend stands out (more than OUTLIER_RATIO times the median).
SMALL_SPEND_SAMPLE = 30
OUTLIER_RATIO = 10.0


def heavy_tail_message(gg: FittedModel, data: pd.DataFrame) -> str:
    """Why Gamma-Gamma's q <= 1 declines the step, and the likelier cause.

    An infinite mean spend is either a real heavy tail (outlier orders: a
    currency mix-up, test orders) or a sample too small to pin the tail down.
    The message names the small sample when the fit had fewer than
    ``SMALL_SPEND_SAMPLE`` repeat buyers with spend, or q's 95 % interval
    reaches above 1, and no buyer's mean spend exceeds ``OUTLIER_RATIO`` times
    the median; otherwise outlier orders.
    """
    weight = data["weight"].to_numpy(dtype=float)
    values = data["monetary_value"].to_numpy(dtype=float)
    n = int(weight.sum())
    median = weighted_median(values, weight)
    top = float(values.max())
    ratio = top / median if median > 0 else float("inf")
    q = gg.params["q"]
    k = MODELS[gg.name].parameter_names.index("q")
    var = float(gg.log_covariance[k, k])
    se = float(np.sqrt(var)) if np.isfinite(var) and var >= 0 else float("nan")
    interval = f"{q * np.exp(-1.96 * se):.2f} to {q * np.exp(1.96 * se):.2f}" if np.isfinite(se) else "not available"
    head = (
        f"Gamma-Gamma estimated q = {q:.3f} <= 1 from {n} repeat buyers with spend (95 % interval of q:"
        f" {interval}): the fitted spend distribution is so heavy-tailed that its mean is infinite and"
        " no customer value can be computed. The largest mean spend per purchase day is"
        f" {top:.2f}, {ratio:.1f} times the median {median:.2f}."
    )
    uncertain = n < SMALL_SPEND_SAMPLE or (np.isfinite(se) and q * np.exp(1.96 * se) > 1)
    if uncertain and ratio <= OUTLIER_RATIO:
        return head + (
            f" No buyer's spend stands out, so the likelier cause is the small sample: {n} repeat buyers"
            " cannot pin down the tail of the spend distribution."
            " Fix: use a later as_of_date or load more history so that more customers have bought"
            " again; check order_total for outliers only if you expect some."
        )
    return head + (
        " Fix: look for outlier orders (currency mix-ups, test orders) in order_total and"
        " quarantine them, or cap extreme purchase totals before the summary."
    )


def constant_spend(value: float, n: int, config: ClvConfig, reason: str, *, at_boundary: bool) -> FittedModel:
    """The ``constant_value`` spend model (standard error 0: the limit has no spread)."""
    return FittedModel(
        name=CONSTANT_SPEND_MODEL,
        params={"value": float(value)},
        log_covariance=np.zeros((1, 1)),
        log_likelihood=0.0,
        n_customers=int(n),
        n_patterns=1,
        converged=True,
        penalizer=float(config.penalizer),
        fallback_reason=reason,
        time_unit=config.time_unit,
        at_boundary=at_boundary,
    )


def spend_value(model: FittedModel, x, m) -> np.ndarray:
    """E[spend per purchase day | x, m] under the served spend model."""
    return MODELS[model.name].expected_average_value(model.params, x, m)
