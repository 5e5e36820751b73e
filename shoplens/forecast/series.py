"""The ``demand_daily`` input as one array per (series, measure)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from shoplens.forecast.config import LEVELS, MEASURES

REQUIRED_COLUMNS = ("series_level", "series_key", "demand_date", "units", "revenue")
#: optional column: units sold at a discount that day (the promotion regressor)
PROMOTION_COLUMN = "units_on_promotion"


@dataclass
class Series:
    """One daily series: ``values[i]`` is the demand on ``start + i`` days.

    promotion: share of the day's units sold at a discount (None when the
    input has no ``units_on_promotion``); country_weights: customers per
    country, for the holiday regressor; events: the shop's own calendar.
    """

    level: str
    key: str
    measure: str
    start: dt.date
    values: np.ndarray
    promotion: np.ndarray | None = None
    country_weights: Mapping[str, float] | None = None
    events: Mapping[str, frozenset[dt.date]] | None = None


def _validated(demand_daily: pd.DataFrame, end_date: dt.date | None) -> pd.DataFrame:
    """The input's rows up to ``end_date`` with checked levels, measures and keys."""
    missing = [c for c in REQUIRED_COLUMNS if c not in demand_daily.columns]
    if missing:
        raise ValueError(f"demand_daily is missing columns {missing}")
    if demand_daily.empty:
        raise ValueError("demand_daily is empty: nothing to forecast")
    optional = [PROMOTION_COLUMN] if PROMOTION_COLUMN in demand_daily.columns else []
    frame = demand_daily.loc[:, [*REQUIRED_COLUMNS, *optional]].copy()
    unknown = sorted(set(frame["series_level"]) - set(LEVELS))
    if unknown:
        raise ValueError(f"demand_daily has unknown series_level values {unknown}")
    frame["series_key"] = frame["series_key"].astype(str)
    frame["demand_date"] = pd.to_datetime(frame["demand_date"]).dt.normalize()
    end = pd.Timestamp(end_date) if end_date is not None else frame["demand_date"].max()
    frame = frame[frame["demand_date"] <= end]
    if frame.empty:
        raise ValueError(f"demand_daily has no rows on or before {end.date()}")
    for measure in (*MEASURES, *optional):
        values = pd.to_numeric(frame[measure], errors="coerce").astype("float64")
        if not np.isfinite(values).all():
            raise ValueError(f"demand_daily.{measure} has missing or non-finite values")
        if (values < 0).any():
            raise ValueError(f"demand_daily.{measure} has negative values")
        frame[measure] = values
    if frame.duplicated(["series_level", "series_key", "demand_date"]).any():
        raise ValueError("demand_daily has more than one row per series and day")
    frame.attrs["end"] = end
    return frame


#: the days before ``end_date`` (it included) whose revenue ranks the products
SELECTION_WINDOW_DAYS = 365


def _top_products(frame: pd.DataFrame, top_n: int, window_days: int | None) -> pd.DataFrame:
    """The total, every category and the ``top_n`` products by revenue over the last
    ``window_days`` days up to the frame's end (ties by key; by units in a shop without
    money); a product without revenue there is not selected. ``window_days`` None: every
    product, ranked by all its revenue."""
    if window_days is not None:
        return keep_top_products(frame, top_n, frame.attrs["end"], window_days)
    revenue = frame[frame["series_level"] == "product"].groupby("series_key")["revenue"].sum().reset_index()
    top = set(revenue.sort_values(["revenue", "series_key"], ascending=[False, True])["series_key"].head(top_n))
    return frame[(frame["series_level"] != "product") | frame["series_key"].isin(top)]


def keep_top_products(frame: pd.DataFrame, top_n: int, end, window_days: int = SELECTION_WINDOW_DAYS) -> pd.DataFrame:
    """The rows of ``frame`` (demand_daily's columns) of the total, every category and the
    ``top_n`` products of ``top_product_keys`` over the ``window_days`` days up to ``end``."""
    days = pd.to_datetime(frame["demand_date"])
    end = pd.Timestamp(end)
    products = frame[(frame["series_level"] == "product") & (days >= end - pd.Timedelta(days=window_days - 1))
                     & (days <= end)]
    keys = top_product_keys(products.groupby("series_key")[["revenue", "units"]].sum().reset_index(), top_n)
    return frame[(frame["series_level"] != "product") | frame["series_key"].astype(str).isin(keys)]


def top_product_keys(sales: pd.DataFrame, top_n: int) -> list[str]:
    """The ``top_n`` ``series_key`` of a (series_key, revenue, units) frame of products' sales
    by revenue, ties by key, a product without revenue not one (``select_series``' rule, also
    for callers that rank the products before reading their days: a shop of 235,000 products
    reads 100). A shop without money (every price 0.00, no product with revenue) is ranked by
    units instead."""
    sales = sales.assign(series_key=sales["series_key"].astype(str),
                         revenue=sales["revenue"].astype("float64"), units=sales["units"].astype("float64"))
    if (sales["revenue"] > 0).any():  # a shop with money: by revenue, ties by key, as always
        sales = sales[sales["revenue"] > 0].sort_values(["revenue", "series_key"], ascending=[False, True],
                                                        kind="stable")
    else:
        sales = sales[sales["units"] > 0].sort_values(["units", "series_key"], ascending=[False, True],
                                                      kind="stable")
    return list(sales["series_key"].head(top_n))


def select_series(
    demand_daily: pd.DataFrame,
    top_n: int,
    end_date: dt.date | None = None,
    country_weights: Mapping[str, float] | None = None,
    window_days: int | None = SELECTION_WINDOW_DAYS,
    events: Mapping[str, frozenset[dt.date]] | None = None,
) -> list[Series]:
    """Turn ``demand_daily`` into the series to forecast.

    Keeps the total, every category and the ``top_n`` products by revenue over
    the ``window_days`` (365) days up to ``end_date`` (ties by key; by units in a
    shop without money; a product without revenue there is not selected: a product that stopped selling a
    year ago is no top product now, however much it sold before), each for
    units and revenue; ``window_days`` None keeps every product by all its
    revenue. Nothing after ``end_date`` is read. Every series
    runs from its first row to ``end_date`` (default: the last date in the
    data); missing days are read as zero demand and later days are dropped.
    Raises ``ValueError`` on missing columns, unknown levels, negative or
    non-finite demand.
    """
    frame = _validated(demand_daily, end_date)
    end = frame.attrs["end"]
    frame = _top_products(frame, top_n, window_days)
    level_rank = {level: i for i, level in enumerate(LEVELS)}
    groups = sorted(
        frame.groupby(["series_level", "series_key"], sort=False),
        key=lambda item: (level_rank[item[0][0]], item[0][1]),
    )
    out: list[Series] = []
    for (level, key), group in groups:
        group = group.set_index("demand_date").sort_index()
        days = pd.date_range(group.index.min(), end, freq="D")
        group = group.reindex(days, fill_value=0.0)
        promotion = None
        if PROMOTION_COLUMN in group.columns:
            units = group["units"].to_numpy(dtype="float64")
            on_promo = group[PROMOTION_COLUMN].to_numpy(dtype="float64")
            promotion = np.divide(on_promo, units, out=np.zeros_like(units), where=units > 0)
        for measure in MEASURES:
            out.append(Series(str(level), str(key), measure, days[0].date(),
                              group[measure].to_numpy(dtype="float64"), promotion,
                              country_weights, events))
    return out
