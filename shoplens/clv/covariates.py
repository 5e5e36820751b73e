"""Time-invariant customer covariates for the CLV count models: which, and how encoded.

Covariates are customer attributes known at or before the first purchase
(hence before ``as_of_date``), read from ``dim_customers``: any of its columns
by name (``country``, ``first_order_category``, an acquisition channel if the
shop's mart has one) plus ``signup_cohort``, the year of ``signed_up_at`` (of
the first order when the sign-up is unknown). The dbt var ``clv_covariates``
lists them (comma-separated); an empty value disables covariates.

Each covariate is one-hot encoded against its most frequent level (the
reference). Levels held by fewer than ``MIN_LEVEL_CUSTOMERS`` customers or
``MIN_LEVEL_SHARE`` of them are pooled into ``other``, missing values are the
level ``unknown``, and at most ``MAX_LEVELS`` levels are kept per covariate.
A covariate left with one level is dropped (nothing to estimate).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from shoplens.clv.config import ClvConfigError, ClvDataError

DEFAULT_COVARIATES = ("country", "first_order_category")
DERIVED = ("signup_cohort",)
MIN_LEVEL_CUSTOMERS = 50
MIN_LEVEL_SHARE = 0.01
MAX_LEVELS = 12
OTHER = "other"
UNKNOWN = "unknown"


def covariate_names_from_dbt(get: Callable[[str], object]) -> tuple[str, ...]:
    """The covariates named by the dbt var ``clv_covariates``.

    Unset: :data:`DEFAULT_COVARIATES`. An empty value ('' or []) or ``none``
    disables covariates (unlike other vars, where blank means the default).
    """
    raw = get("clv_covariates")
    if raw is None or str(raw).strip() == "None":
        raw = ",".join(DEFAULT_COVARIATES)
    if not isinstance(raw, str | list | tuple):
        raise ClvConfigError(f"dbt var clv_covariates must be a comma-separated list, got {raw!r}.")
    text = ",".join(raw) if isinstance(raw, list | tuple) else raw
    text = text.strip().strip("[]").replace("'", "").replace('"', "")
    names = tuple(n.strip() for n in text.split(",") if n.strip() and n.strip().lower() != "none")
    if len(set(names)) != len(names):
        raise ClvConfigError(f"clv_covariates lists a covariate twice: {names!r}.")
    return names


#: the dim_customers columns ``signup_cohort`` is derived from (see :func:`_signup_cohort`)
SIGNUP_COLUMNS = ("first_order_at", "signed_up_at")


def covariate_columns(names: tuple[str, ...], available: list[str]) -> list[str]:
    """The columns of ``dim_customers`` (``available``) that :func:`customer_covariates`
    reads for the covariates ``names``: ``customer_id``, each named column and, for
    ``signup_cohort``, the dates it is derived from. A name ``available`` lacks is
    left out, for :func:`customer_covariates` to report."""
    wanted = ["customer_id"]
    for name in names:
        wanted.extend(SIGNUP_COLUMNS if name == "signup_cohort" else [name])
    return [c for c in dict.fromkeys(wanted) if c in available]


def customer_covariates(
    customers: pd.DataFrame, names: tuple[str, ...], as_of_date: dt.date
) -> pd.DataFrame:
    """One row per customer: ``customer_id`` and every covariate as a string (None if missing).

    Raises :class:`ClvDataError` naming the column when ``dim_customers``
    lacks a requested covariate. A sign-up after ``as_of_date`` is unknown at
    scoring time and becomes missing (no leakage from the future).
    """
    if "customer_id" not in customers.columns:
        raise ClvDataError("dim_customers lacks column customer_id; rebuild the marts.")
    out = pd.DataFrame({"customer_id": customers["customer_id"].to_numpy()})
    for name in names:
        if name == "signup_cohort":
            out[name] = _signup_cohort(customers, as_of_date)
        elif name in customers.columns:
            col = customers[name]
            out[name] = col.astype("string").where(col.notna(), None).to_numpy(dtype=object)
        else:
            raise ClvDataError(
                f"dim_customers has no column {name!r}, listed in the dbt var clv_covariates."
                f" Fix: name columns of dim_customers (or {', '.join(DERIVED)}), or set clv_covariates: ''."
            )
    return out


def _signup_cohort(customers: pd.DataFrame, as_of_date: dt.date) -> np.ndarray:
    """Year of sign-up (of the first order where the sign-up is unknown); a date after
    ``as_of_date`` counts as unknown."""
    end = pd.Timestamp(as_of_date) + pd.Timedelta(days=1)
    when = pd.Series(pd.NaT, index=customers.index, dtype="datetime64[ns]")
    for col in SIGNUP_COLUMNS:  # sign-up wins where known
        if col in customers.columns:
            stamp = pd.to_datetime(customers[col], errors="coerce")
            if getattr(stamp.dt, "tz", None) is not None:
                stamp = stamp.dt.tz_localize(None)
            stamp = stamp.where(stamp < end)
            when = stamp.where(stamp.notna(), when)
    years = when.dt.year
    return np.where(years.notna(), years.astype("Int64").astype("string"), None).astype(object)


@dataclass(frozen=True)
class CovariateDesign:
    """Kept levels per covariate (reference first) and the one-hot columns they give."""

    levels: tuple[tuple[str, tuple[str, ...]], ...]

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(f"{name}={level}" for name, lv in self.levels for level in lv[1:])

    @property
    def k(self) -> int:
        return len(self.columns)

    def labels(self, covariates: pd.DataFrame) -> pd.DataFrame:
        """Every customer's level per covariate after pooling (missing -> unknown, rare -> other)."""
        out = {}
        for name, lv in self.levels:
            raw = pd.Series(covariates[name].to_numpy(dtype=object)).fillna(UNKNOWN).astype(str)
            out[name] = raw.where(raw.isin(lv), OTHER if OTHER in lv else lv[0]).to_numpy()
        return pd.DataFrame(out)

    def groups(self, covariates: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """(group index per customer, groups x k design matrix)."""
        labels = self.labels(covariates)
        if not self.levels:
            return np.zeros(len(covariates), dtype=np.int64), np.zeros((1, 0))
        codes = labels.groupby(list(labels.columns), sort=True).ngroup().to_numpy()
        first = np.full(codes.max() + 1, -1)
        first[codes[::-1]] = np.arange(len(codes))[::-1]
        combos = labels.iloc[first].reset_index(drop=True)
        design = np.column_stack([
            (combos[name].to_numpy() == level).astype(float)
            for name, lv in self.levels for level in lv[1:]
        ])
        return codes.astype(np.int64), design


def build_design(covariates: pd.DataFrame, names: tuple[str, ...]) -> tuple[CovariateDesign, list[str]]:
    """Choose levels from the data; returns (design, notes on dropped covariates)."""
    n = len(covariates)
    floor = max(MIN_LEVEL_CUSTOMERS, MIN_LEVEL_SHARE * n)
    kept: list[tuple[str, tuple[str, ...]]] = []
    notes: list[str] = []
    for name in names:
        counts = pd.Series(covariates[name].to_numpy(dtype=object)).fillna(UNKNOWN).astype(str).value_counts()
        # largest first, ties by name: the kept levels do not depend on the rows' order
        counts = counts.sort_index(kind="stable").sort_values(ascending=False, kind="stable")
        big = [lv for lv, c in counts.items() if c >= floor][:MAX_LEVELS]
        pooled = int(counts.drop(big).sum())
        levels = big + ([OTHER] if pooled >= floor else [])
        # fewer pooled customers than the floor join the reference level (see labels)
        if len(levels) < 2:
            notes.append(f"{name}: one level after pooling rare ones, dropped")
            continue
        kept.append((name, tuple(levels)))
    return CovariateDesign(tuple(kept)), notes
