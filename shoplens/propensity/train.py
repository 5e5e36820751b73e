"""Training: cut-offs, label checks, the training set, baselines and the GRU."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import math
import time
from collections.abc import Sequence

import numpy as np
import pandas as pd

from shoplens import __version__
from shoplens.evaluation import auc
from shoplens.propensity.baselines import rfm_cells
from shoplens.propensity.config import (
    MIN_HISTORY_DAYS,
    MIN_NEGATIVE_LABELS,
    MIN_POSITIVE_LABELS,
    InsufficientHistoryError,
    PropensityConfig,
)
from shoplens.propensity.encoding import Encoder
from shoplens.propensity.features import Snapshot, snapshot, window_counts
from shoplens.propensity.history import History, _date_to_day, _day_to_date
from shoplens.propensity.network import (
    TrainedPropensity,
    _carry_window,
    _configure_tensorflow,
    _time_budget_callback,
    _weighted_bce,
    build_network,
)


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


#: Under this many customers at a training cut-off there is nobody to rank against anybody.
MIN_CUSTOMERS_PER_CUTOFF = 20
#: A label window this short that every customer still buys in: they buy on most days.
SHORTEST_USEFUL_WINDOW = 7


def _require_labels(cutoffs: Sequence[int], n_pos: int, n_neg: int, window_days: int) -> None:
    per_cutoff = (n_pos + n_neg) / max(len(cutoffs), 1)
    if per_cutoff < MIN_CUSTOMERS_PER_CUTOFF:
        # more history adds windows of the same few customers (an export of store accounts)
        raise InsufficientHistoryError(
            f"only {per_cutoff:.0f} customer(s) at each training cut-off ({n_pos + n_neg} customer windows over"
            f" {len(cutoffs)} cut-offs): a propensity score ranks customers against each other, and with"
            f" fewer than {MIN_CUSTOMERS_PER_CUTOFF} there is nobody to rank. More history or another window"
            " does not help; customer ids that are stores or accounts (a forecast-only export) give exactly"
            " this: read the forecasts"
        )
    # more history cannot help: the customers buy more often than the window is long
    every_window = (n_pos >= MIN_POSITIVE_LABELS and n_neg < MIN_NEGATIVE_LABELS
                    and n_neg <= 0.01 * (n_pos + n_neg))
    if every_window and window_days <= SHORTEST_USEFUL_WINDOW:
        raise InsufficientHistoryError(
            f"every customer buys within even a {window_days}-day label window ({n_pos} purchasing and"
            f" {n_neg} non-purchasing customer windows at the cut-offs"
            f" {[str(_day_to_date(c)) for c in cutoffs]}): they buy on most days, so there is nothing to"
            " tell buyers from non-buyers and no shorter window helps. Customer ids that are stores or"
            " accounts (a forecast-only export) give exactly this"
        )
    if every_window:
        raise InsufficientHistoryError(
            f"every customer buys within the label window: the training cut-offs"
            f" {[str(_day_to_date(c)) for c in cutoffs]} give {n_pos} purchasing and only {n_neg}"
            f" non-purchasing customer windows of {window_days} days (at least {MIN_NEGATIVE_LABELS}"
            " are needed), so there is nothing to tell buyers from non-buyers. More history does not"
            f" help. Fix: a window shorter than the customers' gaps between purchases (vars"
            " propensity_window_days and propensity_train_window_days, e.g. 7); an export whose gaps"
            " are capped (Instacart's days_since_prior_order at 30) gives exactly this"
        )
    if n_pos < MIN_POSITIVE_LABELS or n_neg < MIN_NEGATIVE_LABELS:
        raise InsufficientHistoryError(
            f"too little history to train: the training cut-offs {[str(_day_to_date(c)) for c in cutoffs]}"
            f" give {n_pos} purchasing and {n_neg} non-purchasing customer windows; at least"
            f" {MIN_POSITIVE_LABELS} of each are needed. {_FIX}, or more cut-offs"
            " (var propensity_n_cutoffs)"
        )


def _require_repeat_purchases(history: History, cutoffs: Sequence[int], n_pos: int, n_neg: int) -> None:
    """Too few purchasing windows and not one customer who bought on two days in the whole
    history: more history would not help, ids that change with every order are likelier."""
    if n_pos >= MIN_POSITIVE_LABELS:
        return
    days_per_buyer = np.bincount(history.p_cust)
    buyers = int((days_per_buyer > 0).sum())
    if buyers == 0 or days_per_buyer.max() > 1:
        return
    orders = "" if history.n_purchase_orders is None else f" ({history.n_purchase_orders} purchase orders)"
    raise InsufficientHistoryError(
        f"no repeat purchases to learn from: {buyers} customers bought from {_day_to_date(history.first_data_day)}"
        f" to {_day_to_date(history.last_data_day)}{orders} and none of them bought on a second day, so the"
        f" training cut-offs {[str(_day_to_date(c)) for c in cutoffs]} give {n_pos} purchasing and {n_neg} non-purchasing customer windows (at least {MIN_POSITIVE_LABELS} of each"
        " are needed). More history would not change this if no customer ever buys twice. Fix: check that orders"
        " keep their customer_id: an export that gives every order a new customer id (an order-level or"
        " session id in place of the customer's own) is the likely cause"
    )


def check_trainable(history: History, train_end_day: int, cfg: PropensityConfig) -> list[int]:
    """The training cut-offs, or :class:`InsufficientHistoryError` naming the fix.

    Cheap (label counts only, no features): what a declined step reports. Too few purchasing
    windows in a history where no customer ever bought on two days is reported as such
    (customer ids that change with every order), not as too short a history.
    """
    cutoffs = training_cutoffs(history, train_end_day, cfg)
    n_pos = n_all = 0
    for c in cutoffs:
        born = np.flatnonzero(history.birth_day <= c)
        y = window_counts(history, born, c + 1, c + cfg.label_window_days) > 0
        n_pos += int(y.sum())
        n_all += len(y)
    _require_repeat_purchases(history, cutoffs, n_pos, n_all - n_pos)
    _require_labels(cutoffs, n_pos, n_all - n_pos, cfg.label_window_days)
    return cutoffs


def stable_uniform(hashed: np.ndarray, salt: int) -> np.ndarray:
    """Uniform numbers in [0, 1) from 64-bit hashes and a salt (splitmix64): the same key and
    salt give the same number in every run, whatever the seed."""
    with np.errstate(over="ignore"):
        z = hashed + np.uint64(salt % 2**63) * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype("float64") / float(2**53)


def _hashed_ids(history: History) -> np.ndarray:
    return pd.util.hash_pandas_object(pd.Series(history.customer_ids).astype(str), index=False).to_numpy(np.uint64)


def _training_set(history: History, cutoffs: Sequence[int], cfg: PropensityConfig):
    """Snapshots, labels and counts at ``cutoffs``, and the GRU's early-stopping split.

    Customers (``max_train_customers``) and customer x cut-off rows
    (``max_train_rows``) are sampled by a hash of the customer id, not by the
    seed: the baselines and the reasons built on them are the same for every
    seed. The seed draws the GRU's validation split (all rows of a customer
    on one side).
    """
    n_all = len(history.customer_ids)
    hashed = _hashed_ids(history)
    sampled = np.ones(n_all, dtype=bool)
    unknown = history.birth_unknown  # in no cut-off's snapshot: not drawn
    if int((~unknown).sum()) > cfg.max_train_customers:
        order = np.argsort(stable_uniform(hashed, 0), kind="stable")
        order = order[~unknown[order]]
        sampled[:] = False
        sampled[order[:cfg.max_train_customers]] = True
    is_val = np.random.default_rng(cfg.seed).random(n_all) < cfg.validation_fraction
    n_rows = sum(int((history.birth_day[sampled] <= c).sum()) for c in cutoffs)
    row_share = min(1.0, cfg.max_train_rows / max(n_rows, 1))
    snaps, labels, counts = [], [], []
    for c in cutoffs:
        only = sampled & (history.birth_day <= c)
        if row_share < 1.0:  # draw the rows first: only they get sequences
            idx = np.flatnonzero(only)
            only[idx[stable_uniform(hashed[idx], int(c) + 1) >= row_share]] = False
        s = snapshot(history, c, cfg.sequence_weeks, only=only)
        y = window_counts(history, s.index, c + 1, c + cfg.label_window_days)
        snaps.append(s)
        counts.append(y)
        labels.append((y > 0).astype("float32"))
    return snaps, labels, counts, is_val


@dataclasses.dataclass
class Baselines:
    """Fitted RFM and logistic-regression baselines (cheap; refitted each run)."""

    rfm_edges: dict
    rfm_rates: dict[str, float]
    rfm_prior: float
    logreg: object
    label_window_days: int
    #: Label rate of customers without a purchase at the training cut-offs
    #: (BG/NBD has no birth for them: served BG/NBD gives them this rate).
    new_customer_rate: float = 0.0
    #: First-purchase rate, per label window, of the customers known only from the customers
    #: file (no sign-up date, no session) who had not bought by a training cut-off, and their
    #: mean purchase days in the window when they bought (:func:`unseen_customer_rate`);
    #: None when no such customer was at any cut-off.
    unseen_rate: float | None = None
    unseen_purchases_per_buyer: float = 1.0


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
    new = np.concatenate([s.n_purchase_days == 0 for s in snaps])
    new_rate = float((y[new].sum() + prior) / (new.sum() + 1.0))

    x = np.concatenate([encoder.summary(s) for s in snaps])
    lr = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000))
    lr.fit(x, y)
    return Baselines(edges, {str(k): float(v) for k, v in rates.items()}, prior, lr, cfg.label_window_days,
                     new_rate)


def score_baselines(b: Baselines, snap: Snapshot, encoder: Encoder, window_days: int,
                    summary: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """RFM, logistic regression and new-customer scores (``summary``: ``encoder.summary(snap)``, when known)."""
    cells, _ = rfm_cells(snap, b.rfm_edges)
    rfm = np.array([b.rfm_rates.get(c, b.rfm_prior) for c in cells], dtype="float64")
    lr = b.logreg.predict_proba(encoder.summary(snap) if summary is None else summary)[:, 1]
    rfm, _ = _carry_window(rfm, rfm, b.label_window_days, window_days)
    lr, _ = _carry_window(lr, lr, b.label_window_days, window_days)
    new, _ = _carry_window(np.array([b.new_customer_rate]), np.zeros(1), b.label_window_days, window_days)
    return {"rfm": rfm, "logreg": lr, "new_customer": np.full(len(lr), float(new[0]))}


@dataclasses.dataclass
class TrainingSet:
    """Customer x cut-off rows up to a training end, the encoder and the fitted baselines."""

    end_day: int
    cutoffs: list[int]
    snaps: list[Snapshot]
    labels: list[np.ndarray]
    counts: list[np.ndarray]
    is_val: np.ndarray  # per history customer: on the GRU's early-stopping side
    encoder: Encoder
    baselines: Baselines

    @property
    def n_rows(self) -> int:
        return int(sum(len(y) for y in self.labels))


def prepare_training(history: History, train_end: dt.date | int, cfg: PropensityConfig) -> TrainingSet:
    """Rows, encoder and baselines for labels ending on or before ``train_end``.

    Raises :class:`InsufficientHistoryError` (with the minimum) when there is
    too little history; nothing after ``train_end`` is read.
    """
    cfg.validate()
    end = train_end if isinstance(train_end, int | np.integer) else _date_to_day(train_end)
    end = int(end)
    cutoffs = check_trainable(history, end, cfg)
    snaps, labels, counts, is_val = _training_set(history, cutoffs, cfg)
    y = np.concatenate(labels)
    _require_labels(cutoffs, int(y.sum()), int(len(y) - y.sum()), cfg.label_window_days)  # again after sampling
    encoder = Encoder.fit(snaps, history.channels, cfg.sequence_weeks, step_weeks=cfg.sequence_step_weeks)
    baselines = fit_all_baselines(history, cutoffs, snaps, labels, encoder, cfg)
    return TrainingSet(end, list(cutoffs), snaps, labels, counts, is_val, encoder, baselines)


def fit_all_baselines(history: History, cutoffs: Sequence[int], snaps: Sequence[Snapshot],
                      labels: Sequence[np.ndarray], encoder: Encoder, cfg: PropensityConfig) -> Baselines:
    """``fit_baselines`` and the unseen customers' rate (``unseen_customer_rate``): what a
    trained and a loaded model (``retrain: false``) both score with."""
    baselines = fit_baselines(snaps, labels, encoder, cfg)
    baselines.unseen_rate, baselines.unseen_purchases_per_buyer = unseen_customer_rate(
        history, cutoffs, cfg.label_window_days, baselines.new_customer_rate)
    return baselines


#: Pseudo-customers at the new-customer rate that the unseen customers' rate is shrunk with
#: (a handful of undated customers says little; thousands say it all).
UNSEEN_PRIOR_STRENGTH = 20.0


def unseen_customer_rate(history: History, cutoffs: Sequence[int], window_days: int,
                         prior: float) -> tuple[float | None, float]:
    """(rate, purchase days per buyer) of the customers of the customers file without a sign-up
    date or a session who had not bought by each cut-off: the share that made a first purchase
    in the label window after it, pooled over the cut-offs and shrunk towards ``prior`` (the
    new-customer rate) by ``UNSEEN_PRIOR_STRENGTH`` customers, and their mean purchase days there.

    At as_of_date the customers with no sign-up date, purchase or session are scored with it
    (:func:`shoplens.propensity.score.score_snapshot`). A membership list without dates (an
    H&M-shaped customers file) holds many who never buy: scored as a customer who signed up
    that day, with a history no training row had, they got the buyers' mean probability
    (0.36, of whom 3.9% bought in 42 days). Who is waiting at a cut-off is decided by what
    was known then (no purchase and no session by it); the label by its window. Customers
    known only from orders (not in the customers file) are left out: at as_of_date none of
    them is unseen but one with only cancelled orders.
    """
    undated = history.signup_day < 0
    if history.listed is not None:  # rows of the customers file, not customers known from orders only
        undated &= history.listed
    members = buyers = days = 0.0
    for c in cutoffs:
        # not yet known at c: no purchase and no session by then (birth_day is the first of them)
        waiting = np.flatnonzero(undated & (history.birth_day > c))
        if not len(waiting):
            continue
        counts = window_counts(history, waiting, c + 1, c + window_days)
        members += len(waiting)
        buyers += float((counts > 0).sum())
        days += float(counts.sum())
    if members == 0:
        return None, 1.0
    rate = (buyers + UNSEEN_PRIOR_STRENGTH * prior) / (members + UNSEEN_PRIOR_STRENGTH)
    return rate, (days / buyers if buyers else 1.0)


def train_propensity(history: History, train_end: dt.date | int, cfg: PropensityConfig) -> tuple[TrainedPropensity, Baselines]:
    """Train the GRU (and the RFM / logistic baselines) on cut-offs before ``train_end``."""
    ts = prepare_training(history, train_end, cfg)
    return fit_gru(ts, cfg), ts.baselines


def _gru_arrays(ts: TrainingSet, cfg: PropensityConfig):
    """(train inputs, train targets, validation inputs, validation targets) of the GRU."""
    enc = ts.encoder
    seq = np.concatenate([enc.sequence(s) for s in ts.snaps])
    static = np.concatenate([enc.static(s) for s in ts.snaps])
    y = np.concatenate(ts.labels)
    cnt = np.concatenate(ts.counts).astype("float32")
    va = np.concatenate([ts.is_val[s.index] for s in ts.snaps])
    if y[va].sum() < 1 or y[~va].sum() < 1:
        raise InsufficientHistoryError(
            f"too little history to train: a split has no purchasing customer. {_FIX}"
        )
    # shuffle once with the seed, then let Keras shuffle per epoch (seeded too); one copy per side
    tr = np.flatnonzero(~va)[np.random.default_rng(cfg.seed + 1).permutation(int((~va).sum()))]
    vi = np.flatnonzero(va)
    x_tr = {"sequence": seq[tr], "static": static[tr]}
    x_va = {"sequence": seq[vi], "static": static[vi]}
    del seq
    y_tr = {"purchase": y[tr, None], "count": cnt[tr, None]}
    y_va = {"purchase": y[vi, None], "count": cnt[vi, None]}
    return x_tr, y_tr, x_va, y_va


def fit_gru(ts: TrainingSet, cfg: PropensityConfig) -> TrainedPropensity:
    """Fit the GRU on a prepared training set (early stopping, optional time budget)."""
    y = np.concatenate(ts.labels)
    n_pos = int(y.sum())
    pos_weight = float(min(max((len(y) - n_pos) / max(n_pos, 1), 1.0), cfg.max_positive_weight))
    x_tr, y_tr, x_va, y_va = _gru_arrays(ts, cfg)
    tf = _configure_tensorflow(cfg.seed, cfg.threads)
    import keras

    net = build_network(ts.encoder.n_steps, len(ts.encoder.channels), x_tr["static"].shape[1], cfg,
                        math.log(pos_weight))
    _start_from_logreg(net, ts.baselines.logreg, math.log(pos_weight))
    net.compile(
        optimizer=keras.optimizers.Adam(cfg.learning_rate),
        loss={"purchase": _weighted_bce(pos_weight), "count": keras.losses.Poisson()},
        loss_weights={"purchase": 1.0, "count": cfg.count_loss_weight},
    )
    stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=cfg.patience, restore_best_weights=True)
    callbacks = [stop]
    if cfg.max_train_seconds is not None:
        callbacks.insert(0, _time_budget_callback(cfg.max_train_seconds))
    budget = callbacks[0] if len(callbacks) > 1 else None
    fit_start = time.perf_counter()
    hist = net.fit(x_tr, y_tr, validation_data=(x_va, y_va), batch_size=cfg.batch_size,
                   epochs=cfg.max_epochs, callbacks=callbacks, verbose=0, shuffle=True)
    fit_seconds = time.perf_counter() - fit_start
    if stop.best_weights is not None:
        # keep the best validation epoch also when the epoch cap or the time budget ended training
        net.set_weights(stop.best_weights)
    del tf
    val_p = net.predict(x_va, batch_size=8192, verbose=0)["purchase"].ravel()
    fit = {"fit_seconds": fit_seconds, "val_loss": [float(v) for v in hist.history["val_loss"]],
           "n_train_rows": len(y_tr["purchase"]), "n_validation_rows": len(y_va["purchase"]),
           "validation_auc": auc(val_p, y_va["purchase"].ravel()), "n_positive": n_pos,
           "stopped_by_time_budget": bool(budget is not None and budget.hit)}
    meta = _gru_metadata(ts, cfg, pos_weight, fit)
    return TrainedPropensity(network=net, encoder=ts.encoder, metadata=meta)


def _start_from_logreg(net, logreg, logit_offset: float) -> None:
    """Start the network at the fitted logistic regression: the wide logit takes its
    coefficients (on the same standardised inputs; the class weighting's offset added) and the
    deep logit starts at zero, so the GRU only has to learn what the regression misses and a
    short first pass is already as good as the regression on the training cut-offs."""
    scaler, clf = logreg[0], logreg[-1]
    w = clf.coef_[0] / scaler.scale_
    bias = float(clf.intercept_[0] - np.sum(w * scaler.mean_) + logit_offset)
    net.get_layer("wide_logit").set_weights([w.astype("float32")[:, None], np.array([bias], dtype="float32")])
    deep = net.get_layer("deep_logit")
    deep.set_weights([np.zeros_like(v) for v in deep.get_weights()])


def _gru_metadata(ts: TrainingSet, cfg: PropensityConfig, pos_weight: float, fit: dict) -> dict:
    """The GRU's metadata: version, training window, features, configuration and metrics."""
    val_loss = fit["val_loss"]
    tag = hashlib.sha1(
        json.dumps([dataclasses.asdict(cfg), ts.cutoffs, ts.n_rows, fit["n_positive"]]).encode()
    ).hexdigest()[:8]
    return {
        "model_name": "rnn_gru",
        "model_version": f"{__version__}+gru.{_day_to_date(ts.end_day):%Y%m%d}.{tag}",
        "created_at": dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0).isoformat(),
        "train_end_date": str(_day_to_date(ts.end_day)),
        "training_cutoffs": [str(_day_to_date(c)) for c in ts.cutoffs],
        "label_window_days": cfg.label_window_days,
        "features": {"sequence": list(ts.encoder.channels), "static": list(ts.encoder.static_names)},
        "logit_offset": math.log(pos_weight),
        "positive_class_weight": pos_weight,
        "config": dataclasses.asdict(cfg),
        "training_metrics": {
            "n_rows": ts.n_rows,
            "n_train_rows": int(fit["n_train_rows"]),
            "n_validation_rows": int(fit["n_validation_rows"]),
            "n_positive": int(fit["n_positive"]),
            "epochs_run": len(val_loss),
            "fit_seconds": round(fit["fit_seconds"], 1),
            "best_epoch": int(np.argmin(val_loss)) + 1,
            "best_val_loss": float(min(val_loss)),
            "validation_auc": fit["validation_auc"],
            "stopped_by_time_budget": fit["stopped_by_time_budget"],
        },
    }
