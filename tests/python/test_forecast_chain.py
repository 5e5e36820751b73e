"""One chain of origins per series: the backtest reads the production forecast's fits."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from shoplens import forecast as F
from shoplens.forecast import engine


def _demand(n_days: int, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    days = pd.date_range("2024-01-01", periods=n_days, freq="D")
    weekly = np.array([1.0, 0.9, 0.95, 1.0, 1.2, 1.5, 1.3])[days.dayofweek]
    units = rng.poisson(40 * weekly).astype(float)
    return pd.DataFrame({"series_level": "total", "series_key": "all", "demand_date": days.date,
                         "units": units, "revenue": units * 12.5})


@pytest.fixture
def fits_counted(monkeypatch) -> list[int]:
    """How many series each fitting pass was given (a fresh memory first)."""
    calls: list[int] = []
    real = engine._parallel_map

    def counted(task, values, config):
        calls.append(len(values))
        return real(task, values, config)

    monkeypatch.setattr(engine, "_parallel_map", counted)
    engine._FITTED.clear()
    return calls


def test_the_backtest_reuses_the_production_fits_and_gives_what_it_fits_itself(fits_counted):
    demand, config = _demand(400), F.ForecastConfig(top_n=0, n_jobs=1)
    forecasts = F.forecast_demand(demand, config)
    reused = F.backtest_candidates(demand, config)
    assert fits_counted == [2]  # units and revenue, fitted once for both steps
    engine._FITTED.clear()
    fitted = F.backtest_candidates(demand, config)
    assert fits_counted == [2, 2]
    for mine, other in zip(reused, fitted, strict=True):
        pd.testing.assert_frame_equal(mine, other)
    assert reused[0]["origin_date"].nunique() == config.backtest_origins
    # and the production forecast is the same whichever step fitted the chain
    again = F.forecast_demand(demand, config)
    assert fits_counted == [2, 2]
    pd.testing.assert_frame_equal(forecasts.drop(columns="fit_seconds"),
                                  again.drop(columns="fit_seconds"))


def test_other_demand_or_settings_are_fitted_again(fits_counted):
    demand, config = _demand(400), F.ForecastConfig(top_n=0, n_jobs=1)
    first = F.forecast_demand(demand, config)
    changed = demand.copy()
    changed.loc[changed.index[-1], "units"] += 50.0
    second = F.forecast_demand(changed, config)
    assert fits_counted == [2, 2]
    assert not np.allclose(first["point_forecast"], second["point_forecast"])
    F.backtest_candidates(changed, F.ForecastConfig(top_n=0, n_jobs=1, backtest_origins=2))
    earlier = demand["demand_date"].max() - dt.timedelta(days=7)
    F.forecast_demand(changed, config, as_of_date=earlier)
    assert fits_counted == [2, 2, 2, 2]


def test_the_production_forecast_calibrates_on_every_backtest_origin_a_short_series_has():
    # 110 days leave three backtest origins (the fourth would train on under two weeks):
    # the production forecast chooses and calibrates on all three
    config = F.ForecastConfig(top_n=0, n_jobs=1)
    assert len(engine._all_origins(110, config)) == 3
    forecasts = F.forecast_demand(_demand(110), config)
    notes = set(forecasts["fit_note"])
    assert notes and all("backtest winner over 3 origins" in note for note in notes), notes


def test_a_member_only_the_end_brings_leaves_the_backtest_as_it_was(monkeypatch):
    # backbone_weekly joins the combination when the backbone has calendar terms; if only
    # the fit at the end had them, the backtest must not change (nor see it)
    config = F.ForecastConfig(top_n=0, n_jobs=1)
    series = F.select_series(_demand(400), 0)[0]
    chain = engine._job(series, config)
    alone = engine.SeriesJob(series.values, chain.context, chain.origins[:-1], chain.targets[:-1],
                             chain.origins[0])
    end = len(series.values)
    monkeypatch.setattr(engine, "_has_calendar_terms", lambda fc: fc.n_train_days == end)
    with_end, = engine._series_task(([chain], config))
    without, = engine._series_task(([alone], config))
    assert with_end.candidates["backbone"][-1].n_train_days == end
    assert "backbone_weekly" in with_end.candidates and "backbone_weekly" not in without.candidates
    assert engine._weekly_joins(with_end.candidates["backbone"]) == [False] * (len(chain.origins) - 1) + [True]
    for name, fits in without.candidates.items():
        for mine, other in zip(with_end.candidates[name][:-1], fits, strict=True):
            np.testing.assert_array_equal(mine.mean, other.mean)
            np.testing.assert_array_equal(mine.upper_95, other.upper_95)
    for mine, other in zip(with_end.served[:-1], without.served, strict=True):
        np.testing.assert_array_equal(mine.mean, other.mean)
    # the end's combination has the fourth member
    members = [with_end.candidates[name][-1] for name in ("backbone", "backbone_weekly", "profile", "ets")]
    np.testing.assert_allclose(with_end.candidates["combination"][-1].mean,
                               engine.combine(members).mean)
    # and the backtest's candidate rows leave it out (fits kept apart from the other tests')
    monkeypatch.setattr(engine, "_FITTED", {})
    _, candidates = F.backtest_candidates(_demand(400), config)
    assert "backbone_weekly" not in set(candidates["candidate"])
    assert {"backbone", "combination", "ets", "profile"} <= set(candidates["candidate"])


def test_backbone_weekly_joins_the_combination_only_where_the_backbone_has_calendar_terms(monkeypatch):
    # from an origin whose backbone has no calendar terms the two SARIMAs are the same
    # model, so the combination keeps three members there; a later origin's terms change
    # nothing before it (the chain cut after origin k gives the same forecasts up to k)
    config = F.ForecastConfig(top_n=0, n_jobs=1)
    series = F.select_series(_demand(400), 0)[0]
    chain = engine._job(series, config)
    k = chain.backtest_origins - 2  # a scored backtest origin: later backtest origins have terms
    later = chain.origins[k]
    monkeypatch.setattr(engine, "_has_calendar_terms", lambda fc: fc.n_train_days > later)
    full, = engine._series_task(([chain], config))
    joins = engine._weekly_joins(full.candidates["backbone"])
    assert joins == [o > later for o in chain.origins] and any(joins) and not all(joins)
    names = ("backbone", "backbone_weekly", "profile", "ets")
    for i, joined in enumerate(joins):
        members = [full.candidates[name][i] for name in names if joined or name != "backbone_weekly"]
        np.testing.assert_allclose(full.candidates["combination"][i].mean, engine.combine(members).mean)
    targets = [t for t in chain.targets if t <= k]
    cut = engine.SeriesJob(series.values, chain.context, chain.origins[:k + 1], targets, chain.origins[0])
    short, = engine._series_task(([cut], config))
    np.testing.assert_array_equal(full.candidates["combination"][k].mean, short.candidates["combination"][k].mean)
    for mine, other in zip(full.served, short.served, strict=False):
        np.testing.assert_array_equal(mine.mean, other.mean)
        np.testing.assert_array_equal(mine.upper_95, other.upper_95)
