"""Purchase propensity: a GRU over weekly customer histories, with baselines.

For every customer known at a cut-off date, predict the probability of at
least one purchase in the next ``window_days`` days (default 30) and the
expected number of purchases in that window, from the customer's weekly
sequence of behaviour (purchase days, revenue and, when the shop has web
events, sessions, product views, add-to-carts and checkouts) plus a few static
features (tenure, recency, totals, country, first-order category).

Definitions used everywhere in this module:

* A *purchase* is a UTC calendar day with at least one completed order
  (``is_purchase``), as in the BTYD summary: two orders on one day count once.
* A cut-off ``c`` (a date) sees data up to and including ``c``; its label
  window is ``c + 1 .. c + window_days``.
* Week ``W-1`` of a sequence is the 7 days ending on the cut-off, week ``W-2``
  the 7 days before, and so on. Weeks that end before the customer's birth
  (first purchase or sign-up, whichever is earlier) are masked.

The GRU is trained on labels from earlier cut-offs (rolled back in steps from
the training end), never on data after the training end. Three baselines are
scored on the same customers: BG/NBD's probability of a purchase in the window
(fitted by shoplens.clv on the history up to the scoring cut-off, served as its
no-drop-out limit NBD when the estimate sits at that boundary), an RFM
heuristic (the repeat rate each RFM cell showed at the training cut-offs), a
logistic regression on the same features, summarised over 1/4/13/52 weeks, and
the naive rate (each customer's past repeat-purchase rate carried forward). A
baseline that cannot be fitted is dropped with its reason (``baseline_notes``);
it never takes the step down.

Public functions take and return pandas DataFrames; TensorFlow is imported
only when a network is built, trained or loaded.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import math
import os
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from shoplens import __version__
from shoplens.status import StepDeclined

#: Sequence channels built from orders (always present).
ORDER_CHANNELS: tuple[str, ...] = ("n_purchase_days", "revenue")
#: Sequence channels built from web sessions (present when the shop has events).
EVENT_CHANNELS: tuple[str, ...] = (
    "n_sessions",
    "n_product_views",
    "n_add_to_carts",
    "n_checkouts",
)
#: Numeric static features (country and first-order category are one-hot on top).
STATIC_NUMERIC: tuple[str, ...] = (
    "log_tenure_days",
    "log_days_since_last_purchase",
    "has_purchased",
    "log_n_purchase_days_total",
    "log_revenue_total",
    "log_days_since_signup",
)
#: Static features added when the shop has events (days at daily resolution).
EVENT_STATIC: tuple[str, ...] = ("log_days_since_last_session", "log_days_since_last_cart")
#: Weeks over which the logistic regression summarises each channel.
LOGREG_WEEKS: tuple[int, ...] = (1, 4, 13, 52)

#: Training needs at least this many positive and negative labels ...
MIN_POSITIVE_LABELS = 20
MIN_NEGATIVE_LABELS = 20
#: ... and each training cut-off at least this many days of orders before it.
MIN_HISTORY_DAYS = 28

MODEL_NAMES = ("rnn_gru", "bgnbd", "rfm_heuristic", "logreg", "naive_rate")
_MASK_VALUE = -99.0
_EPOCH = np.datetime64("1970-01-01", "D")


class InsufficientHistoryError(ValueError, StepDeclined):
    """Raised when the data are too short or too sparse to train the model (the step declines)."""


@dataclasses.dataclass(frozen=True)
class PropensityConfig:
    """Settings of one propensity run (units in the names)."""

    window_days: int = 30
    sequence_weeks: int = 52
    #: Length of the label window of the training cut-offs; None: window_days.
    #: When shorter than window_days, probabilities are carried to the
    #: prediction window under a constant-hazard assumption (see docs).
    train_window_days: int | None = None
    n_cutoffs: int = 12
    cutoff_step_days: int = 14
    max_train_customers: int = 200_000
    #: Cap on customer x cut-off training rows (sampled with the seed).
    max_train_rows: int = 400_000
    validation_fraction: float = 0.2
    gru_units: int = 32
    dense_units: int = 32
    #: Dropout on the joint (GRU + static) layer, against over-fitting small shops.
    dropout: float = 0.3
    batch_size: int = 512
    max_epochs: int = 40
    patience: int = 4
    learning_rate: float = 2e-3
    #: Cap on the positive-class weight (weight = n_negative / n_positive).
    max_positive_weight: float = 20.0
    count_loss_weight: float = 0.5
    #: Stop training before an epoch that would end after this many seconds
    #: of fitting (None: no limit); the best epoch so far is kept.
    max_train_seconds: float | None = None
    seed: int = 42
    threads: int = 2

    @property
    def label_window_days(self) -> int:
        return int(self.train_window_days or self.window_days)

    def validate(self) -> None:
        if self.window_days < 1:
            raise ValueError(f"window_days must be >= 1, got {self.window_days}")
        if self.label_window_days < 1:
            raise ValueError(f"train_window_days must be >= 1, got {self.train_window_days}")
        if self.sequence_weeks < 4:
            raise ValueError(f"sequence_weeks must be >= 4, got {self.sequence_weeks}")
        if self.n_cutoffs < 1 or self.cutoff_step_days < 1:
            raise ValueError("n_cutoffs and cutoff_step_days must be >= 1")
        if not 0.0 < self.validation_fraction < 0.5:
            raise ValueError(
                f"validation_fraction must be in (0, 0.5), got {self.validation_fraction}"
            )


# ---------------------------------------------------------------------------
# Inputs: day-level activity per customer
# ---------------------------------------------------------------------------


def _to_day(values: pd.Series) -> np.ndarray:
    """Days since 1970-01-01 (int64) of timestamps or dates, UTC calendar day."""
    ts = pd.to_datetime(values, utc=True, errors="raise")
    days = ts.dt.floor("D").dt.tz_localize(None).to_numpy(dtype="datetime64[D]")
    return (days - _EPOCH).astype("int64")


def _day_to_date(day: int) -> dt.date:
    return (dt.date(1970, 1, 1) + dt.timedelta(days=int(day)))


def _date_to_day(value: dt.date | str | pd.Timestamp) -> int:
    return int((np.datetime64(pd.Timestamp(value).date(), "D") - _EPOCH).astype("int64"))


def _require(frame: pd.DataFrame, name: str, columns: Sequence[str]) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"{name} must be a pandas DataFrame, got {type(frame).__name__}")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{name} is missing required columns {missing}; it has {list(frame.columns)}")


@dataclasses.dataclass
class History:
    """Day-level activity of every customer, indexed 0..n-1 (internal)."""

    customer_ids: np.ndarray
    birth_day: np.ndarray  # first purchase or sign-up day, whichever is earlier
    signup_day: np.ndarray  # -1 when unknown
    first_purchase_day: np.ndarray  # large when never
    country: np.ndarray  # str
    first_category: np.ndarray  # str ("" when none)
    p_cust: np.ndarray  # purchase days: customer index
    p_day: np.ndarray  # purchase days: day
    p_revenue: np.ndarray  # purchase days: revenue that day
    s_cust: np.ndarray  # sessions: customer index
    s_day: np.ndarray
    s_counts: np.ndarray  # (n_sessions, 4): 1, product views, add-to-carts, checkouts
    first_data_day: int
    last_data_day: int
    s_seen: np.ndarray | None = None  # day of each session row's events (None: its start day)

    @property
    def has_events(self) -> bool:
        return len(self.s_cust) > 0

    @property
    def channels(self) -> tuple[str, ...]:
        return ORDER_CHANNELS + (EVENT_CHANNELS if self.has_events else ())


def prepare_history(
    orders: pd.DataFrame,
    sessions: pd.DataFrame | None,
    customers: pd.DataFrame,
) -> History:
    """Collect the day-level activity the features are built from.

    ``orders``: fct_orders columns customer_id, ordered_at, order_total,
    is_purchase (other statuses are ignored). ``sessions``: fct_sessions
    columns customer_id, started_at, n_product_views, n_add_to_carts,
    n_checkouts, or None/empty (orders-only shop); with a column
    ``activity_date`` each row is one session's events of that day
    (int_session_days), so a snapshot counts only the events on or before
    its cut-off (the point-in-time rule). ``customers``:
    dim_customers columns customer_id, country, first_order_category,
    signed_up_at. Customers who appear in orders but not in ``customers`` are
    added with unknown country and sign-up.
    """
    _require(orders, "orders", ["customer_id", "ordered_at", "order_total", "is_purchase"])
    _require(customers, "customers", ["customer_id", "country", "first_order_category", "signed_up_at"])
    purchases = orders.loc[orders["is_purchase"].fillna(False).astype(bool)]
    purchases = purchases.loc[purchases["customer_id"].notna()]
    if purchases.empty:
        raise InsufficientHistoryError(
            "orders hold no completed purchase (is_purchase) up to as_of_date: nothing to learn from."
            " Fix: use a later as_of_date, or check the status column of the raw orders"
        )

    cust = customers.drop_duplicates("customer_id")
    cust = cust.loc[cust["customer_id"].notna()]
    ids = pd.Index(pd.unique(pd.concat([cust["customer_id"], purchases["customer_id"]], ignore_index=True)))
    n = len(ids)

    p_cust_raw = ids.get_indexer(purchases["customer_id"])
    p_day_raw = _to_day(purchases["ordered_at"])
    revenue = pd.to_numeric(purchases["order_total"], errors="coerce").fillna(0.0).to_numpy(float)
    day_level = (
        pd.DataFrame({"c": p_cust_raw, "d": p_day_raw, "r": revenue})
        .groupby(["c", "d"], sort=True, as_index=False)["r"].sum()
    )
    p_cust = day_level["c"].to_numpy("int64")
    p_day = day_level["d"].to_numpy("int64")
    p_rev = day_level["r"].to_numpy("float64")

    big = np.iinfo("int64").max // 4
    first_purchase = np.full(n, big, dtype="int64")
    np.minimum.at(first_purchase, p_cust, p_day)

    signup = np.full(n, -1, dtype="int64")
    cidx = ids.get_indexer(cust["customer_id"])
    signed = cust["signed_up_at"].notna().to_numpy()
    if signed.any():
        signup[cidx[signed]] = _to_day(cust.loc[signed, "signed_up_at"])
    birth = np.where(signup >= 0, np.minimum(signup, first_purchase), first_purchase)

    country = np.full(n, "unknown", dtype=object)
    country[cidx] = cust["country"].fillna("unknown").astype(str).to_numpy()
    category = np.full(n, "", dtype=object)
    category[cidx] = cust["first_order_category"].fillna("").astype(str).to_numpy()

    s_cust = np.zeros(0, dtype="int64")
    s_day = np.zeros(0, dtype="int64")
    s_counts = np.zeros((0, 4), dtype="float32")
    s_seen = None
    if sessions is not None and len(sessions) > 0:
        _require(
            sessions,
            "sessions",
            ["customer_id", "started_at", "n_product_views", "n_add_to_carts", "n_checkouts"],
        )
        known = sessions.loc[sessions["customer_id"].notna()]
        sc = ids.get_indexer(known["customer_id"])
        keep = sc >= 0  # sessions of customers unknown to dim_customers are dropped
        known = known.loc[keep]
        s_cust = sc[keep].astype("int64")
        s_day = _to_day(known["started_at"])
        if "activity_date" in known.columns:
            s_seen = _to_day(known["activity_date"])
        first_row = np.ones(len(known), dtype="float32") if s_seen is None else (s_seen == s_day).astype("float32")
        s_counts = np.column_stack(
            [
                first_row,
                known["n_product_views"].fillna(0).to_numpy("float32"),
                known["n_add_to_carts"].fillna(0).to_numpy("float32"),
                known["n_checkouts"].fillna(0).to_numpy("float32"),
            ]
        )
    return History(
        customer_ids=ids.to_numpy(),
        birth_day=birth,
        signup_day=signup,
        first_purchase_day=first_purchase,
        country=country,
        first_category=category,
        p_cust=p_cust,
        p_day=p_day,
        p_revenue=p_rev,
        s_cust=s_cust,
        s_day=s_day,
        s_counts=s_counts,
        first_data_day=int(p_day.min()),
        last_data_day=int(p_day.max()),
        s_seen=s_seen,
    )


# ---------------------------------------------------------------------------
# Features at one cut-off
# ---------------------------------------------------------------------------


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


def _weekly(cust_pos: np.ndarray, day: np.ndarray, weights: np.ndarray, n: int, cutoff: int, weeks: int) -> np.ndarray:
    """Sum ``weights`` into (n, weeks) bins; week weeks-1 ends on the cut-off."""
    age = cutoff - day
    keep = (age >= 0) & (age < 7 * weeks) & (cust_pos >= 0)
    flat = cust_pos[keep] * weeks + (weeks - 1 - age[keep] // 7)
    out = np.bincount(flat, weights=weights[keep], minlength=n * weeks)
    return out.reshape(n, weeks).astype("float32")


def snapshot(history: History, cutoff: dt.date | int, weeks: int, only: np.ndarray | None = None) -> Snapshot:
    """Features of every customer born on or before ``cutoff`` (data <= cutoff only).

    ``only``: optional boolean mask over the history's customers to restrict to.
    """
    c = cutoff if isinstance(cutoff, int | np.integer) else _date_to_day(cutoff)
    c = int(c)
    born = history.birth_day <= c
    index = np.flatnonzero(born if only is None else born & only)
    n = len(index)
    pos = np.full(len(history.customer_ids), -1, dtype="int64")
    pos[index] = np.arange(n)

    channels = history.channels
    seq = np.zeros((n, weeks, len(channels)), dtype="float32")
    pc = pos[history.p_cust]
    seq[:, :, 0] = _weekly(pc, history.p_day, np.ones(len(pc)), n, c, weeks)
    seq[:, :, 1] = _weekly(pc, history.p_day, history.p_revenue, n, c, weeks)
    if history.has_events:
        sc = pos[history.s_cust]
        if history.s_seen is not None:
            sc = np.where(history.s_seen <= c, sc, -1)  # events after the cut-off count nowhere
        for k in range(4):
            seq[:, :, 2 + k] = _weekly(sc, history.s_day, history.s_counts[:, k].astype("float64"), n, c, weeks)
    tenure = c - history.birth_day[index]
    n_weeks = np.minimum(tenure // 7 + 1, weeks)

    before = history.p_day <= c
    pcb, pdb, prb = pc[before], history.p_day[before], history.p_revenue[before]
    valid = pcb >= 0
    pcb, pdb, prb = pcb[valid], pdb[valid], prb[valid]
    n_days = np.bincount(pcb, minlength=n).astype("float64")
    revenue = np.bincount(pcb, weights=prb, minlength=n)
    last = np.full(n, -1, dtype="int64")
    np.maximum.at(last, pcb, pdb)
    first = np.full(n, np.iinfo("int64").max, dtype="int64")
    np.minimum.at(first, pcb, pdb)
    has = n_days > 0
    first = np.where(has, first, c)
    last = np.where(has, last, c)
    days_since_last = np.where(has, c - last, tenure)
    signup = history.signup_day[index]
    since_signup = np.where((signup >= 0) & (signup <= c), c - signup, tenure)

    event_static = {}
    if history.has_events:
        sc = pos[history.s_cust]
        seen = (history.s_day <= c) & (sc >= 0)
        if history.s_seen is not None:
            seen &= history.s_seen <= c
        for name, kind in (("log_days_since_last_session", 0), ("log_days_since_last_cart", 2)):
            m = seen & (history.s_counts[:, kind] > 0)
            last_s = np.full(n, -1, dtype="int64")
            np.maximum.at(last_s, sc[m], history.s_day[m])
            event_static[name] = np.log1p(np.where(last_s >= 0, c - last_s, tenure + 1))
    static = pd.DataFrame(
        {
            "log_tenure_days": np.log1p(tenure),
            "log_days_since_last_purchase": np.log1p(days_since_last),
            "has_purchased": has.astype("float64"),
            "log_n_purchase_days_total": np.log1p(n_days),
            "log_revenue_total": np.log1p(np.maximum(revenue, 0.0)),
            "log_days_since_signup": np.log1p(since_signup),
            "country": history.country[index],
            # the first-order category is only known once the first order happened
            "first_category": np.where(has, history.first_category[index], ""),
            **event_static,
        }
    )
    return Snapshot(
        cutoff_day=c,
        index=index,
        seq=seq,
        n_weeks=n_weeks.astype("int64"),
        static=static,
        frequency=np.maximum(n_days - 1, 0),
        recency_days=(last - first).astype("float64"),
        age_days=(c - first).astype("float64"),
        days_since_last=days_since_last.astype("float64"),
        n_purchase_days=n_days,
        revenue_total=revenue,
    )


def window_counts(history: History, index: np.ndarray, start_day: int, end_day: int) -> np.ndarray:
    """Purchase days of customers ``index`` in ``start_day .. end_day`` (inclusive)."""
    pos = np.full(len(history.customer_ids), -1, dtype="int64")
    pos[index] = np.arange(len(index))
    pc = pos[history.p_cust]
    keep = (history.p_day >= start_day) & (history.p_day <= end_day) & (pc >= 0)
    return np.bincount(pc[keep], minlength=len(index)).astype("float64")


# ---------------------------------------------------------------------------
# Encoding (normalisation statistics are part of the saved model)
# ---------------------------------------------------------------------------


@dataclasses.dataclass
class Encoder:
    """Turns snapshots into network / regression inputs with frozen statistics."""

    channels: list[str]
    weeks: int
    seq_mean: list[float]
    seq_std: list[float]
    countries: list[str]
    categories: list[str]
    static_names: list[str]
    static_mean: list[float]
    static_std: list[float]

    @classmethod
    def fit(cls, snaps: Sequence[Snapshot], channels: Sequence[str], weeks: int,
            max_countries: int = 10, max_categories: int = 15) -> Encoder:
        seqs, statics = [], []
        for s in snaps:
            m = np.arange(weeks)[None, :] >= (weeks - s.n_weeks)[:, None]
            seqs.append(np.log1p(np.maximum(s.seq[m], 0.0)))
            statics.append(s.static[["country", "first_category"]])
        flat = np.concatenate(seqs, axis=0)
        st = pd.concat(statics, ignore_index=True)
        countries = st["country"].value_counts().index[:max_countries].tolist()
        categories = [c for c in st["first_category"].value_counts().index if c][:max_categories]
        enc = cls(
            channels=list(channels),
            weeks=weeks,
            seq_mean=flat.mean(axis=0).tolist(),
            seq_std=np.maximum(flat.std(axis=0), 1e-3).tolist(),
            countries=[str(c) for c in countries],
            categories=[str(c) for c in categories],
            static_names=[],
            static_mean=[],
            static_std=[],
        )
        raw = pd.concat([enc._static_raw(s) for s in snaps], ignore_index=True)
        enc.static_names = list(raw.columns)
        enc.static_mean = raw.mean(axis=0).tolist()
        enc.static_std = np.maximum(raw.std(axis=0, ddof=0).to_numpy(), 1e-3).tolist()
        return enc

    def _static_raw(self, snap: Snapshot) -> pd.DataFrame:
        """Per-customer vector: channel sums over 1/4/13/W weeks (log1p), statics, one-hots."""
        static = snap.static
        cols: dict[str, np.ndarray] = {}
        for w in sorted({min(k, self.weeks) for k in LOGREG_WEEKS}):
            sums = np.log1p(np.maximum(snap.seq[:, -w:, :].sum(axis=1), 0.0))
            for j, ch in enumerate(self.channels):
                cols[f"{ch}_{w}w"] = sums[:, j].astype("float64")
        for c in STATIC_NUMERIC + EVENT_STATIC:
            if c in static.columns:
                cols[c] = static[c].to_numpy("float64")
        for c in self.countries:
            cols[f"country={c}"] = (static["country"] == c).to_numpy("float64")
        for c in self.categories:
            cols[f"first_category={c}"] = (static["first_category"] == c).to_numpy("float64")
        return pd.DataFrame(cols)

    def static(self, snap: Snapshot) -> np.ndarray:
        """Standardised per-customer vector: the network's wide input and the regression's input."""
        raw = self._static_raw(snap)
        if list(raw.columns) != self.static_names:
            raise ValueError(f"features {list(raw.columns)} differ from the model's {self.static_names}")
        x = raw.to_numpy("float64")
        return ((x - np.asarray(self.static_mean)) / np.asarray(self.static_std)).astype("float32")

    def sequence(self, snap: Snapshot) -> np.ndarray:
        """Log, standardise, and set weeks before birth to the mask value."""
        x = np.maximum(snap.seq, 0.0, dtype="float32")
        np.log1p(x, out=x)
        x -= np.asarray(self.seq_mean, dtype="float32")
        x /= np.asarray(self.seq_std, dtype="float32")
        masked = np.arange(self.weeks)[None, :] < (self.weeks - snap.n_weeks)[:, None]
        x[masked] = _MASK_VALUE
        return x.astype("float32", copy=False)

    def summary(self, snap: Snapshot) -> np.ndarray:
        """Logistic-regression inputs: the same standardised vector as the network's wide input."""
        return self.static(snap)

    def to_json(self) -> dict:
        return dataclasses.asdict(self)


# ---------------------------------------------------------------------------
# Baselines
# ---------------------------------------------------------------------------


def bgnbd_window_probability(r: float, alpha: float, a: float, b: float,
                             frequency: np.ndarray, recency: np.ndarray, T: np.ndarray,
                             t: float) -> tuple[np.ndarray, np.ndarray]:
    """BG/NBD P(at least one purchase in (T, T + t]) and P(alive at T).

    In BG/NBD a customer can only drop out right after a purchase, so with no
    purchase in the window nobody drops out during it. Given alive at T, the
    purchase rate's posterior is Gamma(r + x, alpha + T), hence
    P(no purchase in t | alive) = ((alpha + T) / (alpha + T + t)) ** (r + x) and
    P(>= 1) = P(alive) * (1 - that). For x = 0 and T = 0 this is 1 minus
    lifetimes' ``probability_of_n_purchases_up_to_time(t, 0)``. Same time unit
    for recency, T and t as the parameters.
    """
    x = np.asarray(frequency, dtype="float64")
    tx = np.asarray(recency, dtype="float64")
    TT = np.asarray(T, dtype="float64")
    # P(alive | x, tx, T) (Fader, Hardie & Lee 2005, eq. in log space)
    log_div = (r + x) * np.log((alpha + TT) / (alpha + tx)) + np.log(a / np.maximum(b + x - 1, 1e-12))
    p_alive = np.where(x > 0, 1.0 / (1.0 + np.exp(np.clip(log_div, -700, 700))), 1.0)
    p_none = np.exp((r + x) * (np.log(alpha + TT) - np.log(alpha + TT + t)))
    return p_alive * (1.0 - p_none), p_alive


def fit_bgnbd(snap: Snapshot, window_days: int) -> tuple[dict, np.ndarray, np.ndarray]:
    """Fit BG/NBD (weeks) on the purchasers of ``snap`` with shoplens.clv; score their window.

    The one CLV fitter and its selection rule: BG/NBD, or NBD when BG/NBD's
    estimate sits at the no-drop-out boundary (``info["model_name"]`` says
    which). Returns (parameters and diagnostics, P(purchase in window),
    expected purchases in window), the arrays aligned with ``snap`` (NaN for
    customers without a purchase, for whom BG/NBD has no birth yet). Raises
    :class:`InsufficientHistoryError` or shoplens.clv's errors when it cannot
    be fitted; :func:`score_snapshot` drops the baseline then.
    """
    from shoplens import clv

    has = snap.n_purchase_days > 0
    freq = snap.frequency[has]
    rec = snap.recency_days[has] / 7.0
    T = snap.age_days[has] / 7.0
    if (freq > 0).sum() < 5 or len(np.unique(T)) < 3:
        raise InsufficientHistoryError(
            f"BG/NBD needs at least 5 repeat purchasers at the cut-off, got {int((freq > 0).sum())}"
        )
    frame = pd.DataFrame({"frequency": freq.astype("int64"), "recency": rec, "T": T})
    counts = clv.compress_counts(frame)
    config = clv.ClvConfig(time_unit="weeks", candidates=("bgnbd",))
    models, excluded = clv.fit_count_models(counts, config)
    name = "bgnbd" if "bgnbd" in models else clv.LIMIT_MODEL
    model = models[name]
    p = model.params
    t = window_days / 7.0
    prob, _ = btyd_window_probability(name, p, freq, rec, T, t)
    expected = clv.expected_purchases(name, p, t, freq, rec, T)
    out_p = np.full(len(has), np.nan)
    out_e = np.full(len(has), np.nan)
    out_p[has] = np.clip(prob, 0.0, 1.0)
    out_e[has] = np.maximum(np.asarray(expected, dtype="float64"), out_p[has])
    info = {k: float(v) for k, v in p.items()}
    info["model_name"] = name
    info["note"] = excluded.get("bgnbd", "")
    info["log_likelihood"] = model.log_likelihood
    info["n_customers"] = int(has.sum())
    return info, out_p, out_e


def btyd_window_probability(name: str, p: dict[str, float], frequency, recency, T, t: float):
    """P(at least one purchase in (T, T + t]) and P(alive) under BG/NBD or its NBD limit."""
    if name == "bgnbd":
        return bgnbd_window_probability(p["r"], p["alpha"], p["a"], p["b"], frequency, recency, T, t)
    x = np.asarray(frequency, dtype="float64")
    TT = np.asarray(T, dtype="float64")
    p_none = np.exp((p["r"] + x) * (np.log(p["alpha"] + TT) - np.log(p["alpha"] + TT + t)))
    return 1.0 - p_none, np.ones_like(x)


def naive_rate_scores(snap: Snapshot, window_days: int) -> tuple[np.ndarray, np.ndarray]:
    """Naive rate: each purchaser's repeat purchase days per day since the first,
    carried forward over the window (expected purchases), and the Poisson
    probability of at least one. NaN for customers without a purchase."""
    has = snap.n_purchase_days > 0
    age = snap.age_days
    rate = np.where(age > 0, snap.frequency / np.maximum(age, 1.0), 0.0)
    expected = np.where(has, rate * window_days, np.nan)
    return -np.expm1(-expected), expected


def rfm_cells(snap: Snapshot, edges: dict[str, list[float]] | None = None) -> tuple[np.ndarray, dict]:
    """RFM cell (e.g. ``"545"``, ``"000"`` without purchase) with quintile edges.

    A score is 1 + the number of quintile edges strictly below the value.
    Recency scores 5 for the most recent fifth; frequency and monetary 5 for
    the highest. ``edges`` from a training cut-off are reused at scoring time.
    """
    has = snap.n_purchase_days > 0
    monetary = np.where(has, snap.revenue_total / np.maximum(snap.n_purchase_days, 1), 0.0)
    values = {"r": -snap.days_since_last, "f": snap.n_purchase_days, "m": monetary}
    if edges is None:
        edges = {
            k: np.unique(np.quantile(v[has], [0.2, 0.4, 0.6, 0.8])).tolist() if has.any() else []
            for k, v in values.items()
        }
    scores = {k: 1 + np.searchsorted(np.asarray(edges[k]), v, side="left") for k, v in values.items()}
    cell = (scores["r"] * 100 + scores["f"] * 10 + scores["m"]).astype("int64")
    cell = np.where(has, cell, 0)
    return np.char.zfill(cell.astype(str), 3), edges


# ---------------------------------------------------------------------------
# The network
# ---------------------------------------------------------------------------


def _configure_tensorflow(seed: int, threads: int):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:  # the runtime is already initialised: keep its pools
        pass
    tf.keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    return tf


def build_network(weeks: int, n_channels: int, n_static: int, cfg: PropensityConfig, logit_offset: float):
    """GRU over the masked weekly sequence + dense static branch, two heads.

    The purchase logit is wide and deep: a linear term in the static vector
    (the logistic regression's inputs) plus the output of the GRU / dense
    layers, so the network starts from what a linear model can express and
    the recurrent part only has to learn what the summaries miss.

    ``purchase``: P(purchase in window) under the class-weighted training
    loss. ``count``: expected purchases = P(purchase, prior-corrected) *
    (1 + softplus(z)), so it can never be below the probability.
    """
    import keras
    from keras import ops

    seq_in = keras.Input((weeks, n_channels), name="sequence")
    static_in = keras.Input((n_static,), name="static")
    h = keras.layers.Masking(mask_value=_MASK_VALUE)(seq_in)
    h = keras.layers.GRU(cfg.gru_units, name="gru")(h)
    s = keras.layers.Dense(cfg.dense_units // 2, activation="relu", name="static_dense")(static_in)
    z = keras.layers.Concatenate()([h, s])
    if cfg.dropout > 0:
        z = keras.layers.Dropout(cfg.dropout, seed=cfg.seed)(z)
    z = keras.layers.Dense(cfg.dense_units, activation="relu", name="joint_dense")(z)
    if cfg.dropout > 0:
        z = keras.layers.Dropout(cfg.dropout, seed=cfg.seed + 1)(z)
    # wide (linear in the static vector) + deep (GRU and dense layers) logit
    logit = keras.layers.Add(name="logit")(
        [keras.layers.Dense(1, name="deep_logit")(z), keras.layers.Dense(1, name="wide_logit")(static_in)]
    )
    prob = keras.layers.Activation("sigmoid", name="purchase")(logit)
    extra = keras.layers.Dense(1, name="count_extra")(z)
    offset = float(logit_offset)
    count = keras.layers.Lambda(
        lambda tensors: ops.stop_gradient(ops.sigmoid(tensors[0] - offset))
        * (1.0 + ops.softplus(tensors[1])),
        name="count",
    )([logit, extra])
    return keras.Model({"sequence": seq_in, "static": static_in}, {"purchase": prob, "count": count})


def _time_budget_callback(seconds: float):
    import keras

    class TimeBudget(keras.callbacks.Callback):
        """Stop before an epoch that would end past the budget (epochs take about equally long)."""

        def on_train_begin(self, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            elapsed = time.perf_counter() - self.start
            if elapsed + elapsed / (epoch + 1) > seconds:
                self.model.stop_training = True

    return TimeBudget()


def _weighted_bce(pos_weight: float):
    from keras import ops

    def loss(y_true, y_pred):
        p = ops.clip(y_pred, 1e-7, 1 - 1e-7)
        y = ops.cast(y_true, p.dtype)
        return -ops.mean(pos_weight * y * ops.log(p) + (1.0 - y) * ops.log(1.0 - p), axis=-1)

    return loss


def _auc(y: np.ndarray, p: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, p)) if 0 < y.sum() < len(y) else float("nan")


@dataclasses.dataclass
class TrainedPropensity:
    """A trained GRU with everything needed to score without retraining."""

    network: object
    encoder: Encoder
    metadata: dict

    @property
    def version(self) -> str:
        return str(self.metadata["model_version"])

    def predict(self, snap: Snapshot, window_days: int, batch_size: int = 8192,
                chunk: int = 131_072) -> tuple[np.ndarray, np.ndarray]:
        """(P(purchase in window_days), expected purchases in window_days).

        Customers are encoded and scored ``chunk`` at a time to bound memory.
        """
        offset = float(self.metadata["logit_offset"])
        n = len(snap.index)
        p = np.empty(n, dtype="float64")
        e = np.empty(n, dtype="float64")
        for start in range(0, n, chunk):
            part = _slice(snap, slice(start, min(start + chunk, n)))
            out = self.network.predict(
                {"sequence": self.encoder.sequence(part), "static": self.encoder.static(part)},
                batch_size=batch_size,
                verbose=0,
            )
            pw = np.clip(np.asarray(out["purchase"], dtype="float64").ravel(), 1e-7, 1 - 1e-7)
            p[start:start + len(pw)] = 1.0 / (1.0 + np.exp(-(np.log(pw / (1 - pw)) - offset)))
            e[start:start + len(pw)] = np.asarray(out["count"], dtype="float64").ravel()
        return _carry_window(p, e, int(self.metadata["label_window_days"]), window_days)

    def save(self, model_dir: str | Path) -> Path:
        """Write weights + metadata under model_dir/propensity/<version>/; update latest.json."""
        root = Path(model_dir) / "propensity"
        folder = root / self.version
        folder.mkdir(parents=True, exist_ok=True)
        self.network.save_weights(str(folder / "model.weights.h5"))
        meta = dict(self.metadata, encoder=self.encoder.to_json())
        (folder / "metadata.json").write_text(json.dumps(meta, indent=2, default=str))
        (root / "latest.json").write_text(json.dumps({"model_version": self.version}, indent=2))
        return folder


def _carry_window(p: np.ndarray, e: np.ndarray, label_days: int, window_days: int) -> tuple[np.ndarray, np.ndarray]:
    """Carry scores from the training label window to the prediction window.

    Identity when both are equal; otherwise a constant hazard is assumed:
    P_w = 1 - (1 - P_l) ** (w / l), E_w = E_l * w / l.
    """
    if label_days == window_days:
        return p, np.maximum(e, p)
    ratio = window_days / label_days
    pw = 1.0 - np.power(1.0 - p, ratio)
    return pw, np.maximum(e * ratio, pw)


def load_propensity(model_dir: str | Path, version: str | None = None) -> TrainedPropensity:
    """Load a saved model (the latest when ``version`` is None)."""
    root = Path(model_dir) / "propensity"
    if version is None:
        latest = root / "latest.json"
        if not latest.exists():
            raise FileNotFoundError(
                f"no saved propensity model under {root}; run once with retrain: true"
            )
        version = json.loads(latest.read_text())["model_version"]
    folder = root / str(version)
    meta = json.loads((folder / "metadata.json").read_text())
    enc = Encoder(**meta.pop("encoder"))
    cfg = PropensityConfig(**meta["config"])
    _configure_tensorflow(cfg.seed, cfg.threads)
    net = build_network(enc.weeks, len(enc.channels), len(enc.static_names), cfg, meta["logit_offset"])
    net.load_weights(str(folder / "model.weights.h5"))
    return TrainedPropensity(network=net, encoder=enc, metadata=meta)


def training_cutoffs(history: History, train_end_day: int, cfg: PropensityConfig) -> list[int]:
    """Cut-offs whose label windows end on or before ``train_end_day``."""
    latest = train_end_day - cfg.label_window_days
    earliest_allowed = history.first_data_day + MIN_HISTORY_DAYS
    cutoffs = [latest - k * cfg.cutoff_step_days for k in range(cfg.n_cutoffs)]
    cutoffs = [c for c in cutoffs if c >= earliest_allowed]
    if not cutoffs:
        need = MIN_HISTORY_DAYS + cfg.label_window_days
        raise InsufficientHistoryError(
            f"too little history to train: the first purchase is on {_day_to_date(history.first_data_day)}"
            f" and training must end on {_day_to_date(train_end_day)}, but each training cut-off"
            f" needs {MIN_HISTORY_DAYS} days of orders before it and {cfg.label_window_days} days"
            f" of labels after it (at least {need} days of orders before the training end)."
            f" {_FIX}"
        )
    return cutoffs


_FIX = (
    "Fix: load more order history or use a later as_of_date; a shorter label window"
    " (var propensity_train_window_days) needs fewer days"
)


def _require_labels(cutoffs: Sequence[int], n_pos: int, n_neg: int) -> None:
    if n_pos < MIN_POSITIVE_LABELS or n_neg < MIN_NEGATIVE_LABELS:
        raise InsufficientHistoryError(
            f"too little history to train: the training cut-offs {[str(_day_to_date(c)) for c in cutoffs]}"
            f" give {n_pos} purchasing and {n_neg} non-purchasing customer windows; at least"
            f" {MIN_POSITIVE_LABELS} of each are needed. {_FIX}, or more cut-offs"
            " (var propensity_n_cutoffs)"
        )


def check_trainable(history: History, train_end_day: int, cfg: PropensityConfig) -> list[int]:
    """The training cut-offs, or :class:`InsufficientHistoryError` naming the fix.

    Cheap (label counts only, no features): what a declined step reports.
    """
    cutoffs = training_cutoffs(history, train_end_day, cfg)
    n_pos = n_all = 0
    for c in cutoffs:
        born = np.flatnonzero(history.birth_day <= c)
        y = window_counts(history, born, c + 1, c + cfg.label_window_days) > 0
        n_pos += int(y.sum())
        n_all += len(y)
    _require_labels(cutoffs, n_pos, n_all - n_pos)
    return cutoffs


def _training_set(history: History, cutoffs: Sequence[int], cfg: PropensityConfig):
    rng = np.random.default_rng(cfg.seed)
    n_all = len(history.customer_ids)
    sampled = np.ones(n_all, dtype=bool)
    if n_all > cfg.max_train_customers:
        sampled[:] = False
        sampled[rng.choice(n_all, cfg.max_train_customers, replace=False)] = True
    # validation split by customer: all cut-off rows of a customer on one side
    is_val = np.zeros(n_all, dtype=bool)
    is_val[rng.random(n_all) < cfg.validation_fraction] = True
    n_rows = sum(int((history.birth_day[sampled] <= c).sum()) for c in cutoffs)
    row_share = min(1.0, cfg.max_train_rows / max(n_rows, 1))
    snaps, labels, counts = [], [], []
    for c in cutoffs:
        s = snapshot(history, c, cfg.sequence_weeks, only=sampled)
        if row_share < 1.0:
            s = _subset(s, rng.random(len(s.index)) < row_share)
        y = window_counts(history, s.index, c + 1, c + cfg.label_window_days)
        snaps.append(s)
        counts.append(y)
        labels.append((y > 0).astype("float32"))
    return snaps, labels, counts, is_val


def _slice(s: Snapshot, sl: slice) -> Snapshot:
    """Rows ``sl`` of a snapshot (numpy views, no copy of the sequence)."""
    return Snapshot(
        cutoff_day=s.cutoff_day,
        index=s.index[sl],
        seq=s.seq[sl],
        n_weeks=s.n_weeks[sl],
        static=s.static.iloc[sl].reset_index(drop=True),
        frequency=s.frequency[sl],
        recency_days=s.recency_days[sl],
        age_days=s.age_days[sl],
        days_since_last=s.days_since_last[sl],
        n_purchase_days=s.n_purchase_days[sl],
        revenue_total=s.revenue_total[sl],
    )


def _subset(s: Snapshot, keep: np.ndarray) -> Snapshot:
    return Snapshot(
        cutoff_day=s.cutoff_day,
        index=s.index[keep],
        seq=s.seq[keep],
        n_weeks=s.n_weeks[keep],
        static=s.static.loc[keep].reset_index(drop=True),
        frequency=s.frequency[keep],
        recency_days=s.recency_days[keep],
        age_days=s.age_days[keep],
        days_since_last=s.days_since_last[keep],
        n_purchase_days=s.n_purchase_days[keep],
        revenue_total=s.revenue_total[keep],
    )


@dataclasses.dataclass
class Baselines:
    """Fitted RFM and logistic-regression baselines (cheap; refitted each run)."""

    rfm_edges: dict
    rfm_rates: dict[str, float]
    rfm_prior: float
    logreg: object
    label_window_days: int


def fit_baselines(snaps: Sequence[Snapshot], labels: Sequence[np.ndarray], encoder: Encoder,
                  cfg: PropensityConfig) -> Baselines:
    """RFM cell repeat rates and a logistic regression, both on the training cut-offs."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    latest = int(np.argmax([s.cutoff_day for s in snaps]))
    _, edges = rfm_cells(snaps[latest])
    cells = np.concatenate([rfm_cells(s, edges)[0] for s in snaps])
    y = np.concatenate(labels)
    prior = float(y.mean())
    frame = pd.DataFrame({"cell": cells, "y": y}).groupby("cell")["y"].agg(["sum", "count"])
    strength = 20.0  # pseudo-customers at the overall rate: small cells shrink to it
    rates = ((frame["sum"] + strength * prior) / (frame["count"] + strength)).to_dict()

    x = np.concatenate([encoder.summary(s) for s in snaps])
    lr = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000))
    lr.fit(x, y)
    return Baselines(edges, {str(k): float(v) for k, v in rates.items()}, prior, lr, cfg.label_window_days)


def score_baselines(b: Baselines, snap: Snapshot, encoder: Encoder, window_days: int) -> dict[str, np.ndarray]:
    cells, _ = rfm_cells(snap, b.rfm_edges)
    rfm = np.array([b.rfm_rates.get(c, b.rfm_prior) for c in cells], dtype="float64")
    lr = b.logreg.predict_proba(encoder.summary(snap))[:, 1]
    rfm, _ = _carry_window(rfm, rfm, b.label_window_days, window_days)
    lr, _ = _carry_window(lr, lr, b.label_window_days, window_days)
    return {"rfm": rfm, "logreg": lr}


def train_propensity(history: History, train_end: dt.date | int, cfg: PropensityConfig) -> tuple[TrainedPropensity, Baselines]:
    """Train the GRU (and the RFM / logistic baselines) on cut-offs before ``train_end``.

    Labels come from windows ending on or before ``train_end``; nothing after
    it is read. Raises :class:`InsufficientHistoryError` (with the minimum)
    when there is too little history.
    """
    cfg.validate()
    end = train_end if isinstance(train_end, int | np.integer) else _date_to_day(train_end)
    end = int(end)
    cutoffs = check_trainable(history, end, cfg)
    snaps, labels, counts, is_val_all = _training_set(history, cutoffs, cfg)
    y = np.concatenate(labels)
    n_pos, n_neg = int(y.sum()), int(len(y) - y.sum())
    _require_labels(cutoffs, n_pos, n_neg)  # again after sampling
    encoder = Encoder.fit(snaps, history.channels, cfg.sequence_weeks)
    baselines = fit_baselines(snaps, labels, encoder, cfg)

    tf = _configure_tensorflow(cfg.seed, cfg.threads)
    import keras

    seq = np.concatenate([encoder.sequence(s) for s in snaps])
    static = np.concatenate([encoder.static(s) for s in snaps])
    cnt = np.concatenate(counts).astype("float32")
    is_val = np.concatenate([is_val_all[s.index] for s in snaps])
    if y[is_val].sum() < 1 or y[~is_val].sum() < 1:
        raise InsufficientHistoryError(
            f"too little history to train: a split has no purchasing customer. {_FIX}"
        )
    pos_weight = float(min(max(n_neg / max(n_pos, 1), 1.0), cfg.max_positive_weight))
    offset = math.log(pos_weight)
    net = build_network(cfg.sequence_weeks, len(encoder.channels), static.shape[1], cfg, offset)
    net.compile(
        optimizer=keras.optimizers.Adam(cfg.learning_rate),
        loss={"purchase": _weighted_bce(pos_weight), "count": keras.losses.Poisson()},
        loss_weights={"purchase": 1.0, "count": cfg.count_loss_weight},
    )
    tr, va = ~is_val, is_val
    # shuffle once with the seed, then let Keras shuffle per epoch (seeded too)
    order = np.random.default_rng(cfg.seed + 1).permutation(int(tr.sum()))
    x_tr = {"sequence": seq[tr][order], "static": static[tr][order]}
    y_tr = {"purchase": y[tr][order, None], "count": cnt[tr][order, None]}
    x_va = {"sequence": seq[va], "static": static[va]}
    y_va = {"purchase": y[va, None], "count": cnt[va, None]}
    stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=cfg.patience, restore_best_weights=True)
    callbacks = [stop]
    if cfg.max_train_seconds is not None:
        callbacks.insert(0, _time_budget_callback(cfg.max_train_seconds))
    fit_start = time.perf_counter()
    hist = net.fit(
        x_tr, y_tr, validation_data=(x_va, y_va), batch_size=cfg.batch_size,
        epochs=cfg.max_epochs, callbacks=callbacks, verbose=0, shuffle=True,
    )
    fit_seconds = time.perf_counter() - fit_start
    if stop.best_weights is not None:
        # keep the best validation epoch also when the epoch cap or the time budget ended training
        net.set_weights(stop.best_weights)
    del tf
    trained = TrainedPropensity(network=net, encoder=encoder, metadata={})
    trained.metadata = {"logit_offset": offset, "label_window_days": cfg.label_window_days}
    val_snap_p = trained.network.predict(x_va, batch_size=8192, verbose=0)["purchase"].ravel()
    val_loss = [float(v) for v in hist.history["val_loss"]]
    tag = hashlib.sha1(
        json.dumps([dataclasses.asdict(cfg), cutoffs, len(y), n_pos]).encode()
    ).hexdigest()[:8]
    trained.metadata = {
        "model_name": "rnn_gru",
        "model_version": f"{__version__}+gru.{_day_to_date(end):%Y%m%d}.{tag}",
        "created_at": dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0).isoformat(),
        "train_end_date": str(_day_to_date(end)),
        "training_cutoffs": [str(_day_to_date(c)) for c in cutoffs],
        "label_window_days": cfg.label_window_days,
        "features": {"sequence": list(encoder.channels), "static": list(encoder.static_names)},
        "logit_offset": offset,
        "positive_class_weight": pos_weight,
        "config": dataclasses.asdict(cfg),
        "training_metrics": {
            "n_rows": int(len(y)),
            "n_train_rows": int(tr.sum()),
            "n_validation_rows": int(va.sum()),
            "n_positive": n_pos,
            "epochs_run": len(val_loss),
            "fit_seconds": round(fit_seconds, 1),
            "best_epoch": int(np.argmin(val_loss)) + 1,
            "best_val_loss": float(min(val_loss)),
            "validation_auc": _auc(y[va], val_snap_p),
        },
    }
    return trained, baselines


# ---------------------------------------------------------------------------
# End to end: what the dbt models call
# ---------------------------------------------------------------------------

SCORE_COLUMNS: list[str] = [
    "customer_id",
    "score_date",
    "is_current",
    "window_days",
    "purchase_probability",
    "expected_purchases",
    "decile",
    "has_purchased",
    "p_bgnbd",
    "expected_purchases_bgnbd",
    "p_rfm_heuristic",
    "p_logreg",
    "p_naive_rate",
    "expected_purchases_naive_rate",
    "btyd_baseline_model",
    "baseline_notes",
    "model_version",
    "train_end_date",
]


def deciles(p: np.ndarray) -> np.ndarray:
    """1 = the tenth of customers most likely to purchase, 10 = the least (ties by order)."""
    n = len(p)
    if n == 0:
        return np.zeros(0, dtype="int64")
    order = np.argsort(-p, kind="stable")
    rank = np.empty(n, dtype="int64")
    rank[order] = np.arange(n)
    return (rank * 10 // n + 1).astype("int64")


def score_snapshot(trained: TrainedPropensity, baselines: Baselines, history: History,
                   cutoff_day: int, window_days: int, is_current: bool) -> pd.DataFrame:
    """One row per customer known at ``cutoff_day`` with the GRU and baseline scores."""
    cfg_weeks = trained.encoder.weeks
    snap = snapshot(history, cutoff_day, cfg_weeks)
    p, e = trained.predict(snap, window_days)
    btyd_name, p_bg, e_bg, notes = _btyd_baseline(snap, window_days)
    p_naive, e_naive = naive_rate_scores(snap, window_days)
    base = score_baselines(baselines, snap, trained.encoder, window_days)
    return pd.DataFrame(
        {
            "customer_id": history.customer_ids[snap.index],
            "score_date": _day_to_date(cutoff_day),
            "is_current": is_current,
            "window_days": int(window_days),
            "purchase_probability": p,
            "expected_purchases": e,
            "decile": deciles(p),
            "has_purchased": snap.n_purchase_days > 0,
            "p_bgnbd": p_bg,
            "expected_purchases_bgnbd": e_bg,
            "p_rfm_heuristic": base["rfm"],
            "p_logreg": base["logreg"],
            "p_naive_rate": p_naive,
            "expected_purchases_naive_rate": e_naive,
            "btyd_baseline_model": btyd_name,
            "baseline_notes": notes,
            "model_version": trained.version,
            "train_end_date": pd.Timestamp(trained.metadata["train_end_date"]).date(),
        },
        columns=SCORE_COLUMNS,
    )


def _btyd_baseline(snap: Snapshot, window_days: int) -> tuple[str, np.ndarray, np.ndarray, str]:
    """(model served, P, expected, notes) of the BTYD baseline; dropped, not fatal, on failure."""
    try:
        info, p_bg, e_bg = fit_bgnbd(snap, window_days)
    except Exception as exc:  # any fitting failure drops this baseline only
        nan = np.full(len(snap.index), np.nan)
        return "none", nan, nan.copy(), f"bgnbd baseline dropped: {type(exc).__name__}: {exc}"
    note = f"bgnbd served as its limit nbd: {info['note']}" if info["model_name"] != "bgnbd" else "none"
    return str(info["model_name"]), p_bg, e_bg, note


def run_propensity(
    orders: pd.DataFrame,
    sessions: pd.DataFrame | None,
    customers: pd.DataFrame,
    as_of_date: dt.date,
    has_holdout: bool,
    cfg: PropensityConfig | None = None,
    model_dir: str | Path | None = None,
    retrain: bool = True,
) -> tuple[pd.DataFrame, dict]:
    """Train (or load) and score; the table behind ``ml_purchase_propensity``.

    ``orders`` must not contain orders after ``as_of_date`` (they are dropped).
    With a holdout after ``as_of_date`` the model is trained on labels up to
    ``as_of_date`` and scores customers at ``as_of_date`` (those scores are
    evaluated on the holdout). Without one, it is trained on labels up to
    ``as_of_date - window_days`` and scores customers both at that backtest
    cut-off (evaluated on what followed up to ``as_of_date``) and at
    ``as_of_date``, so the model people read is the model that was evaluated.
    Returns (scores with :data:`SCORE_COLUMNS`, model metadata).
    """
    cfg = cfg or PropensityConfig()
    cfg.validate()
    history, as_of_day, train_end = _history_at(orders, sessions, customers, as_of_date, has_holdout, cfg)

    if retrain:
        trained, baselines = train_propensity(history, train_end, cfg)
        if model_dir is not None:
            trained.save(model_dir)
    else:
        if model_dir is None:
            raise ValueError("retrain=False needs the model_dir holding a saved model")
        trained = load_propensity(model_dir)
        if list(trained.encoder.channels) != list(history.channels):
            raise ValueError(
                f"the saved model {trained.version} uses sequence channels {trained.encoder.channels}"
                f" but the data give {list(history.channels)}; retrain (retrain: true)"
            )
        saved_end = pd.Timestamp(trained.metadata["train_end_date"]).date()
        if saved_end > _day_to_date(train_end):
            raise ValueError(
                f"the saved model {trained.version} learned from labels up to {saved_end}, after this"
                f" run's training end {_day_to_date(train_end)}: its scores would be evaluated on data"
                " it has seen; retrain (retrain: true)"
            )
        saved_cfg = PropensityConfig(**trained.metadata["config"])
        cutoffs = training_cutoffs(history, train_end, saved_cfg)
        snaps, labels, _, _ = _training_set(history, cutoffs, saved_cfg)
        baselines = fit_baselines(snaps, labels, trained.encoder, saved_cfg)

    frames = []
    if not has_holdout:
        frames.append(score_snapshot(trained, baselines, history, train_end, cfg.window_days, False))
    frames.append(score_snapshot(trained, baselines, history, as_of_day, cfg.window_days, True))
    scores = pd.concat(frames, ignore_index=True)
    return scores, trained.metadata


def _history_at(orders, sessions, customers, as_of_date, has_holdout: bool, cfg: PropensityConfig):
    """(history up to as_of_date, as_of day, training end day) as run_propensity uses them."""
    as_of_day = _date_to_day(pd.Timestamp(as_of_date).date())
    ordered_day = _to_day(orders["ordered_at"]) if len(orders) else np.zeros(0, "int64")
    orders = orders.loc[ordered_day <= as_of_day]
    if sessions is not None and len(sessions):
        stamp = sessions["activity_date"] if "activity_date" in sessions.columns else sessions["started_at"]
        sessions = sessions.loc[_to_day(stamp) <= as_of_day]
    history = prepare_history(orders, sessions, customers)
    return history, as_of_day, as_of_day if has_holdout else as_of_day - cfg.window_days


def decline_reason(orders, sessions, customers, as_of_date, has_holdout: bool,
                   cfg: PropensityConfig) -> str:
    """Why the step declines on these data ('' if training can start): the cheap checks."""
    try:
        history, _, train_end = _history_at(orders, sessions, customers, as_of_date, has_holdout, cfg)
        check_trainable(history, train_end, cfg)
    except InsufficientHistoryError as exc:
        return str(exc)
    return ""


def propensity_status(scores: pd.DataFrame, as_of_date, decline: str = ""):
    """The step's status row: ok (GRU served; dropped baselines are noted), declined (no scores)."""
    from shoplens.status import step_status

    current = scores.loc[scores["is_current"].astype(bool)] if len(scores) else scores
    notes = sorted({str(n) for n in scores.get("baseline_notes", pd.Series([], dtype=object)) if str(n) != "none"})
    return step_status("propensity", as_of_date, served_model="rnn_gru", rows_written=len(current),
                       notes=notes, decline_reason=decline)


def purchase_outcomes(orders: pd.DataFrame, start: dt.date, end: dt.date) -> pd.DataFrame:
    """Purchase days per customer in ``start .. end`` (inclusive), from orders with is_purchase."""
    _require(orders, "orders", ["customer_id", "ordered_at", "is_purchase"])
    p = orders.loc[orders["is_purchase"].fillna(False).astype(bool) & orders["customer_id"].notna()]
    day = _to_day(p["ordered_at"])
    lo, hi = _date_to_day(start), _date_to_day(end)
    keep = (day >= lo) & (day <= hi)
    frame = pd.DataFrame({"customer_id": p["customer_id"].to_numpy()[keep], "day": day[keep]})
    return (
        frame.drop_duplicates().groupby("customer_id").size().rename("n_purchase_days").reset_index()
    )


def _binary_metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import average_precision_score, brier_score_loss, log_loss

    pc = np.clip(p, 1e-6, 1 - 1e-6)
    return {
        "auc": _auc(y, p),
        "pr_auc": float(average_precision_score(y, p)),
        "log_loss": float(log_loss(y, pc, labels=[0, 1])),
        "brier": float(brier_score_loss(y, p)),
    }


def evaluate_scores(
    scores: pd.DataFrame,
    outcomes: pd.DataFrame,
    *,
    as_of_date: dt.date,
    window_start: dt.date,
    window_end: dt.date,
    evaluation_type: str,
    evaluated_at: dt.datetime | None = None,
) -> pd.DataFrame:
    """Evaluation rows (``EVALUATION_COLUMNS``) of one scored cut-off.

    ``scores``: rows of one ``score_date`` (:data:`SCORE_COLUMNS`).
    ``outcomes``: customer_id, n_purchase_days in the window. Slices: ``all``
    (every scored customer; BG/NBD only if it covers them all), ``purchasers``
    (customers with a purchase by the cut-off: the same customers for all four
    models) and ``decile=k`` for the calibration table (k = 1 most likely).
    """
    from shoplens.evaluation import evaluation_frame

    if scores.empty:
        raise ValueError("no scores to evaluate")
    if scores["score_date"].nunique() != 1:
        raise ValueError("evaluate_scores takes the scores of one score_date")
    window = int(scores["window_days"].iloc[0])
    task = f"purchase_{window}d"
    count_task = f"purchases_{window}d"
    merged = scores.merge(outcomes, on="customer_id", how="left")
    actual = merged["n_purchase_days"].fillna(0).to_numpy("float64")
    y = (actual > 0).astype("float64")
    version = str(scores["model_version"].iloc[0])
    baseline_version = f"{__version__}+{pd.Timestamp(scores['score_date'].iloc[0]):%Y%m%d}"
    btyd = "bgnbd"
    if "btyd_baseline_model" in scores.columns:
        btyd = str(scores["btyd_baseline_model"].iloc[0])
    models = {
        "rnn_gru": ("purchase_probability", "expected_purchases", version),
        btyd: ("p_bgnbd", "expected_purchases_bgnbd", f"{btyd}.{baseline_version}"),
        "rfm_heuristic": ("p_rfm_heuristic", None, f"rfm.{baseline_version}"),
        "logreg": ("p_logreg", None, f"logreg.{baseline_version}"),
    }
    models.pop("none", None)  # the BTYD baseline was dropped (baseline_notes says why)
    if "p_naive_rate" in scores.columns:
        models["naive_rate"] = ("p_naive_rate", "expected_purchases_naive_rate", f"naive_rate.{baseline_version}")
    purchasers = merged["has_purchased"].to_numpy(bool)
    rows: list[dict] = []
    for name, (pcol, ecol, ver) in models.items():
        p_all = merged[pcol].to_numpy("float64")
        slices = {"purchasers": purchasers & np.isfinite(p_all)}
        if np.isfinite(p_all).all():
            slices = {"all": np.ones(len(p_all), dtype=bool), **slices}
        for slice_name, m in slices.items():
            if m.sum() == 0 or not (0 < y[m].sum() < m.sum()):
                continue
            for metric, value in _binary_metrics(y[m], p_all[m]).items():
                rows.append(dict(model_name=name, model_version=ver, task=task, metric=metric,
                                 slice=slice_name, value=value, n_obs=int(m.sum())))
            rows.append(dict(model_name=name, model_version=ver, task=task, metric="observed_rate",
                             slice=slice_name, value=float(y[m].mean()), n_obs=int(m.sum())))
            rows.append(dict(model_name=name, model_version=ver, task=task, metric="mean_predicted",
                             slice=slice_name, value=float(p_all[m].mean()), n_obs=int(m.sum())))
            if ecol is not None:
                e = merged[ecol].to_numpy("float64")[m]
                for metric, value in {
                    "mae": float(np.abs(e - actual[m]).mean()),
                    "predicted_total": float(e.sum()),
                    "actual_total": float(actual[m].sum()),
                }.items():
                    rows.append(dict(model_name=name, model_version=ver, task=count_task,
                                     metric=metric, slice=slice_name, value=value, n_obs=int(m.sum())))
        # calibration table on the model's own deciles, over the customers it scores
        m = np.isfinite(p_all)
        dec = deciles(p_all[m])
        for d in range(1, 11):
            sel = dec == d
            if not sel.any():
                continue
            rows.append(dict(model_name=name, model_version=ver, task=task, metric="calibration_predicted",
                             slice=f"decile={d}", value=float(p_all[m][sel].mean()), n_obs=int(sel.sum())))
            rows.append(dict(model_name=name, model_version=ver, task=task, metric="calibration_observed",
                             slice=f"decile={d}", value=float(y[m][sel].mean()), n_obs=int(sel.sum())))
    return evaluation_frame(
        rows,
        as_of_date=as_of_date,
        holdout_start_date=window_start,
        holdout_end_date=window_end,
        evaluation_type=evaluation_type,
        evaluated_at=evaluated_at,
    )


def evaluation_plan(as_of_date: dt.date, data_end_date: dt.date | None, has_holdout: bool,
                    window_days: int) -> dict:
    """Which score date is evaluated against which window (the shared holdout rule)."""
    as_of = pd.Timestamp(as_of_date).date()
    if has_holdout:
        end = as_of + dt.timedelta(days=window_days)
        if data_end_date is not None:
            end = min(end, pd.Timestamp(data_end_date).date())
        return {"score_date": as_of, "start": as_of + dt.timedelta(days=1), "end": end,
                "evaluation_type": "holdout"}
    cut = as_of - dt.timedelta(days=window_days)
    return {"score_date": cut, "start": cut + dt.timedelta(days=1), "end": as_of,
            "evaluation_type": "backtest"}
