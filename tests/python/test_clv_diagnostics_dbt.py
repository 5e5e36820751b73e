"""The CLV diagnostic tables through dbt on CDNOW (slow: one dbt build).

CDNOW_sample.txt as raw orders, as_of_date 1997-09-30 in weeks with the
39-week holdout after it; only the four clv_* diagnostic views and their
ancestors are built (their data tests run with them). Checks that the tables
exist, add up to the customers and holdout purchases of the marts, and that
the expectations equal lifetimes' with the stored parameters.
"""

from __future__ import annotations

import lifetimes
import numpy as np
import pandas as pd
import pytest
from clv_fixtures import cdnow_raw_orders
from conftest import query, run_dbt

from shoplens.testing.cdnow import CDNOW_AS_OF

pytestmark = pytest.mark.slow
VIEWS = ["clv_period_transactions", "clv_calibration_holdout", "clv_probability_alive_matrix",
         "clv_cumulative_purchases"]
FITTERS = {"bgnbd": lifetimes.BetaGeoFitter, "mbgnbd": lifetimes.ModifiedBetaGeoFitter,
           "pareto_nbd": lifetimes.ParetoNBDFitter}


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    root = tmp_path_factory.mktemp("clv_diagnostics")
    raw = root / "raw"
    raw.mkdir()
    cdnow_raw_orders().to_csv(raw / "orders.csv", index=False)
    db = root / "cdnow.duckdb"
    variables = {"as_of_date": str(CDNOW_AS_OF), "btyd_time_unit": "weeks", "export_date": "1998-07-01",
                 "min_valid_date": "1990-01-01", "clv_candidates": "bgnbd,pareto_nbd"}
    select = [f"+{v}" for v in VIEWS] + ["+ml_clv_status"]
    run_dbt("build", db, raw, variables, extra=["--select", *select, "--indirect-selection", "cautious"])
    return db


def test_tables_add_up(warehouse):
    n_customers = int(query(warehouse, "select count(*) as n from customer_btyd_summary")["n"].iloc[0])
    assert n_customers >= 2349  # CDNOW's 2,357 less at most its 8 zero-total first purchases
    period = query(warehouse, "select * from clv_period_transactions order by frequency")
    assert period["n_customers_actual"].sum() == n_customers
    assert period["n_customers_expected"].sum() == pytest.approx(n_customers, abs=1e-6)
    calibration = query(warehouse, "select * from clv_calibration_holdout order by frequency")
    assert calibration["n_customers"].sum() == n_customers
    holdout_days = query(warehouse, """select count(*) as n from (select distinct h.customer_id, h.order_date
        from holdout_orders as h inner join customer_btyd_summary as s on h.customer_id = s.customer_id
        where h.is_purchase)""")["n"].iloc[0]
    cumulative = query(warehouse, "select * from clv_cumulative_purchases order by period")
    assert len(cumulative) == 39
    assert cumulative["actual_cumulative"].iloc[-1] == holdout_days == calibration["actual_total_purchases"].sum()
    assert cumulative["predicted_cumulative"].iloc[-1] == pytest.approx(
        calibration["predicted_total_purchases"].sum(), rel=1e-9)
    served_total = query(warehouse, """select e.value from ml_clv_evaluation as e inner join
        clv_period_transactions as p on e.model_name = p.count_model where e.task = 'repeat_purchases'
        and e.metric = 'predicted_total' and e.slice = 'all' limit 1""")["value"].iloc[0]
    assert cumulative["predicted_cumulative"].iloc[-1] == pytest.approx(served_total, rel=1e-9)
    alive = query(warehouse, "select * from clv_probability_alive_matrix")
    assert alive["frequency"].max() == query(warehouse, "select max(frequency) as f from customer_btyd_summary")["f"][0]
    status = query(warehouse, "select reason from ml_clv_status")["reason"].iloc[0]
    assert "are empty" not in str(status)


def test_expectations_equal_lifetimes(warehouse):
    params = query(warehouse, "select * from ml_clv_parameters where is_selected and model_role = 'count'")
    name = params["model_name"].iloc[0]
    fitter = FITTERS[name]()
    fitter.params_ = pd.Series(dict(zip(params["parameter"], params["estimate"], strict=True)))
    summary = query(warehouse, 'select frequency, recency, "T" from customer_btyd_summary')
    calibration = query(warehouse, "select * from clv_calibration_holdout order by frequency")
    pred = fitter.conditional_expected_number_of_purchases_up_to_time(
        39.0, summary["frequency"], summary["recency"], summary["T"])
    means = pd.Series(np.asarray(pred)).groupby(np.minimum(summary["frequency"], 7)).mean()
    assert np.allclose(calibration["predicted_mean_purchases"], means.to_numpy(), rtol=1e-6)
    alive = query(warehouse, "select * from clv_probability_alive_matrix")
    ref = fitter.conditional_probability_alive(alive["frequency"], alive["recency"], alive["age"])
    assert np.allclose(alive["probability_alive"], ref, rtol=1e-6)
    assert set(query(warehouse, "select count_model from clv_period_transactions")["count_model"]) == {name}
