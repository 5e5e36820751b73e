"""The damped ETS member of the combination (issue 12, fifth round)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from shoplens import forecast as F
from shoplens.forecast.ets import ETS_NAME, ets_fits

WEEKDAY = np.array([1.0, 0.8, 0.8, 0.9, 1.1, 1.6, 1.8])


def _weekly(n_days: int, level: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    mean = level * WEEKDAY[np.arange(n_days) % 7] * np.linspace(1.0, 1.3, n_days)
    return mean, np.random.default_rng(seed).poisson(mean).astype(float)


def test_ets_follows_the_weekly_shape_and_level():
    config = F.ForecastConfig()
    mean, y = _weekly(400 + 28, 50.0, 1)
    (fc,) = ets_fits(y, [400], config)
    assert fc.method == ETS_NAME and fc.model_order.startswith("ETS(") and "d," in fc.model_order
    truth = mean[400:]
    assert abs(fc.mean.mean() / truth.mean() - 1) < 0.08
    assert np.corrcoef(fc.mean, truth)[0, 1] > 0.9  # the weekend peak is forecast
    assert np.all(fc.lower_95 <= fc.lower_80) and np.all(fc.lower_80 <= fc.mean)
    assert np.all(fc.mean <= fc.upper_80) and np.all(fc.upper_80 <= fc.upper_95)
    assert np.all(fc.se > 0) and np.all(np.diff(fc.se) >= -1e-9)  # grows with the horizon


def test_ets_is_searched_once_and_reads_nothing_after_an_origin():
    config = F.ForecastConfig()
    _, y = _weekly(500, 30.0, 2)
    origins = [380, 408, 436]
    fits = ets_fits(y, origins, config)
    assert [fc.method for fc in fits] == [ETS_NAME] * 3
    assert len({fc.model_order for fc in fits}) == 1  # the first origin's model, run forward
    assert "searched" in fits[0].note and "forward" in fits[1].note
    # the days after each origin may be anything: its forecast does not change
    for k, origin in enumerate(origins):
        other = y.copy()
        other[origin:] = 1000.0
        again = ets_fits(other, origins[: k + 1], config)[-1]
        assert np.array_equal(again.mean, fits[k].mean) and np.array_equal(again.upper_95, fits[k].upper_95)
    # later origins see the newer data: a jump in level before them moves their forecast
    jumped = y.copy()
    jumped[400:] *= 2
    assert ets_fits(jumped, origins, config)[2].mean.mean() > 1.5 * fits[2].mean.mean()
    # two runs are identical
    assert all(np.array_equal(a.mean, b.mean) for a, b in zip(fits, ets_fits(y, origins, config), strict=True))


def test_ets_short_history_and_degenerate_series_fall_back_to_seasonal_naive():
    config = F.ForecastConfig()
    _, y = _weekly(200, 10.0, 3)
    y[:100] = 0.0  # 44 days after the first sale at the first origin, 72 at the second, 100 at the third
    fits = ets_fits(y, [200 - 56, 200 - 28, 200], config)
    assert [fc.method for fc in fits[:2]] == ["seasonal_naive"] * 2
    assert "ets: short history" in fits[0].note
    # enough history at the last origin: searched there
    assert fits[2].method == ETS_NAME and "searched" in fits[2].note
    for values in (np.zeros(300), np.full(300, 4.0)):
        (fc,) = ets_fits(values, [300], config)
        assert fc.method in (ETS_NAME, "seasonal_naive")
        assert np.isfinite(fc.mean).all() and (fc.lower_95 >= 0).all()


def test_ets_is_a_member_of_the_served_combination():
    days = 400
    y = np.random.default_rng(9).poisson(20.0 * WEEKDAY[np.arange(days) % 7]).astype(float)
    demand = pd.DataFrame({"series_level": "total", "series_key": "all",
                           "demand_date": pd.date_range(dt.date(2024, 1, 1), periods=days).date,
                           "units": y, "revenue": 10 * y})
    config = F.ForecastConfig(top_n=0, n_jobs=1)
    out = F.forecast_demand(demand, config)
    assert set(out["method"]) == {"combination"}
    assert out["model_order"].str.contains(", ETS(", regex=False).all()
    served, candidates = F.backtest_candidates(demand, config)
    assert ETS_NAME in set(candidates["candidate"])
    # the combination is the mean of its members on every backtest day
    wide = candidates.pivot_table(index=["measure", "origin_date", "horizon_day"],
                                  columns="candidate", values="point_forecast")
    members = [c for c in ("backbone", "backbone_weekly", "profile", ETS_NAME) if c in wide]
    assert len(members) >= 3
    assert np.allclose(wide[members].mean(axis=1).clip(lower=0), wide["combination"])
    from shoplens.forecast import metrics

    rows = metrics.evaluation_rows(served, as_of_date=dt.date(2025, 1, 1), candidates=candidates)
    assert "ets_damped" in set(rows["model_name"])


def test_a_runaway_interval_after_a_spike_falls_back_and_stays_out_of_the_combination():
    config = F.ForecastConfig()
    _, y = _weekly(460, 30.0, 4)
    y[420] = 1e9  # one absurd day after the search origin
    fits = ets_fits(y, [400, 428], config)
    assert fits[0].method == ETS_NAME and fits[0].model_order.startswith("ETS(M,")
    # the multiplicative model run over the spike: a 95% bound of 5.9e149
    assert fits[1].method == "seasonal_naive" and "runaway interval" in fits[1].note
