"""Recalibration of the predictive intervals on an inner split of the fitting period.

The model's own 80 % interval is the 10th-90th percentile of its
posterior-predictive distribution. When the model is misspecified (real shops
buy more regularly, or more in one season, than a BTYD model assumes) that
interval covers more or less than 80 %, and differently for light and heavy
buyers. The fix here is quantile recalibration (Kuleshov, Fenner & Ermon
2018, "Accurate uncertainties for deep learning using calibrated
regression"), done per decile of the prediction like a Mondrian split
(Vovk et al. 2005), and learnt only from data before the fitting date:

1. **Inner split.** The fitting period is cut at ``fit_date - w``, where
   ``w`` is the target window (holdout, backtest or CLV horizon) but at most
   half the days from the first purchase to ``fit_date`` (so the inner fit
   keeps most of the history). The served count model and the spend model
   are refitted on purchases up to the cut, exactly as the step fits them.
2. **PIT.** Each customer's posterior-predictive distribution of purchase
   days and revenue over the inner window (``w`` days) is simulated, and the
   actual inner-window values give the randomised PIT bounds
   ``F(y-)``, ``F(y)`` (u ~ U(F(y-), F(y)) is uniform for a calibrated model).
3. **Levels.** Per decile of the inner expected value (1 = highest), the
   nominal levels (a, z) whose interval ``[F^-1(a), F^-1(z)]`` left 10 %
   of the actual values below and 10 % above (E[P(u <= a)] = 0.1,
   E[P(u <= z)] = 0.9). The ten levels are then smoothed by a straight line
   in the decile rank (weighted least squares, weights the inverse sampling
   variance of each level): the widening may differ between light and heavy
   buyers, but with two coefficients per level, not ten noisy ones.
4. **Applied** to the final intervals: a customer in decile d of the
   target's predictions gets the ``100 a_d``-th to ``100 z_d``-th percentile
   of its own predictive distribution (levels clipped to [0.01, 0.99], the
   widest band 100 draws resolve). Identity levels (0.1, 0.9) when the inner
   split is impossible (too little history before the cut: the reason is
   kept).

Assumption, stated: the miscalibration measured over the inner window, by
decile rank, carries over to the target window. Nothing of a holdout after
``fit_date`` is used.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from shoplens.clv.closed_forms import expected_purchases
from shoplens.clv.config import ClvConfig, ClvDataError, ClvFitError
from shoplens.clv.predictive import PredictiveSamples, simulate
from shoplens.clv.spend import spend_value
from shoplens.clv.summary import _group, validate_summary
from shoplens.evaluation import deciles

NOMINAL = (0.1, 0.9)
LEVEL_RANGE = (0.01, 0.99)
MAX_CUSTOMERS = 50_000  # customers simulated on the inner window (a seeded sample above)
TASKS = ("repeat_purchases", "revenue")


@dataclass
class IntervalCalibration:
    """Per task, the (10, 2) array of nominal levels (lower, upper) for deciles 1..10."""

    levels: dict[str, np.ndarray] = field(default_factory=lambda: {t: identity_levels() for t in TASKS})
    window_days: int = 0  # inner validation window; 0 = not calibrated
    cut_date: dt.date | None = None
    n_customers: int = 0
    reason: str = "not calibrated"
    # per task, the 9 decile boundaries of the served score (highest first): set, a
    # customer's decile does not depend on which other customers are scored with it
    cut_points: dict[str, np.ndarray] = field(default_factory=dict)

    def customer_levels(self, task: str, score: np.ndarray) -> np.ndarray:
        """(customers, 2) levels for the target predictions ``score``.

        Deciles of ``score`` among the customers given, or by ``cut_points``
        when the calibration has them for ``task``.
        """
        score = np.asarray(score, dtype=float)
        if task in self.cut_points:
            dec = 1 + (score[:, None] < self.cut_points[task][None, :]).sum(axis=1)
        else:
            dec = deciles(score)
        return self.levels[task][dec - 1]

    @property
    def is_identity(self) -> bool:
        return all(np.array_equal(v, identity_levels()) for v in self.levels.values())


def decile_cut_points(score: np.ndarray) -> np.ndarray:
    """The 9 boundaries between deciles of ``score``, highest first."""
    return np.quantile(np.asarray(score, dtype=float), np.arange(9, 0, -1) / 10)


def identity_levels() -> np.ndarray:
    return np.tile(np.array(NOMINAL, dtype=float), (10, 1))


def pit_bounds(values: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``F(y-)`` and ``F(y)`` of each row's sample ``values`` (customers x draws) at ``y``."""
    y = np.asarray(y, dtype=values.dtype)[:, None]
    return (values < y).mean(axis=1), (values <= y).mean(axis=1)


def expected_cdf(lo: np.ndarray, hi: np.ndarray, tau: float) -> float:
    """Mean over customers of P(u <= tau), u ~ U(lo, hi) (a point mass at lo when lo = hi)."""
    width = hi - lo
    with np.errstate(divide="ignore", invalid="ignore"):
        part = np.clip((tau - lo) / width, 0.0, 1.0)
    return float(np.where(width > 0, part, (tau >= lo).astype(float)).mean())


def expected_coverage(lo: np.ndarray, hi: np.ndarray, a, z) -> np.ndarray:
    """Per customer, P(a <= u <= z) for u ~ U(lo, hi): the randomised PIT's coverage, averaged over V.

    The expectation over the randomisation has the same mean as the
    randomised indicator and less noise (Czado, Gneiting & Held 2009, the
    non-randomised PIT).
    """
    a = np.broadcast_to(np.asarray(a, dtype=float), lo.shape)
    z = np.broadcast_to(np.asarray(z, dtype=float), lo.shape)
    width = hi - lo
    with np.errstate(divide="ignore", invalid="ignore"):
        part = np.clip((np.minimum(hi, z) - np.maximum(lo, a)) / width, 0.0, 1.0)
    return np.where(width > 0, part, ((lo >= a) & (lo <= z)).astype(float))


def solve_level(lo: np.ndarray, hi: np.ndarray, target: float) -> float:
    """The level tau with E[P(u <= tau)] = target (bisection; the mean CDF is monotone)."""
    left, right = 0.0, 1.0
    for _ in range(30):
        mid = (left + right) / 2
        if expected_cdf(lo, hi, mid) < target:
            left = mid
        else:
            right = mid
    return (left + right) / 2


def _level_variance(lo: np.ndarray, hi: np.ndarray, tau: float, target: float) -> float:
    """Sampling variance of a solved level: binomial variance of the CDF / its slope squared."""
    h = 0.02
    slope = (expected_cdf(lo, hi, min(tau + h, 1.0)) - expected_cdf(lo, hi, max(tau - h, 0.0))) / (2 * h)
    return target * (1 - target) / (len(lo) * max(slope, 0.05) ** 2)


def decile_levels(lo: np.ndarray, hi: np.ndarray, dec: np.ndarray) -> np.ndarray:
    """(10, 2) levels per decile: a straight line in the decile rank through the deciles' own levels.

    Each decile's level is solved on its customers; the line is fitted by
    weighted least squares with the inverse sampling variance of each level
    as weight, so light and heavy buyers may need different widening while
    no single decile's noise sets its level. Fewer than three deciles with
    10 customers: the pooled level of all customers.
    """
    out = identity_levels()
    rank = np.arange(1, 11, dtype=float)
    for j, target in enumerate(NOMINAL):
        own, var = np.full(10, np.nan), np.full(10, np.nan)
        for d in range(1, 11):
            mask = dec == d
            if mask.sum() >= 10:
                own[d - 1] = solve_level(lo[mask], hi[mask], target)
                var[d - 1] = _level_variance(lo[mask], hi[mask], own[d - 1], target)
        ok = np.isfinite(own)
        if ok.sum() >= 3:
            coef = np.polyfit(rank[ok], own[ok], 1, w=1 / np.sqrt(var[ok]))
            out[:, j] = np.polyval(coef, rank)
        else:
            out[:, j] = solve_level(lo, hi, target)
    out = np.clip(out, *LEVEL_RANGE)
    out[:, 1] = np.maximum(out[:, 1], out[:, 0])
    return out


def inner_calibration(
    purchases: pd.DataFrame, fit_date: dt.date, window_days: int, count_model: str, config: ClvConfig
) -> IntervalCalibration:
    """Levels learnt on the inner split of ``purchases`` (up to ``fit_date``) for ``count_model``.

    ``purchases`` has customer_id, order_date, order_total (every purchase up
    to ``fit_date``; later rows are ignored). ``window_days`` is the target
    window. Returns identity levels, with the reason, when the split is
    impossible or the inner fit declines.
    """
    from shoplens.clv.evaluation import summary_from_purchases, window_actuals
    from shoplens.clv.fit import default_count_model, fit_clv

    dates = pd.to_datetime(purchases["order_date"])
    before = purchases.loc[dates <= pd.Timestamp(fit_date)]
    if before.empty:
        return IntervalCalibration(reason="not calibrated: no purchases before the fitting date")
    span = (fit_date - dates.loc[before.index].min().date()).days
    window = min(int(window_days), span // 2)
    if window < 1:
        return IntervalCalibration(reason=f"not calibrated: {span} days of history, too short to split")
    cut = fit_date - dt.timedelta(days=window)
    inner_config = replace(config, candidates=(count_model,))
    try:
        summary = summary_from_purchases(before, cut, config.time_unit)
        fit = fit_clv(summary, inner_config)
    except (ClvDataError, ClvFitError) as exc:
        return IntervalCalibration(window_days=0, cut_date=cut, reason=f"not calibrated: inner fit at {cut}: {exc}")
    fit.selected = count_model if count_model in fit.count_models else default_count_model(fit)
    frame = validate_summary(summary, inner_config)
    if len(frame) > MAX_CUSTOMERS:
        frame = frame.sample(MAX_CUSTOMERS, random_state=config.seed).reset_index(drop=True)
    actual = window_actuals(before, cut + dt.timedelta(days=1), fit_date)
    try:
        bounds = window_pits(fit, frame, actual, window, config)
    except ClvFitError as exc:
        return IntervalCalibration(window_days=0, cut_date=cut, reason=f"not calibrated: {exc}")
    levels = {task: decile_levels(lo, hi, deciles(score)) for task, (lo, hi, score) in bounds.items()}
    reason = (f"inner split: {fit.selected} refitted on purchases up to {cut}, levels from the PIT of the"
              f" next {window} days ({len(frame)} customers)")
    return IntervalCalibration(levels, window, cut, len(frame), reason)


def window_pits(fit, frame: pd.DataFrame, actual: pd.DataFrame, window_days: int, config: ClvConfig,
                simulated: tuple | None = None) -> dict:
    """Per task: PIT bounds (F(y-), F(y)) of the window's actual values and the expected value.

    ``frame`` is a validated summary at the fitting date and ``actual`` the
    window's purchases and revenue per customer
    (:func:`shoplens.clv.evaluation.window_actuals`); the served count model
    of ``fit`` with its spend model. ``simulated`` is the result of
    :func:`simulate_window` when the caller has it already.
    """
    samples, inv, x, m, expected_n = simulated or simulate_window(fit, frame, window_days, config)
    joined = frame.join(actual, on="customer_id")
    act_n = joined["actual_purchases"].fillna(0).to_numpy(dtype=float)
    act_rev = joined["actual_revenue"].fillna(0).to_numpy(dtype=float)
    expected_rev = expected_n * spend_value(fit.spend_model, x, m)
    n_lo, n_hi = chunked_bounds(samples, inv, x, m, act_n, counts=True)
    r_lo, r_hi = chunked_bounds(samples, inv, x, m, act_rev, counts=False)
    return {"repeat_purchases": (n_lo, n_hi, expected_n), "revenue": (r_lo, r_hi, expected_rev)}


def simulate_window(fit, frame: pd.DataFrame, window_days: int, config: ClvConfig):
    """Posterior-predictive samples over ``window_days`` per pattern of ``frame``, the
    customers' pattern index, x, m and expected purchases in the window."""
    x = frame["frequency"].to_numpy(dtype=float)
    m = frame["monetary_value"].to_numpy(dtype=float)
    uniq, inv = _group(x, frame["recency"].to_numpy(dtype=float), frame["T"].to_numpy(dtype=float))
    t = window_days / config.days_per_unit
    samples = simulate(fit, uniq[:, 0], uniq[:, 1], uniq[:, 2], t, config.n_draws, config.seed)
    model = fit.count_model
    expected_n = expected_purchases(model.name, model.params, t, uniq[:, 0], uniq[:, 1], uniq[:, 2])[inv]
    return samples, inv, x, m, expected_n


def chunked_bounds(samples: PredictiveSamples, inv, x, m, actual, *, counts: bool, chunk: int = 50_000):
    """:func:`pit_bounds` of every customer's purchases (``counts``) or revenue, in chunks."""
    lo, hi = np.empty(len(x)), np.empty(len(x))
    base = samples.base.astype(np.float32)
    slope = samples.slope.astype(np.float32)
    xm = (np.asarray(x) * np.asarray(m)).astype(np.float32)
    for start in range(0, len(x), chunk):
        idx = np.arange(start, min(start + chunk, len(x)))
        if counts:
            values = samples.counts[inv[idx]]
        else:
            values = samples.scale[inv[idx]] * (base + slope * xm[idx, None])
        lo[idx], hi[idx] = pit_bounds(values, np.asarray(actual)[idx])
    return lo, hi
