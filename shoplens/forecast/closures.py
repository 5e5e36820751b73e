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

Dates close too (a shop shut over Christmas and New Year, on its own
holidays): a calendar date is closed at an origin when the shop total sold
nothing on it (or at most ``NEAR_CLOSED_SHARE``, 2%, of the median open day
around it: a few sales booked on a closed day) in each of the last
``closed_years`` (2) years, and in each
of those years the shop sold on at least ``DATE_OPEN_SHARE`` (90%) of its
open days in the four weeks either side (the run of empty days around the
date left out). One year is not enough: an outage or a quiet day is not a
closure. The share keeps a small shop's chance gaps out: a shop total with
a 10% chance of an empty open day meets it and closes a date by chance
with probability 1% (both years empty), a busier shop far less; a shop with
more empty days does not meet it. A closed date is 0 for every candidate
of every series like a closed weekday, and its days count in the errors and
coverage the same way. A flat-rate forecast (Croston) is not scaled up for
it: its rate was estimated over years that held the closure.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import replace

import numpy as np
import pandas as pd

from shoplens.forecast.config import CLOSED_WEEKS, CLOSED_YEARS, SEASON, SeriesForecast
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


#: the share of its open days the shop total sold on around a closed date, in each year
DATE_OPEN_SHARE = 0.9
#: A day selling at most this share of the median open day around it counts as empty for the
#: closed-date rule (a chain's stores shut on Christmas still book a few sales: 3 units against
#: about 3,000, which were forecast at full demand); below a median of 50 a day only 0 does.
NEAR_CLOSED_SHARE = 0.02
#: days either side of a past date that tell whether the shop was trading around it
DATE_WINDOW_DAYS = 28


def closed_dates(total: Series, first_day: dt.date, horizon: int, years: int = CLOSED_YEARS,
                 closed: frozenset[int] = frozenset()) -> np.ndarray | None:
    """True on the horizon days (from ``first_day``) whose calendar date the shop total
    sold nothing on in each of the last ``years`` years, while it sold on at least
    ``DATE_OPEN_SHARE`` of its open days in the ``DATE_WINDOW_DAYS`` either side (the run
    of empty days around the date left out). ``closed``: the closed weekdays, which are
    neither tested (they are 0 already) nor counted as open days. None when no day is
    closed, ``years`` is 0 or the history does not reach back that far. 29 February is
    never closed by date."""
    end = (first_day - total.start).days
    if years <= 0 or end > len(total.values) or end < 365 * years:
        return None
    history = total.values[:end]
    weekday_closed = np.isin((total.start.weekday() + np.arange(end)) % SEASON, sorted(closed))
    mask = np.zeros(horizon, dtype=bool)
    for i in range(horizon):
        day = first_day + dt.timedelta(days=i)
        if day.weekday() in closed:
            continue
        past = [_years_before(day, k) for k in range(1, years + 1)]
        mask[i] = all(p is not None and _closed_on(history, weekday_closed, (p - total.start).days)
                      for p in past)
    return mask if mask.any() else None


def _years_before(day: dt.date, k: int) -> dt.date | None:
    try:
        return day.replace(year=day.year - k)
    except ValueError:  # 29 February
        return None


def _closed_on(history: np.ndarray, weekday_closed: np.ndarray, j: int) -> bool:
    """Whether the shop total sold nothing (or next to nothing: at most ``NEAR_CLOSED_SHARE``
    of the median open day around it) on day ``j`` while trading around it. A run of empty
    days made only of closed weekdays (a weekend) says nothing of the date: a date moves a
    weekday a year, so a Monday fell on the weekend of the two years before."""
    if j < 0 or j >= len(history):
        return False
    near = _open_days_around(weekday_closed, j, j)
    quiet = NEAR_CLOSED_SHARE * float(np.median(history[near])) if len(near) else 0.0
    if history[j] > quiet:
        return False
    first, last = j, j  # the run of empty days around j
    while first > 0 and history[first - 1] <= quiet:
        first -= 1
    while last + 1 < len(history) and history[last + 1] <= quiet:
        last += 1
    if weekday_closed[first : last + 1].all():
        return False
    around = _open_days_around(weekday_closed, first, last)
    return len(around) >= DATE_WINDOW_DAYS and (history[around] > quiet).mean() >= DATE_OPEN_SHARE


def _open_days_around(weekday_closed: np.ndarray, first: int, last: int) -> np.ndarray:
    """The days within ``DATE_WINDOW_DAYS`` before ``first`` and after ``last``, closed weekdays
    left out."""
    around = np.r_[max(0, first - DATE_WINDOW_DAYS):first,
                   last + 1:min(len(weekday_closed), last + 1 + DATE_WINDOW_DAYS)]
    return around[~weekday_closed[around]]


def dates_note(first_day: dt.date, dates: np.ndarray, years: int = CLOSED_YEARS,
               weekdays: np.ndarray | None = None) -> str:
    """What ``fit_note`` says of the closed dates: their runs as ``a..b`` (a run bridges
    the closed weekdays ``weekdays`` inside it)."""
    either = dates if weekdays is None else dates | weekdays[: len(dates)]
    runs, i = [], 0
    while i < len(dates):
        if not either[i]:
            i += 1
            continue
        j = i
        while j + 1 < len(dates) and either[j + 1]:
            j += 1
        hit = np.flatnonzero(dates[i : j + 1])
        if hit.size:
            a, b = (first_day + dt.timedelta(days=int(i + d)) for d in (hit[0], hit[-1]))
            runs.append(a.isoformat() if a == b else f"{a.isoformat()}..{b.isoformat()}")
        i = j + 1
    return (f"closed dates {', '.join(runs)}: 0 there (no sale at the shop total on those"
            f" dates in each of the last {years} years)")


_DATES = re.compile(r"(\d{4}-\d{2}-\d{2})(?:\.\.(\d{4}-\d{2}-\d{2}))?")


def noted_dates(note: str) -> list[tuple[dt.date, dt.date]]:
    """The closed date runs ``dates_note`` wrote into a ``fit_note`` ([] without any)."""
    start = note.find("closed dates ")
    if start < 0:
        return []
    part = note[start + len("closed dates "):].split(":", 1)[0]
    return [(dt.date.fromisoformat(a), dt.date.fromisoformat(b or a)) for a, b in _DATES.findall(part)]


#: methods whose forecast is one daily rate over all days, closed ones included
FLAT_RATE_METHODS = ("croston_sba",)


def zero_closed(fc: SeriesForecast, mask: np.ndarray | None,
                weekdays: np.ndarray | None = None) -> SeriesForecast:
    """``fc`` with its point, bounds and median at 0 on the ``mask`` days (kept in
    ``fc.closed``); ``fc`` itself without a mask, or when it is closed already.

    A flat-rate forecast (Croston) spreads a week's demand over all seven days,
    the closed ones too: its open days are scaled up by days over days not on a
    closed weekday (``weekdays``: those days; None: every ``mask`` day), so the
    horizon keeps its demand (without it, a shop closed on Saturdays would lose
    a seventh of every intermittent product's forecast). Closed dates do not
    scale it: the years its rate was estimated over held them."""
    if mask is None or not mask.any() or fc.closed is not None:
        return fc
    m = mask[: len(fc.mean)]
    w = m if weekdays is None else weekdays[: len(fc.mean)]
    n_open = int((~w).sum())
    return _zeroed(fc, m, len(w) / n_open if fc.method in FLAT_RATE_METHODS and n_open else 1.0)


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
    """True on the production forecast rows (``FORECAST_COLUMNS``) of a closed weekday or
    date: the row's ``fit_note`` names its weekday as closed (``closed_note``) or holds its
    date (``dates_note``), and its point is 0."""
    if "fit_note" not in forecasts.columns:
        return pd.Series(False, index=forecasts.index)
    days = pd.to_datetime(forecasts["forecast_date"])
    notes = [str(note) for note in forecasts["fit_note"].fillna("")]
    # a series' note repeats on each of its rows: read each note once
    read = {note: (closed_part(note), noted_dates(note)) for note in set(notes)}
    closed = [WEEKDAY_NAMES[w] in read[note][0] or any(a <= d <= b for a, b in read[note][1])
              for w, d, note in zip(days.dt.dayofweek, days.dt.date, notes, strict=True)]
    return pd.Series(closed, index=forecasts.index) & (forecasts["point_forecast"] == 0)


def closed_part(note: str) -> str:
    """The weekday names of a ``fit_note``'s closed part ('' without one)."""
    start = note.find("closed on ")
    return "" if start < 0 else note[start + len("closed on "):].split(":", 1)[0]


def counted_days(closed: np.ndarray | pd.Series, actual: np.ndarray | pd.Series):
    """The days that count in errors and coverage: open ones, and closed ones that sold
    after all (misses like any other)."""
    return ~closed | (actual > 0)
