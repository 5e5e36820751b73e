"""Features at one cut-off (:class:`Snapshot`) and window counts."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pandas as pd

from shoplens.propensity.history import History, _date_to_day


@dataclasses.dataclass
class Snapshot:
    """Features of the customers known at one cut-off (internal)."""

    cutoff_day: int
    index: np.ndarray  # customer index into History
    seq: np.ndarray  # (n, W, C) float32 raw counts / revenue
    n_weeks: np.ndarray  # (n,) weeks observed (<= W)
    static: pd.DataFrame  # numeric statics + country + first_category
    frequency: np.ndarray  # purchase days after the first (BTYD x)
    recency_days: np.ndarray  # first to last purchase day
    age_days: np.ndarray  # first purchase day to cut-off (BTYD T)
    days_since_last: np.ndarray
    n_purchase_days: np.ndarray
    revenue_total: np.ndarray


def _bins(cust_pos: np.ndarray, day: np.ndarray, n: int, cutoff: int, weeks: int) -> tuple[np.ndarray, np.ndarray]:
    """(rows kept, their flat bin ``customer * weeks + week``); week weeks-1 ends on the cut-off."""
    age = cutoff - day
    keep = (age >= 0) & (age < 7 * weeks) & (cust_pos >= 0)
    return keep, cust_pos[keep] * weeks + (weeks - 1 - age[keep] // 7)


def _weekly(flat: np.ndarray, weights: np.ndarray, n: int, weeks: int) -> np.ndarray:
    """Sum ``weights`` (one per kept row, in ``flat``'s order) into (n, weeks) bins."""
    return np.bincount(flat, weights=weights, minlength=n * weeks).reshape(n, weeks).astype("float32")


def snapshot(history: History, cutoff: dt.date | int, weeks: int, only: np.ndarray | None = None,
             sequences: bool = True) -> Snapshot:
    """Features of every customer born on or before ``cutoff`` (data <= cutoff only).

    ``only``: optional boolean mask over the history's customers to restrict to.
    ``sequences=False``: no weekly sequences (``seq`` has zero weeks): the purchase summary
    and statics of a whole population at little memory (what BG/NBD is fitted on).
    """
    c = cutoff if isinstance(cutoff, int | np.integer) else _date_to_day(cutoff)
    c = int(c)
    born = history.birth_day <= c
    index = np.flatnonzero(born if only is None else born & only)
    n = len(index)
    pos = np.full(len(history.customer_ids), -1, dtype="int64")
    pos[index] = np.arange(n)
    if sequences:
        seq = _sequences(history, pos, n, c, weeks)
    else:
        seq = np.zeros((n, 0, len(history.channels)), dtype="float32")
    tenure = c - history.birth_day[index]
    p = _purchase_totals(history, pos, n, c)
    days_since_last = np.where(p["has"], c - p["last"], tenure)
    signup = history.signup_day[index]
    since_signup = np.where((signup >= 0) & (signup <= c), c - signup, tenure)
    static = pd.DataFrame(
        {
            "log_tenure_days": np.log1p(tenure),
            "log_days_since_last_purchase": np.log1p(days_since_last),
            "has_purchased": p["has"].astype("float64"),
            "log_n_purchase_days_total": np.log1p(p["n_days"]),
            "log_revenue_total": np.log1p(np.maximum(p["revenue"], 0.0)),
            "log_days_since_signup": np.log1p(since_signup),
            "country": history.country[index],
            # the first-order category is only known once the first order happened
            "first_category": np.where(p["has"], history.first_category[index], ""),
            **_event_statics(history, pos, n, c, tenure),
        }
    )
    return Snapshot(
        cutoff_day=c, index=index, seq=seq, n_weeks=np.minimum(tenure // 7 + 1, weeks).astype("int64"),
        static=static, frequency=np.maximum(p["n_days"] - 1, 0),
        recency_days=(p["last"] - p["first"]).astype("float64"), age_days=(c - p["first"]).astype("float64"),
        days_since_last=days_since_last.astype("float64"), n_purchase_days=p["n_days"], revenue_total=p["revenue"],
    )


def _sequences(history: History, pos: np.ndarray, n: int, c: int, weeks: int) -> np.ndarray:
    """(n, weeks, channels) weekly sums ending on the cut-off; events after it count nowhere."""
    seq = np.zeros((n, weeks, len(history.channels)), dtype="float32")
    # each row set's mask and bins are computed once and shared by its channels
    keep, flat = _bins(pos[history.p_cust], history.p_day, n, c, weeks)
    seq[:, :, 0] = _weekly(flat, np.ones(len(flat)), n, weeks)
    seq[:, :, 1] = _weekly(flat, history.p_revenue[keep], n, weeks)
    if history.has_events:
        sc = pos[history.s_cust]
        if history.s_seen is not None:
            sc = np.where(history.s_seen <= c, sc, -1)
        keep, flat = _bins(sc, history.s_day, n, c, weeks)
        counts = history.s_counts[keep]
        for k in range(4):
            seq[:, :, 2 + k] = _weekly(flat, counts[:, k].astype("float64"), n, weeks)
    return seq


def _purchase_totals(history: History, pos: np.ndarray, n: int, c: int) -> dict[str, np.ndarray]:
    """Purchase days, revenue, first and last purchase day (the cut-off when none) up to ``c``."""
    pc = pos[history.p_cust]
    keep = (history.p_day <= c) & (pc >= 0)
    pcb, pdb, prb = pc[keep], history.p_day[keep], history.p_revenue[keep]
    n_days = np.bincount(pcb, minlength=n).astype("float64")
    revenue = np.bincount(pcb, weights=prb, minlength=n)
    last = np.full(n, -1, dtype="int64")
    np.maximum.at(last, pcb, pdb)
    first = np.full(n, np.iinfo("int64").max, dtype="int64")
    np.minimum.at(first, pcb, pdb)
    has = n_days > 0
    return {"n_days": n_days, "revenue": revenue, "has": has,
            "first": np.where(has, first, c), "last": np.where(has, last, c)}


def _event_statics(history: History, pos: np.ndarray, n: int, c: int, tenure: np.ndarray) -> dict:
    """log days since the last session and the last add-to-cart (shops with events only)."""
    if not history.has_events:
        return {}
    sc = pos[history.s_cust]
    seen = (history.s_day <= c) & (sc >= 0)
    if history.s_seen is not None:
        seen &= history.s_seen <= c
    out = {}
    for name, kind in (("log_days_since_last_session", 0), ("log_days_since_last_cart", 2)):
        m = seen & (history.s_counts[:, kind] > 0)
        last_s = np.full(n, -1, dtype="int64")
        np.maximum.at(last_s, sc[m], history.s_day[m])
        out[name] = np.log1p(np.where(last_s >= 0, c - last_s, tenure + 1))
    return out


def window_counts(history: History, index: np.ndarray, start_day: int, end_day: int) -> np.ndarray:
    """Purchase days of customers ``index`` in ``start_day .. end_day`` (inclusive)."""
    pos = np.full(len(history.customer_ids), -1, dtype="int64")
    pos[index] = np.arange(len(index))
    pc = pos[history.p_cust]
    keep = (history.p_day >= start_day) & (history.p_day <= end_day) & (pc >= 0)
    return np.bincount(pc[keep], minlength=len(index)).astype("float64")


def _rows(s: Snapshot, rows: slice | np.ndarray) -> Snapshot:
    """Rows of a snapshot: a slice (numpy views, no copy of the sequence) or a boolean mask."""
    return Snapshot(
        cutoff_day=s.cutoff_day,
        index=s.index[rows],
        seq=s.seq[rows],
        n_weeks=s.n_weeks[rows],
        static=s.static.iloc[rows].reset_index(drop=True),
        frequency=s.frequency[rows],
        recency_days=s.recency_days[rows],
        age_days=s.age_days[rows],
        days_since_last=s.days_since_last[rows],
        n_purchase_days=s.n_purchase_days[rows],
        revenue_total=s.revenue_total[rows],
    )
