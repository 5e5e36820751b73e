"""Scoring the customers a part at a time with models fitted on all of them (Spark's mapInPandas).

:func:`run_propensity` fits and scores in one process. On an engine that
splits the customers over workers the same run is cut in three:

1. :func:`plan_scores`, once, over every customer: choose and train (or load)
   the served model, and fit the population's BG/NBD baseline at each scoring
   cut-off (both are global fits). The result, a :class:`ScorePlan`, holds
   plain values only (the GRU as its weights and configuration), so it can be
   shipped to the workers.
2. :func:`score_part`, on each part of the customers (all the rows of a
   customer in one part): the same :func:`score_snapshot` as
   :func:`run_propensity`, with the population's BG/NBD fit.
3. :func:`with_deciles` (or the engine's own ranking by the same rule) over
   all the scored rows: a decile ranks a customer among every customer of the
   score date, so it cannot be computed within a part.

Every column but ``decile`` depends on the customer's own rows and the global
fits only, so the concatenated parts equal :func:`run_propensity`'s scores.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pandas as pd

from shoplens.evaluation import deciles
from shoplens.propensity.config import PropensityConfig
from shoplens.propensity.score import _history_at, concat_snapshots, fit_propensity, score_snapshot
from shoplens.propensity.served import ServedPropensity, from_payload  # noqa: F401 (re-exported)


@dataclasses.dataclass
class ScorePlan:
    """What every part needs from the global fits (plain, picklable values)."""

    model: dict  # ServedPropensity.to_payload()
    cutoffs: list[tuple[int, bool]]  # (day, is_current), in run_propensity's order
    population: dict[int, dict]  # cut-off day -> fit_population of every customer known then
    as_of_date: dt.date
    has_holdout: bool
    cfg: PropensityConfig
    event_shop: bool  # whether the shop has web events (every part keeps the shop's channels)
    metadata: dict


def plan_scores(orders: pd.DataFrame, sessions: pd.DataFrame | None, customers: pd.DataFrame,
                as_of_date: dt.date, has_holdout: bool, cfg: PropensityConfig | None = None,
                model_dir: str | Path | None = None, retrain: bool = True) -> ScorePlan:
    """The global fits of :func:`run_propensity` (same arguments) for :func:`score_part`."""
    cfg = cfg or PropensityConfig()
    model, history, cutoffs, population = fit_propensity(orders, sessions, customers, as_of_date, has_holdout,
                                                         cfg, model_dir, retrain)
    return ScorePlan(model.to_payload(), cutoffs, population, as_of_date, has_holdout, cfg,
                     history.has_events, model.metadata)


def score_part(plan: ScorePlan, orders: pd.DataFrame, sessions: pd.DataFrame | None,
               customers: pd.DataFrame, model: ServedPropensity | None = None) -> pd.DataFrame:
    """The score rows (SCORE_COLUMNS) of the customers in this part's rows (every row of a
    customer must be in the part; the part needs a purchase). ``decile`` ranks the part's rows
    only: rank all the parts' rows with :func:`with_deciles`. ``model``: the plan's model
    already rebuilt (:func:`served_model`)."""
    model = model or served_model(plan)
    history, _, _ = _history_at(orders, sessions, customers, plan.as_of_date, plan.has_holdout, plan.cfg)
    history = dataclasses.replace(history, event_shop=plan.event_shop)
    frames = [score_snapshot(model, history, day, plan.cfg.window_days, current, plan.population[day])
              for day, current in plan.cutoffs]
    scores = concat_snapshots(frames)
    scores["customer_id"] = scores["customer_id"].astype(str)
    return scores


def served_model(plan: ScorePlan) -> ServedPropensity:
    """The served model of the plan (the GRU rebuilt from its weights when it was trained)."""
    return from_payload(plan.model)


def with_deciles(scores: pd.DataFrame) -> pd.DataFrame:
    """``decile`` over every row of each score date: :func:`shoplens.evaluation.deciles` of
    ``purchase_probability``, ties in customer order (as :func:`score_snapshot` ranks)."""
    out = scores.sort_values(["score_date", "customer_id"], kind="stable").reset_index(drop=True)
    for _, rows in out.groupby("score_date", sort=False).groups.items():
        out.loc[rows, "decile"] = deciles(out.loc[rows, "purchase_probability"].to_numpy("float64"))
    out["decile"] = out["decile"].astype("int64")
    return out
