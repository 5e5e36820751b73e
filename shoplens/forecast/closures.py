"""Weekdays the shop is closed: every series forecasts zero on them.

A shop that never opens on Saturdays (the UCI Online Retail shop; many
business-to-business shops on weekends) has zero demand on every Saturday
of its history. Seasonal naive copies those zeros; the SARIMA members add
their calendar and trend effects to every day, and forecast demand on a
closed day (on a generated shop made to close on Saturdays: 20 to 30 units
where the other days sell 160 to 420, and the served total's MASE 0.92 of
seasonal naive).

A weekday is closed at a forecast origin when the shop total sold nothing
on it in each of the last ``closed_weeks`` (8) weeks before the origin,
while each weekday it sold on sold in at least ``OPEN_SHARE`` (3/4) of
those weeks. Only the shop total decides (a product can miss a weekday for
eight weeks by chance). The second condition keeps a small shop's chance
gaps from closing a day: a Poisson shop total of 0.6 sales a day shows a
weekday with eight empty weeks at 5% of its origins, and at 0.3 a day at
half of them, but its other weekdays sell in fewer than six of eight
weeks. On a closed weekday the point forecast, its bounds and its median
are 0 for every candidate of every series; days that stayed closed (actual
0) are left out of the errors that choose and calibrate the served forecast
and of the coverage, and a closed day that sold after all counts as a miss
in both.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import numpy as np
import pandas as pd

from shoplens.forecast.config import CLOSED_WEEKS, SEASON, SeriesForecast
from shoplens.forecast.series import Series

#: the share of the weeks every open weekday must have sold in for a weekday to be closed
OPEN_SHARE = 0.75
WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def closed_weekdays(total: Series, first_day: dt.date, weeks: int = CLOSED_WEEKS) -> frozenset[int]:
    """The weekdays (0 = Monday) without a sale at the shop total in each of the ``weeks``
    weeks before ``first_day`` (the first forecast day); empty when ``weeks`` is 0, the
    total has fewer days than that before it, sold nothing at all in them, or a weekday
    it sold on sold in fewer than ``OPEN_SHARE`` of the weeks (too few sales to tell a
    closed day from a quiet one)."""
    end = (first_day - total.start).days
    if weeks <= 0:
        return frozenset()
    span = weeks * SEASON
    if end < span or end > len(total.values):
        return frozenset()
    window = total.values[end - span : end]
    if not (window > 0).any():
        return frozenset()
    start = total.start + dt.timedelta(days=end - span)
    weekday = (start.weekday() + np.arange(span)) % SEASON
    selling_weeks = np.array([int((window[weekday == w] > 0).sum()) for w in range(SEASON)])
    open_days = selling_weeks[selling_weeks > 0]
    if (open_days < OPEN_SHARE * weeks).any():
        return frozenset()
    return frozenset(int(w) for w in range(SEASON) if selling_weeks[w] == 0)


def closed_mask(first_day: dt.date, horizon: int, closed: frozenset[int]) -> np.ndarray | None:
    """True on the horizon days (from ``first_day``) that fall on a closed weekday; None
    when no weekday is closed."""
    if not closed:
        return None
    weekday = (first_day.weekday() + np.arange(horizon)) % SEASON
    return np.isin(weekday, sorted(closed))


#: methods whose forecast is one daily rate over all days, closed ones included
FLAT_RATE_METHODS = ("croston_sba",)


def zero_closed(fc: SeriesForecast, mask: np.ndarray | None) -> SeriesForecast:
    """``fc`` with its point, bounds and median at 0 on the ``mask`` days (kept in
    ``fc.closed``); ``fc`` itself without a mask, or when it is closed already.

    A flat-rate forecast (Croston) spreads a week's demand over all seven days,
    the closed ones too: its open days are scaled up by days over open days, so
    the horizon keeps its demand (without it, a shop closed on Saturdays would
    lose a seventh of every intermittent product's forecast)."""
    if mask is None or not mask.any() or fc.closed is not None:
        return fc
    m = mask[: len(fc.mean)]
    n_open = int((~m).sum())
    return _zeroed(fc, m, len(m) / n_open if fc.method in FLAT_RATE_METHODS and n_open else 1.0)


def rezero_closed(fc: SeriesForecast) -> SeriesForecast:
    """A closed forecast whose bounds were recomputed (the calibration) with its closed days
    at 0 again (no rescaling)."""
    return fc if fc.closed is None else _zeroed(fc, fc.closed, 1.0)


def _zeroed(fc: SeriesForecast, m: np.ndarray, scale: float) -> SeriesForecast:
    def zeroed(values: np.ndarray | None) -> np.ndarray | None:
        return None if values is None else np.where(m, 0.0, values * scale)

    return replace(fc, mean=zeroed(fc.mean), lower_80=zeroed(fc.lower_80),
                   upper_80=zeroed(fc.upper_80), lower_95=zeroed(fc.lower_95),
                   upper_95=zeroed(fc.upper_95), median=zeroed(fc.median), closed=m)


def closed_note(closed: frozenset[int], weeks: int = CLOSED_WEEKS) -> str:
    """What ``fit_note`` says of the closed weekdays."""
    names = ", ".join(WEEKDAY_NAMES[w] for w in sorted(closed))
    return (f"closed on {names}: 0 there (no sale at the shop total on each of the last"
            f" {weeks} weeks)")


def closed_in_note(forecasts: pd.DataFrame) -> pd.Series:
    """True on the production forecast rows (``FORECAST_COLUMNS``) of a closed weekday: the
    row's ``fit_note`` names its weekday as closed (``closed_note``) and its point is 0."""
    if "fit_note" not in forecasts.columns:
        return pd.Series(False, index=forecasts.index)
    weekday = pd.to_datetime(forecasts["forecast_date"]).dt.dayofweek
    named = [closed_part(str(note)) for note in forecasts["fit_note"].fillna("")]
    return pd.Series([WEEKDAY_NAMES[w] in part for w, part in zip(weekday, named, strict=True)],
                     index=forecasts.index) & (forecasts["point_forecast"] == 0)


def closed_part(note: str) -> str:
    """The weekday names of a ``fit_note``'s closed part ('' without one)."""
    start = note.find("closed on ")
    return "" if start < 0 else note[start + len("closed on "):].split(":", 1)[0]


def counted_days(closed: np.ndarray | pd.Series, actual: np.ndarray | pd.Series):
    """The days that count in errors and coverage: open ones, and closed ones that sold
    after all (misses like any other)."""
    return ~closed | (actual > 0)
