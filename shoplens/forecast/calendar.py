"""Calendar regressors of the SARIMA backbone: yearly Fourier terms, holidays, promotions.

Every regressor is a column of a matrix with one row per day, training days
first and then the forecast days, so the same function builds what the
model is fitted on and what it is extrapolated with:

- ``year_sin_k`` / ``year_cos_k`` (k = 1..K): ``sin/cos(2 pi k t / 365.25)``
  with ``t`` the day's ordinal, the usual Fourier representation of a smooth
  yearly cycle (Hyndman and Athanasopoulos, FPP3 section 12.1). Only when the
  series is long enough for them (see ``ForecastConfig.min_yearly_days``).
- ``public_holiday``: the share of the shop's customers (weighted by country)
  for whom the day is a public holiday. The calendar is small and lives here:
  the fixed-date and Easter-based holidays of the countries in
  ``HOLIDAYS``; a country not listed contributes the holidays most Western
  calendars share (``COMMON``).
- ``shopping_event``: Black Friday to Cyber Monday (the Friday after the US
  Thanksgiving to the following Monday), a selling event in most markets.
- ``promotion_share``: the share of the day's units sold at a discount, when
  the demand input has ``units_on_promotion``; over the forecast days it is
  the mean of the last ``PROMOTION_WINDOW_DAYS`` training days (the marts hold
  no promotion plan, so the expected intensity is assumed to continue).
- ``event:<name>``: 1.0 on the days of one event of the shop's own calendar
  (the optional raw table ``calendar``, mart ``calendar_events``: planned
  promotions, a market's holidays, M5's SNAP days), past and future days
  alike. Days sharing a name share one coefficient, so a planned ``sale`` is
  forecast from the past ``sale`` days.

A column without at least two non-zero training days is dropped (its
coefficient could not be estimated).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import numpy as np
import pandas as pd

YEAR_DAYS = 365.25
PROMOTION_WINDOW_DAYS = 91

# (month, day) public holidays by ISO country code; "easter" offsets in days
# from Easter Sunday (Good Friday -2, Easter Monday +1, Ascension +39,
# Whit Monday +50).
COMMON = {"fixed": ((1, 1), (12, 25), (12, 26)), "easter": (-2, 1)}
HOLIDAYS: dict[str, dict[str, tuple]] = {
    "DE": {"fixed": ((1, 1), (5, 1), (10, 3), (12, 25), (12, 26)), "easter": (-2, 1, 39, 50)},
    "GB": {"fixed": ((1, 1), (12, 25), (12, 26)), "easter": (-2, 1)},
    "FR": {"fixed": ((1, 1), (5, 1), (5, 8), (7, 14), (8, 15), (11, 1), (11, 11), (12, 25)),
           "easter": (1, 39, 50)},
    "IT": {"fixed": ((1, 1), (1, 6), (4, 25), (5, 1), (6, 2), (8, 15), (11, 1), (12, 8),
                     (12, 25), (12, 26)), "easter": (1,)},
    "ES": {"fixed": ((1, 1), (1, 6), (5, 1), (8, 15), (10, 12), (11, 1), (12, 6), (12, 8),
                     (12, 25)), "easter": (-2,)},
    "NL": {"fixed": ((1, 1), (4, 27), (12, 25), (12, 26)), "easter": (-2, 1, 39, 50)},
    "US": {"fixed": ((1, 1), (6, 19), (7, 4), (11, 11), (12, 25)), "easter": ()},
}


#: country names and ISO 3166 alpha-3 codes of the ``HOLIDAYS`` countries, upper case: a
#: customers file may hold "Germany" or "DEU" where the calendar is keyed by "DE"
COUNTRY_ALIASES: dict[str, str] = {
    "GERMANY": "DE", "DEUTSCHLAND": "DE", "DEU": "DE",
    "UNITED KINGDOM": "GB", "UK": "GB", "GREAT BRITAIN": "GB", "ENGLAND": "GB", "SCOTLAND": "GB",
    "WALES": "GB", "NORTHERN IRELAND": "GB", "GBR": "GB",
    "FRANCE": "FR", "FRA": "FR",
    "ITALY": "IT", "ITALIA": "IT", "ITA": "IT",
    "SPAIN": "ES", "ESPAÑA": "ES", "ESPANA": "ES", "ESP": "ES",
    "NETHERLANDS": "NL", "THE NETHERLANDS": "NL", "HOLLAND": "NL", "NEDERLAND": "NL", "NLD": "NL",
    "UNITED STATES": "US", "UNITED STATES OF AMERICA": "US", "USA": "US",
}


def country_code(country: object) -> str:
    """The ``HOLIDAYS`` key of a customers file's country: an ISO alpha-2 code as it is, a
    name or alpha-3 code of a listed country mapped (``COUNTRY_ALIASES``), anything else
    upper-cased (and so ``COMMON``)."""
    name = " ".join(str(country).upper().split())
    return COUNTRY_ALIASES.get(name, name)


def easter_sunday(year: int) -> dt.date:
    """Gregorian Easter Sunday (the anonymous Gregorian computus)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = b // 4, b % 4
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    ell = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * ell) // 451
    month = (h + ell - 7 * m + 114) // 31
    day = (h + ell - 7 * m + 114) % 31 + 1
    return dt.date(year, month, day)


def _thanksgiving(year: int) -> dt.date:
    """US Thanksgiving: the fourth Thursday of November."""
    first = dt.date(year, 11, 1)
    return first + dt.timedelta(days=(3 - first.weekday()) % 7 + 21)


def holidays_of(country: str, year: int) -> set[dt.date]:
    """Public holidays of ``country`` (ISO code, or a name ``country_code`` knows) in
    ``year``; ``COMMON`` when unknown."""
    code = country_code(country)
    rule = HOLIDAYS.get(code, COMMON)
    days = {dt.date(year, m, d) for m, d in rule["fixed"]}
    easter = easter_sunday(year)
    days |= {easter + dt.timedelta(days=k) for k in rule["easter"]}
    if code == "US":
        days.add(_thanksgiving(year))
    return days


def _years(start: dt.date, n_days: int) -> range:
    """The calendar years the ``n_days`` days from ``start`` touch."""
    return range(start.year, (start + dt.timedelta(days=max(n_days, 1) - 1)).year + 1)


def _day_flags(start: dt.date, n_days: int, days: set[dt.date]) -> np.ndarray:
    """1.0 on the days of ``days`` among the ``n_days`` days from ``start``, else 0.0."""
    offsets = np.fromiter((d.toordinal() for d in days), dtype=np.int64, count=len(days)) - start.toordinal()
    flags = np.zeros(n_days, dtype="float64")
    flags[offsets[(offsets >= 0) & (offsets < n_days)]] = 1.0
    return flags


def holiday_share(
    start: dt.date, n_days: int, country_weights: Mapping[str, float] | None
) -> np.ndarray:
    """Per day, the customer-weighted share of countries with a public holiday."""
    weights = dict(country_weights or {"": 1.0})
    total = sum(weights.values()) or 1.0
    years = _years(start, n_days)
    out = np.zeros(n_days)
    for country, weight in weights.items():
        days = set().union(*(holidays_of(country, y) for y in years))
        out += (weight / total) * _day_flags(start, n_days, days)
    return out


def shopping_event(start: dt.date, n_days: int) -> np.ndarray:
    """1.0 from Black Friday to Cyber Monday, else 0.0."""
    days: set[dt.date] = set()
    for year in _years(start, n_days):
        friday = _thanksgiving(year) + dt.timedelta(days=1)
        days |= {friday + dt.timedelta(days=k) for k in range(4)}
    return _day_flags(start, n_days, days)


def fourier_terms(start: dt.date, n_days: int, k: int) -> tuple[np.ndarray, list[str]]:
    """``2 k`` yearly sine/cosine columns over ``n_days`` days from ``start``."""
    t = np.arange(n_days, dtype="float64") + start.toordinal()
    cols, names = [], []
    for j in range(1, k + 1):
        angle = 2.0 * np.pi * j * t / YEAR_DAYS
        cols += [np.sin(angle), np.cos(angle)]
        names += [f"year_sin_{j}", f"year_cos_{j}"]
    return (np.column_stack(cols) if cols else np.zeros((n_days, 0))), names


#: The shop's own calendar: each event's name and its days (``events_from_frame``).
Events = Mapping[str, frozenset[dt.date]]


def event_flags(start: dt.date, n_days: int, events: Events | None) -> list[tuple[str, np.ndarray]]:
    """``(event:<name>, 0/1 per day)`` for every event of ``events``, by name (a ``+`` or
    ``,`` in a name is written ``_`` in the label, which ``model_order`` shows)."""
    return [(f"event:{name.replace('+', '_').replace(',', '_')}", _day_flags(start, n_days, set(days)))
            for name, days in sorted((events or {}).items())]


def event_days(start: dt.date, n_days: int, events: Events | None) -> np.ndarray:
    """True on the days any event of ``events`` falls on."""
    out = np.zeros(n_days, dtype=bool)
    for _, flags in event_flags(start, n_days, events):
        out |= flags > 0
    return out


#: At most this many event names become regressors (those with the most days; the
#: warn test calendar_has_few_event_names says when a calendar has more).
MAX_EVENT_NAMES = 30


def events_from_frame(frame, as_of_date: dt.date | None = None) -> dict[str, frozenset[dt.date]] | None:
    """The events of a ``calendar_events``-shaped frame (event_date, event_name); None when
    there are none. Only the ``MAX_EVENT_NAMES`` names with the most days up to
    ``as_of_date`` are kept (then by all their days, then by name): a regressor per name,
    hundreds of them would fit noise, and a name with no past has nothing to fit."""
    if frame is None or len(frame) == 0:
        return None
    days = pd.to_datetime(frame["event_date"]).dt.date
    names = frame["event_name"].astype(str)
    out: dict[str, set[dt.date]] = {}
    for name, day in zip(names, days, strict=True):
        out.setdefault(name, set()).add(day)
    def past(name: str) -> int:
        return sum(1 for d in out[name] if as_of_date is None or d <= as_of_date)

    kept = sorted(out, key=lambda name: (-past(name), -len(out[name]), name))[:MAX_EVENT_NAMES]
    return {name: frozenset(out[name]) for name in sorted(kept)}


def regressors(
    start: dt.date,
    n_train: int,
    horizon: int,
    *,
    yearly_k: int,
    promotion: np.ndarray | None = None,
    country_weights: Mapping[str, float] | None = None,
    events: Events | None = None,
) -> tuple[np.ndarray, list[str]]:
    """The regressor matrix (``n_train + horizon`` rows) and its column names.

    A holiday, shopping-event or shop-event column needs two days among the
    training days (else its coefficient could not be estimated)."""
    n = n_train + horizon
    x, names = fourier_terms(start, n, yearly_k)
    cols = [x]
    for name, col in (("public_holiday", holiday_share(start, n, country_weights)),
                      ("shopping_event", shopping_event(start, n)),
                      *event_flags(start, n, events)):
        if np.count_nonzero(col[:n_train]) >= 2:
            cols.append(col[:, None])
            names.append(name)
    if promotion is not None and len(promotion) >= n_train:
        past = np.asarray(promotion[:n_train], dtype="float64")
        if np.count_nonzero(past) >= 2 and np.ptp(past) > 0:
            future = np.full(horizon, float(past[-PROMOTION_WINDOW_DAYS:].mean()))
            cols.append(np.concatenate([past, future])[:, None])
            names.append("promotion_share")
    return np.column_stack(cols), names


def country_weights_from_customers(customers) -> dict[str, float] | None:
    """Purchases per country from a ``dim_customers``-shaped frame (None when unknown).

    Customers without purchases count once each when no customer has
    purchased; a missing country counts under ``""`` (the ``COMMON`` calendar).
    """
    if customers is None or len(customers) == 0 or "country" not in customers.columns:
        return None
    country = customers["country"].fillna("").astype(str).str.strip().str.upper()
    weight = (customers["n_purchases"].astype("float64") if "n_purchases" in customers.columns
              else None)
    if weight is None or float(weight.sum()) <= 0:
        weight = country.map(lambda _: 1.0)
    totals = weight.groupby(country).sum()
    return {str(k): float(v) for k, v in sorted(totals.items()) if v > 0} or None
