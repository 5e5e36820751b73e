"""Published results reproduce through the real pipeline (slow: runs dbt).

CDNOW_sample.txt, shipped inside lifetimes (2,357 customers of the 1/10 CDNOW
cohort, Jan 1997 - Jun 1998), is written as raw orders, and
``dbt build --select +pred_customer_ltv +ml_clv_evaluation`` runs with
as_of_date 1997-09-30 and weeks, as in the literature. Sources of the
expected figures:

* BG/NBD r=0.243, alpha=4.414, a=0.793, b=2.426: Fader, Hardie & Lee (2005),
  "Counting Your Customers the Easy Way", Marketing Science 24(2), 275-284,
  log-likelihood -9582.4; the same paper's Pareto/NBD on these data:
  r=0.55, alpha=10.58, s=0.61, beta=11.67.
  lifetimes' docs report the same fit on its bundled ``cdnow_customers_summary``
  ("a: 0.79, alpha: 4.41, b: 2.43, r: 0.24").
* Gamma-Gamma p=6.25, q=3.74, v=15.44: Fader & Hardie (2013), "The
  Gamma-Gamma Model of Monetary Value" (946 repeat buyers; log-likelihood
  -4055.9). lifetimes' docs report p 6.25, q 3.74, v 15.45 for
  ``load_cdnow_summary_data_with_monetary_value``, whose summary rounds the
  spend to cents; from the transactions we get the paper's 15.44.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import lifetimes
import pytest
from clv_fixtures import cdnow_raw_orders, cdnow_transactions, rel_diff

from shoplens.testing.cdnow import CDNOW_AS_OF

REPO = Path(__file__).resolve().parents[2]
PUBLISHED_BGNBD = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
PUBLISHED_GG = {"p": 6.25, "q": 3.74, "v": 15.44}
PUBLISHED_PARETO = {"r": 0.55, "alpha": 10.58, "s": 0.61, "beta": 11.67}
# Issue 11: every estimate within 0.1 % of these, or, where the publication
# rounds more coarsely than that (q = 3.74: half a unit of its last digit is
# 0.13 %), equal at the published precision. Measured: r, alpha, a, b, p, v
# within 0.03 %; q 3.7442 (0.11 %, rounds to 3.74).
PUBLISHED_BGNBD_4 = {"r": 0.2426, "alpha": 4.414, "a": 0.7931, "b": 2.426}
PUBLISHED_GG_4 = {"p": 6.25, "q": 3.74, "v": 15.44}


def _published_tolerance(value: float) -> float:
    decimals = len(repr(value).split(".")[1]) if "." in repr(value) else 0
    return max(1e-3 * abs(value), 0.5 * 10.0 ** -decimals)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cdnow_warehouse(tmp_path_factory):
    root = tmp_path_factory.mktemp("cdnow")
    raw = root / "raw"
    raw.mkdir()
    cdnow_raw_orders().to_csv(raw / "orders.csv", index=False)
    db = root / "cdnow.duckdb"
    dbt = Path(sys.executable).parent / "dbt"
    env = {**os.environ, "DUCKDB_PATH": str(db), "DBT_PROFILES_DIR": str(REPO)}
    vars_ = (
        f"{{raw_data_dir: '{raw}', as_of_date: '{CDNOW_AS_OF}', btyd_time_unit: weeks,"
        " export_date: '1998-07-01', min_valid_date: '1990-01-01'}"  # CDNOW is from 1997
    )
    cmd = [
        str(dbt), "build", "--select", "+pred_customer_ltv", "+ml_clv_evaluation",
        "--indirect-selection", "cautious", "--vars", vars_,
        "--target-path", str(root / "target"), "--log-path", str(root / "logs"),
    ]
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    con = duckdb.connect(str(db), read_only=True)
    yield con
    con.close()


def _params(con, model):
    rows = con.execute(
        "select parameter, estimate from ml_clv_parameters where model_name = ?", [model]
    ).fetchall()
    return dict(rows)


def test_bgnbd_reproduces_fader_hardie_lee(cdnow_warehouse):
    est = _params(cdnow_warehouse, "bgnbd")
    for name, published in PUBLISHED_BGNBD.items():
        assert round(est[name], 3) == published, (name, est[name])
    n, ll = cdnow_warehouse.execute(
        "select distinct n_customers, log_likelihood from ml_clv_parameters where model_name = 'bgnbd'"
    ).fetchone()
    assert n == 2357
    assert ll == pytest.approx(-9582.4, abs=0.05)  # the paper's log-likelihood


def test_every_customer_counts_and_estimates_within_a_tenth_of_a_percent(cdnow_warehouse):
    """The eight $0.00 first purchases are purchases: all 2,357 customers are fitted."""
    con = cdnow_warehouse
    assert con.execute("select count(*) from customer_btyd_summary").fetchone()[0] == 2357
    zero = con.execute("select count(*) from fct_orders where order_total = 0").fetchone()[0]
    assert zero == 8
    for model, published in (("bgnbd", PUBLISHED_BGNBD_4), ("gamma_gamma", PUBLISHED_GG_4)):
        est = _params(con, model)
        for name, value in published.items():
            assert abs(est[name] - value) <= _published_tolerance(value), (model, name, est[name], value)
            assert rel_diff(est[name], value) < 1e-3 or round(est[name], 2) == value


def test_holdout_interval_coverage(cdnow_warehouse):
    """80 % predictive intervals of 39-week revenue cover 80 % of customers (within 5 points)."""
    rows = cdnow_warehouse.execute(
        "select slice, value from ml_clv_evaluation where metric = 'interval_coverage_80'"
        " and task = 'revenue'"
    ).fetchall()
    cov = dict(rows)
    assert len(cov) == 11
    # recalibrated on the inner split (136 days = half of 1997-01-01 .. 1997-09-30, nothing after it):
    # within 5 points overall and in every decile of expected revenue
    assert all(abs(v - 0.8) < 0.05 for v in cov.values()), cov
    window = cdnow_warehouse.execute(
        "select value from ml_clv_evaluation where metric = 'interval_calibration_window_days'").fetchone()[0]
    assert window == 136


def test_pareto_nbd_reproduces_published(cdnow_warehouse):
    est = _params(cdnow_warehouse, "pareto_nbd")
    for name, published in PUBLISHED_PARETO.items():
        assert round(est[name], 2) == published, (name, est[name])


def test_gamma_gamma_reproduces_fader_hardie(cdnow_warehouse):
    est = _params(cdnow_warehouse, "gamma_gamma")
    for name, published in PUBLISHED_GG.items():
        assert round(est[name], 2) == published, (name, est[name])
    n, ll = cdnow_warehouse.execute(
        "select distinct n_customers, log_likelihood from ml_clv_parameters where model_name = 'gamma_gamma'"
    ).fetchone()
    assert n == 946
    assert ll == pytest.approx(-4055.9, abs=0.05)  # the note's log-likelihood


def test_pipeline_equals_direct_lifetimes_fit(cdnow_warehouse):
    """The SQL summary and the weighting change nothing (relative difference < 1e-4)."""
    tx = cdnow_transactions()
    cal = tx.loc[tx["order_date"] <= str(CDNOW_AS_OF)]
    summary = lifetimes.utils.summary_data_from_transaction_data(
        cal, "customer_id", "order_date", monetary_value_col="dollars",
        observation_period_end=str(CDNOW_AS_OF), freq="D", freq_multiplier=7,
    )
    bg = lifetimes.BetaGeoFitter().fit(summary["frequency"], summary["recency"], summary["T"])
    rep = summary.loc[summary["frequency"] > 0]
    gg = lifetimes.GammaGammaFitter().fit(rep["frequency"], rep["monetary_value"])
    ours_bg = _params(cdnow_warehouse, "bgnbd")
    ours_gg = _params(cdnow_warehouse, "gamma_gamma")
    for name, value in bg.params_.items():
        assert rel_diff(ours_bg[name], value) < 1e-4
    for name, value in gg.params_.items():
        assert rel_diff(ours_gg[name], value) < 1e-4


def test_holdout_evaluation_and_predictions(cdnow_warehouse):
    con = cdnow_warehouse
    kinds = {r[0] for r in con.execute("select distinct evaluation_type from ml_clv_evaluation").fetchall()}
    assert kinds == {"holdout"}
    start, end = con.execute(
        "select distinct holdout_start_date, holdout_end_date from ml_clv_evaluation"
    ).fetchone()
    assert str(start) == "1997-10-01" and str(end) == "1998-06-30"
    totals = dict(
        ((m, k), v)
        for m, k, v in con.execute(
            "select model_name, metric, value from ml_clv_evaluation"
            " where task = 'repeat_purchases' and slice = 'all'"
            " and metric in ('predicted_total', 'actual_total', 'bias_pct')"
        ).fetchall()
    )
    # 39-week holdout: 1,882 repeat purchase days happened (1,959 CDNOW lines, same-day lines merged)
    assert totals[("bgnbd", "actual_total")] == 1882
    # BG/NBD's conditional expectation, recomputed here with lifetimes' own method
    tx = cdnow_transactions()
    cal = tx.loc[tx["order_date"] <= str(CDNOW_AS_OF)]
    summary = lifetimes.utils.summary_data_from_transaction_data(
        cal, "customer_id", "order_date", observation_period_end=str(CDNOW_AS_OF),
        freq="D", freq_multiplier=7,
    )
    bg = lifetimes.BetaGeoFitter().fit(summary["frequency"], summary["recency"], summary["T"])
    expected = bg.conditional_expected_number_of_purchases_up_to_time(
        39, summary["frequency"], summary["recency"], summary["T"]
    ).sum()
    assert totals[("bgnbd", "predicted_total")] == pytest.approx(expected, rel=1e-4)
    # measured: BG/NBD -12.1 %, MBG/NBD -16.2 %: all candidates under-forecast this holdout, by < 20 %
    for model in ("bgnbd", "mbgnbd", "pareto_nbd"):
        assert -20 < totals[(model, "bias_pct")] < 0, (model, totals[(model, "bias_pct")])
    n, bad = con.execute(
        "select count(*), count(*) filter (where probability_alive not between 0 and 1"
        " or not isfinite(clv) or clv < 0 or clv_p10 > clv_p90) from pred_customer_ltv"
    ).fetchone()
    assert n == 2357 and bad == 0
    chosen = con.execute(
        "select distinct model_name from ml_clv_parameters where is_selected and model_role = 'count'"
    ).fetchall()
    used = con.execute("select distinct count_model from pred_customer_ltv").fetchall()
    assert chosen == used and len(used) == 1
