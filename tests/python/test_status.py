"""The shared status rule (shoplens/status.py) and the per-family status rows."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from shoplens import status as S
from shoplens.clv_evaluation import summary_from_purchases
from shoplens.clv_pipeline import build_status
from shoplens.clv_simulate import simulate_purchases
from shoplens.forecast_status import NO_BACKTEST, forecast_status

AS_OF = dt.date(2025, 6, 30)


def test_status_follows_rows_and_problems():
    ok = S.step_status("clv", AS_OF, served_model="bgnbd+gamma_gamma", rows_written=10, notes=["fine"])
    assert (ok.status, ok.reason, ok.warning_line()) == ("ok", "fine", "")
    bad = S.step_status("forecast", AS_OF, served_model="x", rows_written=3, problems=["fell back"])
    assert bad.status == "degraded" and bad.warning_line() == "shoplens forecast: degraded (served x): fell back"
    nothing = S.step_status("propensity", AS_OF, served_model="rnn_gru", rows_written=0, decline_reason="why")
    assert (nothing.status, nothing.served_model, nothing.reason) == ("declined", "none", "why")
    frame = nothing.frame()
    assert list(frame.columns) == S.STATUS_COLUMNS and frame["rows_written"].dtype == "int64"
    assert frame["as_of_date"].iloc[0] == AS_OF


@pytest.mark.parametrize("kwargs, match", [
    ({"model_step": "rfm"}, "model_step must be one of"),
    ({"status": "failed"}, "status must be one of"),
    ({"status": "declined", "rows_written": 4}, "a declined step writes no prediction rows"),
    ({"status": "degraded", "reason": " "}, "a degraded step needs a reason"),
])
def test_invalid_status_rows_are_refused(kwargs, match):
    base = dict(model_step="clv", status="ok", served_model="m", reason="r", rows_written=1, as_of_date=AS_OF)
    with pytest.raises(ValueError, match=match):
        S.StepStatus(**{**base, **kwargs})


def test_clv_status_declines_with_the_reason_and_fix():
    purchases, as_of = simulate_purchases(40, 200, seed=2)
    summary = summary_from_purchases(purchases, as_of)
    as_of_frame = pd.DataFrame({"as_of_date": [as_of], "data_end_date": [as_of], "has_holdout": [False]})
    from shoplens.clv import PARAMETER_COLUMNS, ClvConfig

    row = build_status(summary, pd.DataFrame(columns=PARAMETER_COLUMNS), pd.DataFrame(), pd.DataFrame(),
                       as_of_frame, ClvConfig()).iloc[0]
    assert row["status"] == "declined" and row["rows_written"] == 0
    assert "at least 100 purchasing customers" in row["reason"] and "clv_min_customers" in row["reason"]


def test_forecast_status_degrades_without_sarima_or_backtest():
    forecasts = pd.DataFrame({"series_level": ["total", "category"], "series_key": ["all", "toys"],
                              "measure": ["units", "units"], "method": ["seasonal_naive", "croston_sba"],
                              "fit_note": ["short history (14 days)", ""]})
    st = forecast_status(forecasts, pd.DataFrame({"evaluation_type": []}), AS_OF)
    assert st.status == "degraded" and st.served_model == "total: seasonal_naive"
    assert NO_BACKTEST in st.reason and "short history (14 days)" in st.reason
    fine = forecasts.assign(method="sarima")
    assert forecast_status(fine, pd.DataFrame({"evaluation_type": ["backtest"]}), AS_OF).status == "ok"
    assert forecast_status(forecasts.iloc[0:0], pd.DataFrame(), AS_OF).status == "declined"


def test_reasons_are_one_line():
    st = S.step_status("clv", AS_OF, served_model="m", rows_written=2, problems=["did not\n  converge"])
    assert st.reason == "did not converge" and "\n" not in st.warning_line()
