"""Holdout checks of the predictive distributions: interval coverage and median MAE.

For every customer scored at the fitting date, the posterior-predictive
distribution of purchases and revenue over the evaluation window is
simulated (:mod:`shoplens.clv.predictive`) and compared with what happened:

* ``interval_coverage_80`` (task ``revenue``, served count model + spend
  model; and task ``repeat_purchases``, served count model): the share of
  customers whose actual value falls inside their central 80 % predictive
  interval, overall (slice ``all``) and per decile of expected revenue
  (``decile=1`` the highest). Revenue is exactly 0 for most customers in a
  short window, a point mass that a closed interval [p10, p90] would cover
  with probability up to 100 %: the interval is therefore the randomised one
  (randomised PIT u in [0.1, 0.9], Czado, Gneiting & Held 2009), which covers
  80 % exactly when the model is calibrated. The plain closed-interval share
  is reported beside it as ``interval_coverage_80_closed``.
* ``mae_median`` (task ``repeat_purchases``, every count model): the MAE of
  the predictive median. The conditional mean (``mae``'s forecast) is the
  best point forecast for squared error, the median for absolute error
  (Gneiting 2011, "Making and evaluating point forecasts"); a model should
  be judged on absolute error with the point forecast that error rewards.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from shoplens.clv.config import ClvConfig, ClvFitError
from shoplens.clv.fitted import ClvFit
from shoplens.clv.interval_calibration import (
    NOMINAL,
    IntervalCalibration,
    expected_coverage,
    simulate_window,
    window_pits,
)
from shoplens.clv.predictive import customer_quantiles
from shoplens.evaluation import deciles


def predictive_rows(
    fit: ClvFit, frame: pd.DataFrame, actual: pd.DataFrame, window_days: int, config: ClvConfig,
    calibration: IntervalCalibration | None = None,
) -> list[dict[str, object]]:
    """Coverage and median-MAE rows (shared long format) for ``frame``'s customers.

    ``frame`` is the validated summary at the fitting date and ``actual`` the
    window's purchases and revenue per customer (:func:`window_actuals`).
    ``calibration`` (learnt before the fitting date,
    :func:`shoplens.clv.interval_calibration.inner_calibration`) gives the
    levels of the final intervals; without it they are the model's own.
    Returns no rows when the fit is too uncertain to simulate (the
    predictions then carry the point CLV and say so).
    """
    calibration = calibration or IntervalCalibration()
    frame = frame.reset_index(drop=True)
    x = frame["frequency"].to_numpy(dtype=float)
    act_n = frame.join(actual, on="customer_id")["actual_purchases"].fillna(0).to_numpy(dtype=float)
    rows: list[dict[str, object]] = []
    try:
        # the served model last, so that its samples (kept for the bounds) are not held while
        # the others are simulated (each simulation seeds its own generator: order-free)
        medians = {}
        for name in sorted(fit.count_models, key=lambda n: n == fit.selected):
            sim = simulate_window(replace(fit, selected=name), frame, window_days, config)
            medians[name] = _median_row(name, sim[0], sim[1], act_n)
            if name == fit.selected:
                simulated = sim
            del sim  # not held while the next model is simulated
        rows += [medians[name] for name in fit.count_models]
        bounds = window_pits(fit, frame, actual, window_days, config, simulated)
    except ClvFitError:
        return []
    served, inv, _, m, _ = simulated
    model = fit.count_model
    combo = f"{model.name}+{fit.spend_model.name}"
    for task, name in (("revenue", combo), ("repeat_purchases", model.name)):
        lo, hi, score = bounds[task]
        rows += _coverage_rows(name, task, "interval_coverage_80_model", expected_coverage(lo, hi, *NOMINAL), score)
        levels = calibration.customer_levels(task, score)
        inside = expected_coverage(lo, hi, levels[:, 0], levels[:, 1])
        rows += _coverage_rows(name, task, "interval_coverage_80", inside, score)
        for d in range(1, 11):
            for j, metric in enumerate(("interval_level_low", "interval_level_high")):
                rows.append(_row(name, task, metric, calibration.levels[task][d - 1, j], calibration.n_customers,
                                 f"decile={d}"))
    rows.append(_row(combo, "revenue", "interval_calibration_window_days", calibration.window_days,
                     calibration.n_customers))
    act_rev = frame.join(actual, on="customer_id")["actual_revenue"].fillna(0).to_numpy(dtype=float)
    lo, hi = customer_quantiles(served, inv, x, m, [10, 90])
    closed = (act_rev >= lo - 1e-6) & (act_rev <= hi + 1e-6)
    rows.append(_row(combo, "revenue", "interval_coverage_80_closed", closed.mean(), len(x)))
    return rows


def _median_row(name: str, samples, inv: np.ndarray, act_n: np.ndarray) -> dict[str, object]:
    median = np.median(samples.counts, axis=1)[inv]
    return _row(name, "repeat_purchases", "mae_median", np.mean(np.abs(median - act_n)), len(act_n))


def _coverage_rows(name: str, task: str, metric: str, inside: np.ndarray, score: np.ndarray) -> list[dict[str, object]]:
    """Mean of ``inside`` (each customer's chance of coverage), overall and per decile of ``score``."""
    rows = [_row(name, task, metric, inside.mean(), len(inside))]
    if len(inside) >= 10:
        dec = deciles(score)
        for d in range(1, 11):
            mask = dec == d
            if mask.any():
                rows.append(_row(name, task, metric, inside[mask].mean(), int(mask.sum()), f"decile={d}"))
    return rows


def _row(name: str, task: str, metric: str, value: float, n_obs: int, slice_: str = "all") -> dict[str, object]:
    return {"model_name": name, "task": task, "metric": metric, "value": float(value), "n_obs": int(n_obs),
            "slice": slice_}
