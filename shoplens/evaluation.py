"""The long, generic evaluation table shared by every model.

Every model writes its evidence into rows of one shape, so that a BI tool can
show all of them from one table (`ml_model_evaluation`):

===================  ========  ==================================================
column               type      meaning
===================  ========  ==================================================
model_name           str       e.g. ``bgnbd``, ``sarima``, ``rnn_gru``
model_version        str       package version plus the model's own tag
task                 str       e.g. ``repeat_purchases``, ``demand_units``
metric               str       e.g. ``mae``, ``auc``, ``mase``, ``coverage_80``
slice                str       ``all`` or a named subset, e.g. ``frequency=3``
value                float     the metric's value (finite)
n_obs                int       how many observations the value is computed on
as_of_date           date      the observation end of the fitted model
holdout_start_date   date      first day of the evaluation window
holdout_end_date     date      last day of the evaluation window
evaluation_type      str       ``holdout`` (data after as_of_date) or
                               ``backtest`` (a cut-off before as_of_date)
evaluated_at         datetime  UTC time the row was computed
===================  ========  ==================================================
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd
from scipy.stats import rankdata

EVALUATION_COLUMNS: list[str] = [
    "model_name",
    "model_version",
    "task",
    "metric",
    "slice",
    "value",
    "n_obs",
    "as_of_date",
    "holdout_start_date",
    "holdout_end_date",
    "evaluation_type",
    "evaluated_at",
]

EVALUATION_TYPES = ("holdout", "backtest")


def evaluation_frame(
    rows: Iterable[Mapping[str, object]],
    *,
    as_of_date: dt.date,
    holdout_start_date: dt.date | None,
    holdout_end_date: dt.date | None,
    evaluation_type: str,
    evaluated_at: dt.datetime | None = None,
) -> pd.DataFrame:
    """Build an evaluation table from metric rows.

    Each row needs ``model_name, model_version, task, metric, value`` and may
    give ``slice`` (default ``"all"``) and ``n_obs`` (default 0). Rows whose
    value is not finite are rejected with an error naming the metric: a NaN
    never reaches the table people read.
    """
    if evaluation_type not in EVALUATION_TYPES:
        raise ValueError(f"evaluation_type must be one of {EVALUATION_TYPES}, got {evaluation_type!r}")
    stamp = evaluated_at or dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    out = []
    for row in rows:
        value = float(row["value"])  # type: ignore[arg-type]
        if not math.isfinite(value):
            raise ValueError(
                f"evaluation metric {row['model_name']}/{row['task']}/{row['metric']}"
                f" slice={row.get('slice', 'all')} is not finite ({value})"
            )
        out.append(
            {
                "model_name": str(row["model_name"]),
                "model_version": str(row["model_version"]),
                "task": str(row["task"]),
                "metric": str(row["metric"]),
                "slice": str(row.get("slice", "all")),
                "value": value,
                "n_obs": int(row.get("n_obs", 0)),  # type: ignore[arg-type]
                "as_of_date": as_of_date,
                "holdout_start_date": holdout_start_date,
                "holdout_end_date": holdout_end_date,
                "evaluation_type": evaluation_type,
                "evaluated_at": stamp,
            }
        )
    frame = pd.DataFrame(out, columns=EVALUATION_COLUMNS)
    for col in ("as_of_date", "holdout_start_date", "holdout_end_date"):
        frame[col] = pd.to_datetime(frame[col]).dt.date
    frame["evaluated_at"] = pd.to_datetime(frame["evaluated_at"])
    frame["n_obs"] = frame["n_obs"].astype("int64")
    frame["value"] = frame["value"].astype("float64")
    return frame


def auc(score: np.ndarray, label: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney, ties count one half); NaN if one class."""
    label = np.asarray(label, dtype=bool)
    n_pos = int(label.sum())
    n_neg = len(label) - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(score)
    return float((ranks[label].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def auc_interval(score: np.ndarray, label: np.ndarray, z: float = 1.959963984540054) -> tuple[float, float]:
    """The 95% confidence interval of :func:`auc` (DeLong et al. 1988, normal, clipped to
    [0, 1]; ties count one half as in the AUC). Each buyer's share of non-buyers ranked
    below it and each non-buyer's share of buyers ranked above it vary from customer to
    customer; the AUC's variance is the sum of their variances over their counts. On 7
    buyers the interval is wide (an AUC of 0.71 may be 0.5 to 0.9): read it before
    comparing two models' AUCs. NaN, NaN if one class or a single buyer or non-buyer, and
    where the estimated variance is 0 (every buyer above every non-buyer, or one score for
    all): the data then say nothing of the spread, and [1, 1] on a few buyers would read as
    certainty."""
    label = np.asarray(label, dtype=bool)
    n_pos = int(label.sum())
    n_neg = len(label) - n_pos
    if n_pos < 2 or n_neg < 2:
        return float("nan"), float("nan")
    below, above = _placements(score, label)
    value = float(below.mean())
    se = math.sqrt(below.var(ddof=1) / n_pos + above.var(ddof=1) / n_neg)
    if se == 0.0:
        return float("nan"), float("nan")
    return max(0.0, value - z * se), min(1.0, value + z * se)


def _placements(score: np.ndarray, label: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """DeLong's placements: each buyer's share of non-buyers ranked below it, each
    non-buyer's share of buyers ranked above it (ties 1/2); their means are the AUC."""
    score = np.asarray(score, dtype="float64")
    n_pos = int(label.sum())
    n_neg = len(label) - n_pos
    ranks = rankdata(score)
    # a buyer's rank among all minus its rank among buyers = non-buyers below it (ties 1/2)
    below = (ranks[label] - rankdata(score[label])) / n_neg
    above = 1.0 - (ranks[~label] - rankdata(score[~label])) / n_pos
    return below, above


def auc_difference_z(score_a: np.ndarray, score_b: np.ndarray, label: np.ndarray) -> float:
    """z statistic of ``auc(score_a) - auc(score_b)`` on the same customers (DeLong et al.
    1988, paired: the difference of each customer's placements under the two scores, so
    the models' correlation is counted, as it must be for two models that rank mostly
    alike). Positive: ``score_a`` ranks better. NaN with one class or fewer than two of
    either; 0 when the two rank every customer alike; +-inf when the difference's
    variance is 0 but the AUCs differ."""
    label = np.asarray(label, dtype=bool)
    n_pos = int(label.sum())
    n_neg = len(label) - n_pos
    if n_pos < 2 or n_neg < 2:
        return float("nan")
    below_a, above_a = _placements(score_a, label)
    below_b, above_b = _placements(score_b, label)
    diff = float(below_a.mean() - below_b.mean())
    se = math.sqrt((below_a - below_b).var(ddof=1) / n_pos + (above_a - above_b).var(ddof=1) / n_neg)
    if se == 0.0:
        return 0.0 if diff == 0.0 else math.copysign(math.inf, diff)
    return diff / se


def deciles(p: np.ndarray) -> np.ndarray:
    """1 = the tenth with the highest score, 10 = the lowest (ties by order)."""
    n = len(p)
    if n == 0:
        return np.zeros(0, dtype="int64")
    order = np.argsort(-p, kind="stable")
    rank = np.empty(n, dtype="int64")
    rank[order] = np.arange(n)
    return (rank * 10 // n + 1).astype("int64")
