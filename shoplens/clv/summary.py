"""Input checks on the RFM summary and its compression into distinct patterns."""

from __future__ import annotations

import numpy as np
import pandas as pd

from shoplens.clv.config import SUMMARY_COLUMNS, ClvConfig, ClvDataError, ClvDeclined


def validate_summary(summary: pd.DataFrame, config: ClvConfig) -> pd.DataFrame:
    """Check ``customer_btyd_summary`` and return it with clean dtypes.

    Raises :class:`ClvDataError` naming the cause and the fix for missing
    columns, NaNs, impossible values, too few customers, no or too few repeat
    buyers, and negative spend.
    """
    frame = _numeric_frame(summary, config)
    _check_histories(frame)
    x = frame["frequency"].to_numpy()
    frame["frequency"] = np.round(x).astype("int64")
    _check_identifiable(x, frame["monetary_value"].to_numpy(), config)
    return frame


def _numeric_frame(summary: pd.DataFrame, config: ClvConfig) -> pd.DataFrame:
    """The summary's columns as float64 (customer_id as is); missing columns,
    another time unit and non-finite values raise :class:`ClvDataError`."""
    missing = [c for c in SUMMARY_COLUMNS if c not in summary.columns]
    if missing:
        raise ClvDataError(
            f"customer_btyd_summary lacks columns {missing}. Fix: rebuild the marts"
            " (dbt build --select +customer_btyd_summary)."
        )
    # numeric columns are rebuilt below; customer_id is referenced, not copied
    frame = pd.DataFrame({"customer_id": summary["customer_id"].to_numpy()}, copy=False)
    if "time_unit" in summary.columns:
        units = set(summary["time_unit"].dropna().unique())
        if units and units != {config.time_unit}:
            raise ClvDataError(
                f"customer_btyd_summary is in {sorted(units)} but the CLV run expects"
                f" {config.time_unit!r}. Fix: rebuild the summary with the same btyd_time_unit."
            )
    for col in ("frequency", "recency", "T", "monetary_value"):
        column = summary[col]
        if not pd.api.types.is_numeric_dtype(column):
            column = pd.to_numeric(column, errors="coerce")
        values = column.to_numpy(dtype="float64", na_value=np.nan)
        bad = int((~np.isfinite(values)).sum())
        if bad:
            raise ClvDataError(
                f"customer_btyd_summary.{col} has {bad} missing or non-finite values."
                " Fix: check the raw orders feeding customer_btyd_summary."
            )
        frame[col] = values
    if frame["customer_id"].isna().any() or not frame["customer_id"].is_unique:
        raise ClvDataError("customer_btyd_summary.customer_id must be unique and not null.")
    return frame


def _check_histories(frame: pd.DataFrame) -> None:
    """Every (frequency, recency, T) must be a possible purchase history."""
    x, rec, age = (frame[c].to_numpy() for c in ("frequency", "recency", "T"))
    tol = 1e-9
    problems = {
        "frequency is negative or not a whole number": (x < 0) | (np.abs(x - np.round(x)) > tol),
        "recency is negative": rec < -tol,
        "recency exceeds T": rec > age + tol,
        "frequency > 0 but recency = 0": (x > 0) & (rec <= 0),
        "frequency = 0 but recency > 0": (x == 0) & (rec > tol),
    }
    for what, mask in problems.items():
        if mask.any():
            raise ClvDataError(
                f"customer_btyd_summary: {int(mask.sum())} customers where {what}"
                f" (e.g. customer {frame.loc[mask, 'customer_id'].iloc[0]!r})."
                " Fix: recompute the summary; recency and T must be measured from the first purchase day."
            )


def _check_identifiable(x: np.ndarray, m: np.ndarray, config: ClvConfig) -> None:
    """Enough customers, repeat buyers and spend variation to fit the models."""
    n = len(x)
    if n < config.min_customers:
        raise ClvDeclined(
            f"CLV needs at least {config.min_customers} purchasing customers, customer_btyd_summary"
            f" has {n}. Fix: choose a later as_of_date or load more history; for a small test shop"
            " lower the dbt var clv_min_customers."
        )
    repeat = x > 0
    n_repeat = int(repeat.sum())
    if n_repeat == 0:
        raise ClvDeclined(
            f"No repeat buyers: all {n} customers have frequency 0 (one purchase day each), so"
            " BG/NBD and Gamma-Gamma cannot be fitted. Fix: check that orders keep their"
            " customer_id and that as_of_date leaves time for second purchases."
        )
    if n_repeat < config.min_repeat_customers:
        raise ClvDeclined(
            f"Only {n_repeat} of {n} customers bought again; CLV needs at least"
            f" {config.min_repeat_customers} repeat buyers to fit Gamma-Gamma spend."
            " Fix: use a later as_of_date or more history, or lower clv_min_repeat_customers."
        )
    if (m < 0).any():
        raise ClvDataError(
            f"{int((m < 0).sum())} customers have monetary_value < 0; spend is never negative."
            " Fix: rebuild customer_btyd_summary (negative order totals are quarantined by"
            " the rule order_total_negative)."
        )
    # Zero and constant spend are not declines: shoplens.clv.spend serves the
    # limiting constant-value model and says so.


def compress_counts(summary: pd.DataFrame) -> pd.DataFrame:
    """Unique ``(frequency, recency, T)`` patterns with ``weight`` = customers per pattern."""
    uniq, codes = _group(summary["frequency"], summary["recency"], summary["T"])
    out = pd.DataFrame(uniq, columns=["frequency", "recency", "T"])
    out["frequency"] = out["frequency"].astype("int64")
    out["weight"] = np.bincount(codes, minlength=len(out)).astype("int64")
    return out


def compress_spend(summary: pd.DataFrame) -> pd.DataFrame:
    """Unique ``(frequency, monetary_value)`` of repeat buyers with positive spend, with ``weight``.

    Gamma-Gamma models positive spend only (lifetimes' convention): a repeat
    buyer whose repeat purchase days all total 0.00 counts for the purchase
    models but not for the spend fit.
    """
    repeat = summary.loc[(summary["frequency"] > 0) & (summary["monetary_value"] > 0)]
    grouped = repeat.groupby(["frequency", "monetary_value"], sort=True).size()
    out = grouped.reset_index(name="weight")
    out["weight"] = out["weight"].astype("int64")
    return out

def _group(*columns) -> tuple[np.ndarray, np.ndarray]:
    """Unique rows of (frequency, recency, T)-like columns and each row's index into them.

    Ages measured in whole days (days, or days / 7 for weeks) are packed into
    one integer key and factorised (~0.1 s at a million rows); other values
    fall back to a pandas grouping on the floats. The unique rows come out
    sorted, so they (and every simulation drawn over them, such as the CLV
    intervals) do not depend on the order of the input rows.
    """
    values = np.column_stack([np.asarray(c, dtype=float) for c in columns])
    sevenths = np.round(values * 7.0)
    if len(values) and np.all(np.abs(values * 7.0 - sevenths) < 1e-6) and sevenths.min() >= 0:
        ints = sevenths.astype(np.int64)
        base = ints.max(axis=0) + 1
        if np.prod(base.astype(float)) < 2**62:
            key = np.zeros(len(values), dtype=np.int64)
            for j in range(values.shape[1]):
                key = key * base[j] + ints[:, j]
            codes, _ = pd.factorize(key, sort=True)
        else:
            codes = None
    else:
        codes = None
    if codes is None:
        frame = pd.DataFrame(values)
        codes = frame.groupby(list(frame.columns), sort=True).ngroup().to_numpy()
    first = np.full(codes.max() + 1 if len(codes) else 0, -1)
    first[codes[::-1]] = np.arange(len(codes))[::-1]
    return values[first], codes
