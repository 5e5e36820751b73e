"""The ``demand_daily`` input as one array per (series, measure)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from shoplens.forecast.config import LEVELS, MEASURES

REQUIRED_COLUMNS = ("series_level", "series_key", "demand_date", "units", "revenue")


@dataclass
class Series:
    """One daily series: ``values[i]`` is the demand on ``start + i`` days."""

    level: str
    key: str
    measure: str
    start: dt.date
    values: np.ndarray


def select_series(
    demand_daily: pd.DataFrame, top_n: int, end_date: dt.date | None = None
) -> list[Series]:
    """Turn ``demand_daily`` into the series to forecast.

    Keeps the total, every category and the ``top_n`` products by revenue over
    the whole history (ties by key), each for units and revenue. Every series
    runs from its first row to ``end_date`` (default: the last date in the
    data); missing days are read as zero demand and later days are dropped. Raises ``ValueError`` on missing
    columns, unknown levels, negative or non-finite demand.
    """
    missing = [c for c in REQUIRED_COLUMNS if c not in demand_daily.columns]
    if missing:
        raise ValueError(f"demand_daily is missing columns {missing}")
    if demand_daily.empty:
        raise ValueError("demand_daily is empty: nothing to forecast")
    frame = demand_daily.loc[:, list(REQUIRED_COLUMNS)].copy()
    unknown = sorted(set(frame["series_level"]) - set(LEVELS))
    if unknown:
        raise ValueError(f"demand_daily has unknown series_level values {unknown}")
    frame["series_key"] = frame["series_key"].astype(str)
    frame["demand_date"] = pd.to_datetime(frame["demand_date"]).dt.normalize()
    end = pd.Timestamp(end_date) if end_date is not None else frame["demand_date"].max()
    frame = frame[frame["demand_date"] <= end]
    if frame.empty:
        raise ValueError(f"demand_daily has no rows on or before {end.date()}")
    for measure in MEASURES:
        values = pd.to_numeric(frame[measure], errors="coerce").astype("float64")
        if not np.isfinite(values).all():
            raise ValueError(f"demand_daily.{measure} has missing or non-finite values")
        if (values < 0).any():
            raise ValueError(f"demand_daily.{measure} has negative values")
        frame[measure] = values
    if frame.duplicated(["series_level", "series_key", "demand_date"]).any():
        raise ValueError("demand_daily has more than one row per series and day")

    products = frame[frame["series_level"] == "product"]
    revenue = products.groupby("series_key")["revenue"].sum().reset_index()
    revenue = revenue.sort_values(["revenue", "series_key"], ascending=[False, True])
    top = set(revenue["series_key"].head(top_n))
    keep = (frame["series_level"] != "product") | frame["series_key"].isin(top)
    frame = frame[keep]

    out: list[Series] = []
    level_rank = {level: i for i, level in enumerate(LEVELS)}
    groups = sorted(
        frame.groupby(["series_level", "series_key"], sort=False),
        key=lambda item: (level_rank[item[0][0]], item[0][1]),
    )
    for (level, key), group in groups:
        group = group.set_index("demand_date").sort_index()
        days = pd.date_range(group.index.min(), end, freq="D")
        group = group.reindex(days, fill_value=0.0)
        for measure in MEASURES:
            out.append(
                Series(
                    level=str(level),
                    key=str(key),
                    measure=measure,
                    start=days[0].date(),
                    values=group[measure].to_numpy(dtype="float64"),
                )
            )
    return out
