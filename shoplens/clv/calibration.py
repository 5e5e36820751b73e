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

from shoplens.clv.closed_forms import expected_purchases
from shoplens.clv.config import ClvConfig, ClvFitError
from shoplens.clv.fitted import ClvFit
from shoplens.clv.predictive import customer_pit, customer_quantiles, simulate
from shoplens.clv.spend import spend_value
from shoplens.clv.summary import _group
from shoplens.evaluation import deciles

COVERAGE = 0.8


def predictive_rows(
    fit: ClvFit, frame: pd.DataFrame, actual: pd.DataFrame, window_days: int, config: ClvConfig
) -> list[dict[str, object]]:
    """Coverage and median-MAE rows (shared long format) for ``frame``'s customers.

    ``frame`` is the validated summary at the fitting date and ``actual`` the
    window's purchases and revenue per customer (:func:`window_actuals`).
    Returns no rows when the fit is too uncertain to simulate (the
    predictions then carry the point CLV and say so).
    """
    joined = frame.join(actual, on="customer_id")
    act_n = joined["actual_purchases"].fillna(0).to_numpy(dtype=float)
    act_rev = joined["actual_revenue"].fillna(0).to_numpy(dtype=float)
    x = frame["frequency"].to_numpy(dtype=float)
    m = frame["monetary_value"].to_numpy(dtype=float)
    uniq, inv = _group(x, frame["recency"].to_numpy(dtype=float), frame["T"].to_numpy(dtype=float))
    px, prec, page = uniq[:, 0], uniq[:, 1], uniq[:, 2]
    t = window_days / config.days_per_unit
    rows: list[dict[str, object]] = []
    try:
        for name in fit.count_models:
            samples = simulate(replace(fit, selected=name), px, prec, page, t, config.n_draws, config.seed)
            median = np.median(samples.counts, axis=1)[inv]
            rows.append(_row(name, "repeat_purchases", "mae_median", np.mean(np.abs(median - act_n)), len(x)))
            if name == fit.selected:
                served = samples
    except ClvFitError:
        return []
    model = fit.count_model
    rng = np.random.default_rng(config.seed + 1)
    expected_rev = expected_purchases(model.name, model.params, t, px, prec, page)[inv] * spend_value(
        fit.spend_model, x, m
    )
    combo = f"{model.name}+{fit.spend_model.name}"
    u_rev = customer_pit(served, inv, x, m, act_rev, rng)
    rows += _coverage_rows(combo, "revenue", u_rev, expected_rev)
    lo, hi = customer_quantiles(served, inv, x, m, [10, 90])
    closed = (act_rev >= lo - 1e-6) & (act_rev <= hi + 1e-6)
    rows.append(_row(combo, "revenue", "interval_coverage_80_closed", closed.mean(), len(x)))
    u_n = customer_pit(served, inv, x, m, act_n, rng, counts=True)
    rows += _coverage_rows(model.name, "repeat_purchases", u_n, expected_rev)
    return rows


def _coverage_rows(name: str, task: str, u: np.ndarray, score: np.ndarray) -> list[dict[str, object]]:
    """Share of u in the central 80 % band, overall and per decile of ``score``."""
    half = (1 - COVERAGE) / 2
    inside = (u >= half) & (u <= 1 - half)
    rows = [_row(name, task, "interval_coverage_80", inside.mean(), len(u))]
    if len(u) >= 10:
        dec = deciles(score)
        for d in range(1, 11):
            mask = dec == d
            if mask.any():
                rows.append(_row(name, task, "interval_coverage_80", inside[mask].mean(), int(mask.sum()),
                                 f"decile={d}"))
    return rows


def _row(name: str, task: str, metric: str, value: float, n_obs: int, slice_: str = "all") -> dict[str, object]:
    return {"model_name": name, "task": task, "metric": metric, "value": float(value), "n_obs": int(n_obs),
            "slice": slice_}
