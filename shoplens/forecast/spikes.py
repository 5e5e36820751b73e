"""One-day demand spikes: replaced by their weekday's median before the models are fitted.

A wholesale order, a bulk buy or a test order puts one day far above
anything the series did around it (the UCI Online Retail export has single
orders of 74,215 and 80,995 units). Every member of the combination is
pulled by it for months: the SARIMA's parameters, the damped ETS's level,
the profile model's level and trend. On the smoke shop one order of 20
days' shop-total units, 130 days before the end, made the served total 1.42
of seasonal naive over the four scored windows that followed (0.74
without it), although seasonal naive forgot it after a week.

A day ``t`` of the training values before an origin is a spike when

- it is above ``spike_ratio`` (3) times the largest value of the same
  weekday in the four weeks before it and, where the training data has
  them, the four weeks after it (up to 8 days: a level that rises and
  stays is in the weeks after);
- every one of those reference days sold (an intermittent series, whose
  days are mostly zero, is never cleaned);
- the nearest days before and after it that sold (where in the training
  data; a closed day is passed over) are not above half that ratio times
  the largest of their own weekday in the four weeks before them: a burst
  of several high days is an event (a sale, a campaign) or a rise, not one
  order. The real CDNOW
  file has one such burst, 304, 690 and 560 CDs on 25-27 July 1997 against
  Saturdays of 142-207;
- and it is not a day the calendar explains: a public holiday of the
  shop's countries, the Black Friday weekend, or a day with a larger share
  of promoted units than any of its reference days.

For fitting only, a spike is replaced by the median of its reference days.
The errors that choose and calibrate the served forecast, the MASE scale
and seasonal naive use the actual values. The rule reads only the training
values before each origin, so a backtest forecast never uses a later day.
"""

from __future__ import annotations

import numpy as np

from shoplens.forecast.calendar import event_days, holiday_share, shopping_event
from shoplens.forecast.config import SEASON, SeriesContext

#: weeks before (and after, when in the training data) whose same weekday is the reference
SPIKE_WEEKS = 4


def _reference(y: np.ndarray) -> np.ndarray:
    """Per day, the same weekday's values in the ``SPIKE_WEEKS`` weeks before and after
    it (NaN outside the data): shape ``(len(y), 2 * SPIKE_WEEKS)``."""
    n = len(y)
    shifts = [SEASON * k for k in range(1, SPIKE_WEEKS + 1)]
    out = np.full((n, 2 * SPIKE_WEEKS), np.nan)
    for j, s in enumerate(shifts):
        if s >= n:
            break
        out[s:, 2 * j] = y[: n - s]  # s days before
        out[: n - s, 2 * j + 1] = y[s:]  # s days after
    return out


def _protected(n: int, context: SeriesContext, reference_promotion: np.ndarray | None,
               promotion: np.ndarray | None) -> np.ndarray:
    """Days the calendar or a promotion explains (never spikes)."""
    protect = np.zeros(n, dtype=bool)
    if context.start is not None:
        protect |= holiday_share(context.start, n, context.country_weights) > 0
        protect |= shopping_event(context.start, n) > 0
        protect |= event_days(context.start, n, context.events)
    if promotion is not None and reference_promotion is not None:
        with np.errstate(invalid="ignore"):
            protect |= promotion > np.nanmax(reference_promotion, axis=1)
    return protect


def _quiet_neighbours(y: np.ndarray, elevated: np.ndarray) -> np.ndarray:
    """Per day: the nearest day before it and the nearest day after it that sold (a
    closed day, or a day with no sale, is passed over) are not elevated; a missing
    neighbour (past the data) is quiet."""
    n = len(y)
    sold = np.flatnonzero(y > 0)
    days = np.arange(n)
    before = np.searchsorted(sold, days, side="left") - 1  # index into ``sold``
    after = np.searchsorted(sold, days, side="right")
    quiet = np.ones(n, dtype=bool)
    has_before = before >= 0
    quiet[has_before] &= ~elevated[sold[before[has_before]]]
    has_after = after < len(sold)
    quiet[has_after] &= ~elevated[sold[after[has_after]]]
    return quiet


def spike_days(y: np.ndarray, context: SeriesContext | None, ratio: float) -> np.ndarray:
    """True on the days of ``y`` that are spikes (see the module docstring); ``ratio`` 0:
    none."""
    y = np.asarray(y, dtype="float64")
    return _spikes(y, _reference(y), context, ratio)


def _spikes(y: np.ndarray, ref: np.ndarray, context: SeriesContext | None,
            ratio: float) -> np.ndarray:
    """``spike_days`` with the reference days ``ref`` (``_reference(y)``) given."""
    n = len(y)
    if ratio <= 0 or n <= SPIKE_WEEKS * SEASON:
        return np.zeros(n, dtype=bool)
    context = context or SeriesContext()
    past = ref[:, 0::2]
    complete = ~np.isnan(past).any(axis=1)  # four weeks before it in the data
    with np.errstate(invalid="ignore"):
        sold = np.nanmin(np.where(np.isnan(ref), np.inf, ref), axis=1) > 0
        high = y > ratio * np.nanmax(ref, axis=1)
        # against the weeks before only: a rise's later weeks are in its days' reference
        # (a day with no week before it in the data is not elevated)
        past_largest = np.max(np.where(np.isnan(past), -np.inf, past), axis=1)
        elevated = np.isfinite(past_largest) & (y > 0.5 * ratio * past_largest)
    high &= _quiet_neighbours(y, elevated)
    promotion = None
    reference_promotion = None
    if context.promotion is not None and len(context.promotion) >= n:
        promotion = np.asarray(context.promotion[:n], dtype="float64")
        reference_promotion = _reference(promotion)
    return complete & sold & high & ~_protected(n, context, reference_promotion, promotion)


def clean_spikes(y: np.ndarray, context: SeriesContext | None,
                 ratio: float) -> tuple[np.ndarray, int]:
    """``y`` with its spike days replaced by the median of their reference days, and how
    many there were."""
    y = np.asarray(y, dtype="float64")
    ref = _reference(y)
    spikes = _spikes(y, ref, context, ratio)
    if not spikes.any():
        return y, 0
    cleaned = y.copy()
    cleaned[spikes] = np.nanmedian(ref[spikes], axis=1)
    return cleaned, int(spikes.sum())
