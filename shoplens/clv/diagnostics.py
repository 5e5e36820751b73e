"""Calibration diagnostics of the served count model: the views lifetimes users plot, as tables.

Four tables, all from the stored parameters of the served count model (no refit):

* ``period_transactions``: customers with 0, 1, ..., k-1 and k+ repeat purchase
  days before ``as_of_date``, actual against the model's expectation
  ``sum_i P(X(T_i) = n)`` (lifetimes' ``plot_period_transactions`` simulates the
  same histogram; here it is the exact expectation);
* ``calibration_holdout``: mean holdout purchase days by calibration frequency,
  actual against ``E[Y(t) | x, t_x, T]`` (``plot_calibration_purchases_vs_holdout_purchases``);
* ``probability_alive_matrix``: P(alive) over a frequency x recency grid at the
  largest T (``plot_probability_alive_matrix``);
* ``cumulative_purchases``: actual and expected repeat purchase days of the
  customers known at ``as_of_date``, per holdout week and cumulated
  (``plot_incremental_transactions`` / ``plot_cumulative_transactions``).

The two holdout tables are empty when no orders follow ``as_of_date``
(:func:`holdout_note` says so in ``ml_clv_status``); all four are empty when
the CLV step declined.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from scipy.special import betaln, gammaln, xlogy

from shoplens.clv.config import MODEL_VERSION, ClvConfig, ClvFitError
from shoplens.clv.evaluation import window_actuals
from shoplens.clv.models import MODELS
from shoplens.clv.parameters import fit_from_parameters
from shoplens.clv.summary import _group, validate_summary
from shoplens.inputs import purchase_days
from shoplens.status import empty_like

MAX_FREQUENCY = 7  # frequency buckets 0..6 and "7+" (lifetimes' default max_frequency)
PERIOD_DAYS = 7  # the cumulative table's periods are holdout weeks
ALIVE_FREQUENCIES = 101  # at most this many frequency rows in the P(alive) grid
ALIVE_RECENCIES = 51  # recency points from 0 to the largest T
QUADRATURE_NODES = 128  # Gauss-Legendre nodes of the Pareto/NBD count distribution

_COMMON = {"count_model": "object", "as_of_date": "datetime64[ns]", "model_version": "object"}
COLUMNS: dict[str, dict[str, str]] = {
    "period_transactions": {
        "frequency_bucket": "object", "frequency": "int64", "n_customers_actual": "int64",
        "n_customers_expected": "float64", **_COMMON,
    },
    "calibration_holdout": {
        "frequency_bucket": "object", "frequency": "int64", "n_customers": "int64",
        "actual_mean_purchases": "float64", "predicted_mean_purchases": "float64",
        "actual_total_purchases": "float64", "predicted_total_purchases": "float64",
        "holdout_start_date": "datetime64[ns]", "holdout_end_date": "datetime64[ns]", **_COMMON,
    },
    "probability_alive_matrix": {
        "frequency": "int64", "recency": "float64", "T": "float64", "time_unit": "object",
        "probability_alive": "float64", "is_possible_history": "bool", **_COMMON,
    },
    "cumulative_purchases": {
        "period": "int64", "period_start_date": "datetime64[ns]", "period_end_date": "datetime64[ns]",
        "n_customers": "int64", "actual_purchases": "float64", "predicted_purchases": "float64",
        "actual_cumulative": "float64", "predicted_cumulative": "float64",
        "predicted_cumulative_unconditional": "float64", **_COMMON,
    },
}
HOLDOUT_KINDS = ("calibration_holdout", "cumulative_purchases")


def nbd_probabilities(r: float, alpha: float, t, n_max: int) -> np.ndarray:
    """P(N(t) = n) for n = 0..n_max of the NBD (Poisson rate ~ Gamma(r, alpha)); shape (len(t), n_max + 1)."""
    t = np.atleast_1d(np.asarray(t, dtype=float))[:, None]
    n = np.arange(n_max + 1)[None, :]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        log = (gammaln(r + n) - gammaln(r) - gammaln(n + 1)
               + r * np.log(alpha / (alpha + t)) + xlogy(n, t / (alpha + t)))
    return np.nan_to_num(np.exp(log), nan=0.0)


def purchase_count_probabilities(name: str, p: dict[str, float], t, n_max: int) -> np.ndarray:
    """P(X(t) = n), n = 0..n_max repeat purchases in (0, t] of a new customer; shape (len(t), n_max + 1).

    BG/NBD: Fader, Hardie & Lee (2005) eq. 8; MBG/NBD: its variant with
    drop-out at time 0 (as lifetimes); NBD: the negative binomial; Pareto/NBD:
    the NBD mixed over the Pareto lifetime, integrated numerically.
    """
    if name in ("bgnbd", "mbgnbd"):
        return _bg_probabilities(p, t, n_max, modified=name == "mbgnbd")
    if name == "pareto_nbd":
        return _pareto_probabilities(p, t, n_max)
    if name == "nbd":
        return nbd_probabilities(p["r"], p["alpha"], t, n_max)
    raise ValueError(f"no purchase count distribution for model {name!r}")


def _bg_probabilities(p: dict[str, float], t, n_max: int, modified: bool) -> np.ndarray:
    r, alpha, a, b = p["r"], p["alpha"], p["a"], p["b"]
    pmf = nbd_probabilities(r, alpha, t, n_max)
    n = np.arange(n_max + 1)
    tail = np.clip(1.0 - (np.cumsum(pmf, axis=1) - pmf), 0.0, 1.0)  # P(NBD(t) >= n)
    shift = 1 if modified else 0
    alive = np.exp(betaln(a, b + n + shift) - betaln(a, b))
    with np.errstate(invalid="ignore"):
        dead = np.exp(betaln(a + 1, np.maximum(b + n - 1 + shift, 1e-300)) - betaln(a, b))
    if not modified:
        dead = np.where(n > 0, dead, 0.0)  # BG/NBD: no drop-out before the first repeat purchase
    return alive * pmf + dead * tail


def _pareto_probabilities(p: dict[str, float], t, n_max: int) -> np.ndarray:
    """P(X(t) = n) = S(t) NBD(n; t) + integral_0^t f(tau) NBD(n; tau) dtau, tau ~ Pareto(s, beta).

    Substituting v = F(tau) turns the integral into that of NBD(n; F^-1(v))
    over [0, F(t)], evaluated with Gauss-Legendre nodes.
    """
    r, alpha, s, beta = p["r"], p["alpha"], p["s"], p["beta"]
    t = np.atleast_1d(np.asarray(t, dtype=float))
    survive = (beta / (beta + t)) ** s
    reach = 1.0 - survive
    nodes, weights = np.polynomial.legendre.leggauss(QUADRATURE_NODES)
    v = (nodes[None, :] + 1.0) / 2.0 * reach[:, None]
    with np.errstate(over="ignore"):
        tau = beta * ((1.0 - v) ** (-1.0 / s) - 1.0)
    inner = nbd_probabilities(r, alpha, tau.ravel(), n_max).reshape(len(t), QUADRATURE_NODES, n_max + 1)
    integral = np.einsum("q,tqn->tn", weights, inner) * (reach / 2.0)[:, None]
    return survive[:, None] * nbd_probabilities(r, alpha, t, n_max) + integral


def _bucket_labels(k: int) -> list[str]:
    return [str(i) for i in range(k)] + [f"{k}+"]


def period_transactions(name: str, p: dict[str, float], frame: pd.DataFrame,
                        max_frequency: int = MAX_FREQUENCY) -> pd.DataFrame:
    """Customers by repeat purchases before as_of_date: actual and sum_i P(X(T_i) = n).

    The top bucket ``k+`` holds the rest, so both columns sum to the customer count.
    """
    x = frame["frequency"].to_numpy(dtype="int64")
    ages, inverse = np.unique(frame["T"].to_numpy(dtype=float), return_inverse=True)
    counts = np.bincount(inverse.ravel(), minlength=len(ages)).astype(float)
    expected = counts @ purchase_count_probabilities(name, p, ages, max_frequency - 1)
    expected = np.append(expected, len(x) - expected.sum())
    actual = np.bincount(np.minimum(x, max_frequency), minlength=max_frequency + 1)
    return pd.DataFrame({
        "frequency_bucket": _bucket_labels(max_frequency),
        "frequency": np.arange(max_frequency + 1, dtype="int64"),
        "n_customers_actual": actual.astype("int64"),
        "n_customers_expected": expected,
    })


def calibration_holdout(name: str, p: dict[str, float], frame: pd.DataFrame, actual: pd.Series,
                        t: float, max_frequency: int = MAX_FREQUENCY) -> pd.DataFrame:
    """Per calibration-frequency bucket: mean and total holdout purchase days, actual and expected.

    ``actual`` is purchase days per customer_id in the holdout (absent: 0);
    ``t`` is the holdout length in the summary's time unit.
    """
    x = frame["frequency"].to_numpy(dtype=float)
    rec, age = frame["recency"].to_numpy(dtype=float), frame["T"].to_numpy(dtype=float)
    model = MODELS[name]
    pred = model.time_part(p, t, x, age) * model.history_part(p, x, rec, age)
    act = frame["customer_id"].map(actual).fillna(0).to_numpy(dtype=float)
    bucket = np.minimum(x, max_frequency).astype("int64")
    grouped = pd.DataFrame({"b": bucket, "act": act, "pred": pred}).groupby("b")
    out = grouped.agg(n_customers=("act", "size"), actual_mean_purchases=("act", "mean"),
                      predicted_mean_purchases=("pred", "mean"), actual_total_purchases=("act", "sum"),
                      predicted_total_purchases=("pred", "sum")).reset_index(names="frequency")
    labels = _bucket_labels(max_frequency)
    out.insert(0, "frequency_bucket", [labels[b] for b in out["frequency"]])
    out["n_customers"] = out["n_customers"].astype("int64")
    return out


def probability_alive_matrix(name: str, p: dict[str, float], frame: pd.DataFrame) -> pd.DataFrame:
    """P(alive at T) over frequencies 0..max and recencies 0..T, with T the largest age.

    As lifetimes' matrix, every cell is a customer of the oldest age; above
    :data:`ALIVE_FREQUENCIES` distinct frequencies the grid is thinned evenly.
    ``is_possible_history`` is false where recency and frequency contradict
    (no repeat purchase but recency > 0, or repeats at recency 0).
    """
    age = float(frame["T"].max())
    top = int(frame["frequency"].max())
    freqs = np.unique(np.round(np.linspace(0, top, min(top + 1, ALIVE_FREQUENCIES)))).astype("int64")
    recs = np.linspace(0.0, age, ALIVE_RECENCIES)
    f_grid, r_grid = (g.ravel() for g in np.meshgrid(freqs, recs, indexing="ij"))
    alive = MODELS[name].probability_alive(p, f_grid.astype(float), r_grid, np.full(len(f_grid), age))
    bad = ~((alive >= -1e-12) & (alive <= 1 + 1e-12))  # NaN included: never a NULL cell
    if bad.any():
        cells = ", ".join(f"({f}, {r:g})" for f, r in zip(f_grid[bad][:3], r_grid[bad][:3], strict=True))
        raise ClvFitError(
            f"{name} P(alive) is not finite or outside [0, 1] in {int(bad.sum())} cells of the"
            f" frequency x recency grid at T = {age:g}, e.g. (frequency, recency) {cells};"
            " this is a bug, please report it."
        )
    return pd.DataFrame({
        "frequency": f_grid, "recency": r_grid, "T": age,
        "probability_alive": np.clip(alive, 0.0, 1.0),
        "is_possible_history": (f_grid == 0) == (r_grid == 0),
    })


def cumulative_purchases(name: str, p: dict[str, float], frame: pd.DataFrame, holdout: pd.DataFrame,
                         as_of_date: dt.date, data_end_date: dt.date, days_per_unit: float) -> pd.DataFrame:
    """Repeat purchase days per holdout week of the customers known at as_of_date, and cumulated.

    ``predicted_*`` is the served model's conditional expectation
    sum_i E[Y(t) | x_i, t_x_i, T_i]; ``predicted_cumulative_unconditional``
    ignores each history and uses only the age, sum_i E[X(T_i + t)] - E[X(T_i)]
    (the curve lifetimes' ``expected_cumulative_transactions`` draws). The
    last week is cut at data_end_date.
    """
    n_days = (data_end_date - as_of_date).days
    ends = np.unique(np.minimum(np.arange(PERIOD_DAYS, n_days + PERIOD_DAYS, PERIOD_DAYS), n_days))
    t = ends / days_per_unit
    model = MODELS[name]
    x = frame["frequency"].to_numpy(dtype=float)
    rec, age = frame["recency"].to_numpy(dtype=float), frame["T"].to_numpy(dtype=float)
    pairs, inverse = _group(x, age)
    history = np.bincount(inverse.ravel(), weights=model.history_part(p, x, rec, age), minlength=len(pairs))
    conditional = np.array([(model.time_part(p, tk, pairs[:, 0], pairs[:, 1]) * history).sum() for tk in t])
    ages, counts = np.unique(age, return_counts=True)
    base = model.unconditional(p, ages)
    unconditional = np.array([(counts * (model.unconditional(p, ages + tk) - base)).sum() for tk in t])
    days = purchase_days(holdout)
    days = days.loc[days["customer_id"].isin(frame["customer_id"])]
    offset = (days["order_date"] - pd.Timestamp(as_of_date)).dt.days.to_numpy()
    offset = offset[(offset >= 1) & (offset <= n_days)]
    period = np.searchsorted(ends, offset)  # index of the first period end >= the day
    actual = np.bincount(period, minlength=len(ends)).astype(float)
    starts = np.concatenate([[0], ends[:-1]]) + 1
    return pd.DataFrame({
        "period": np.arange(1, len(ends) + 1, dtype="int64"),
        "period_start_date": pd.Timestamp(as_of_date) + pd.to_timedelta(starts, unit="D"),
        "period_end_date": pd.Timestamp(as_of_date) + pd.to_timedelta(ends, unit="D"),
        "n_customers": len(frame),
        "actual_purchases": actual,
        "predicted_purchases": np.diff(conditional, prepend=0.0),
        "actual_cumulative": np.cumsum(actual),
        "predicted_cumulative": conditional,
        "predicted_cumulative_unconditional": unconditional,
    })


def has_holdout_window(as_of_date: dt.date, data_end_date: dt.date, has_holdout: bool) -> bool:
    """True when orders after as_of_date exist to compare the model with."""
    return bool(has_holdout) and data_end_date > as_of_date


def holdout_note(as_of_date: dt.date, data_end_date: dt.date, has_holdout: bool) -> str:
    """'' or why the holdout diagnostics (calibration vs holdout, cumulative purchases) are empty."""
    if has_holdout_window(as_of_date, data_end_date, has_holdout):
        return ""
    return (
        "ml_clv_calibration_holdout and ml_clv_cumulative_purchases are empty: no orders after"
        f" as_of_date ({as_of_date}) to compare with; set as_of_date before the end of the data for a holdout"
    )


def build_diagnostic(
    kind: str,
    summary: pd.DataFrame,
    parameters: pd.DataFrame,
    dates: tuple[dt.date, dt.date, bool],
    holdout: pd.DataFrame,
    config: ClvConfig,
) -> pd.DataFrame:
    """One diagnostic table (``kind`` a key of :data:`COLUMNS`) for the served count model.

    ``dates`` is (as_of_date, data_end_date, has_holdout); ``holdout`` the
    purchases after as_of_date (customer_id, order_date, order_total).
    Empty when the step declined, and for the holdout kinds without a holdout.
    """
    columns = COLUMNS[kind]
    as_of_date, data_end, has_holdout = dates
    if parameters.empty or (kind in HOLDOUT_KINDS and not has_holdout_window(*dates)):
        return empty_like(list(columns), columns)
    model = fit_from_parameters(parameters).count_model
    name, p = model.name, model.params
    frame = validate_summary(summary, config)
    if kind == "period_transactions":
        out = period_transactions(name, p, frame)
    elif kind == "probability_alive_matrix":
        out = probability_alive_matrix(name, p, frame)
        out["time_unit"] = config.time_unit
    elif kind == "calibration_holdout":
        actual = window_actuals(holdout, as_of_date + dt.timedelta(days=1), data_end)["actual_purchases"]
        out = calibration_holdout(name, p, frame, actual, (data_end - as_of_date).days / config.days_per_unit)
        out["holdout_start_date"] = pd.Timestamp(as_of_date + dt.timedelta(days=1))
        out["holdout_end_date"] = pd.Timestamp(data_end)
    elif kind == "cumulative_purchases":
        out = cumulative_purchases(name, p, frame, holdout, as_of_date, data_end, config.days_per_unit)
    else:
        raise ValueError(f"unknown CLV diagnostic {kind!r}; one of {sorted(COLUMNS)}")
    out["count_model"] = name
    out["as_of_date"] = pd.Timestamp(as_of_date)
    out["model_version"] = MODEL_VERSION
    return out.loc[:, list(columns)].astype(columns)
