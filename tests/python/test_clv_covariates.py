"""BG/NBD and Pareto/NBD with time-invariant covariates: likelihood, recovery, choice, scoring."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from shoplens import clv
from shoplens.clv.covariate_fit import CovariateFit, fit_covariate_model
from shoplens.clv.covariate_likelihood import CovariateCounts, covariate_nll
from shoplens.clv.covariate_score import score_with_covariates
from shoplens.clv.covariates import build_design, covariate_names_from_dbt, customer_covariates
from shoplens.clv.evaluation import summary_from_purchases
from shoplens.clv.likelihood import CountData, bgnbd_nll
from shoplens.clv.models import lifetimes
from shoplens.clv.pipeline import build_evaluation, build_parameters, build_predictions
from shoplens.testing.clv_simulate import simulate_summary_with_covariates, simulate_with_covariates

EFFECTS = {
    "bgnbd": {"alpha": {"app": 0.6, "store": -0.4}, "a": {"app": 1.5}, "b": {"app": -1.0}},
    "pareto_nbd": {"alpha": {"app": 0.6, "store": -0.4}, "s": {"app": 1.0}, "beta": {"app": 1.0}},
}


def _rows(n: int = 300, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 6, n)
    age = rng.uniform(5, 50, n)
    return pd.DataFrame({"group": rng.integers(0, 3, n), "frequency": x,
                         "recency": np.where(x > 0, rng.uniform(0, 1, n) * age, 0.0), "T": age,
                         "weight": rng.integers(1, 4, n)})


@pytest.mark.parametrize("model", ["bgnbd", "pareto_nbd"])
def test_likelihood_matches_the_model_without_covariates_and_its_gradient(model):
    rows = _rows()
    data = CovariateCounts.from_rows(rows, np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]))
    base = np.log([0.5, 0.3, 0.7, 2.0])
    value, _ = covariate_nll(np.concatenate([base, np.zeros(6)]), data, 0.0, model)
    if model == "bgnbd":
        expected = bgnbd_nll(base, CountData.from_patterns(rows), 0.0)[0]
    else:
        w = rows["weight"].to_numpy()
        ll = lifetimes().ParetoNBDFitter._conditional_log_likelihood(
            np.exp(base), rows["frequency"].to_numpy(), data.tx, data.age)
        expected = -(w @ ll) / w.sum()
    assert value == pytest.approx(expected, rel=1e-10)
    theta = np.concatenate([base, [0.2, -0.3, 0.1, 0.4, -0.2, 0.3]])
    _, grad = covariate_nll(theta, data, 0.0, model)
    h = 1e-6
    numeric = [(covariate_nll(theta + e, data, 0.0, model)[0] - covariate_nll(theta - e, data, 0.0, model)[0])
               / (2 * h) for e in np.eye(len(theta)) * h]
    np.testing.assert_allclose(grad, numeric, atol=1e-7)


def _fit(model: str, effects: dict, n: int, seed: int = 7) -> tuple[CovariateFit, clv.FittedModel]:
    """Fit with covariates on the simulated process's exact (continuous-time) summary."""
    summary, _, covs = simulate_summary_with_covariates(n, 450, model=model, effects=effects, seed=seed)
    config = clv.ClvConfig(candidates=(model,))
    base = clv.fit_model(model, clv.compress_counts(summary))
    design, _ = build_design(covs, ("channel",))
    groups, matrix = design.groups(covs)
    return fit_covariate_model(base, summary, groups, matrix, design, config), base


def test_the_fit_does_not_depend_on_the_order_of_the_rows():
    """DuckDB hands rows over in any order between builds: the groups and patterns are
    sorted, so the likelihood sums in one order and the estimates are bit-identical."""
    summary, _, covs = simulate_summary_with_covariates(2000, 450, model="bgnbd", effects=EFFECTS["bgnbd"], seed=3)
    config = clv.ClvConfig(candidates=("bgnbd",))
    base = clv.fit_model("bgnbd", clv.compress_counts(summary))
    design, _ = build_design(covs, ("channel",))
    fits = []
    for order in (np.arange(len(summary)), np.random.default_rng(1).permutation(len(summary))):
        s, c = summary.iloc[order].reset_index(drop=True), covs.iloc[order].reset_index(drop=True)
        groups, matrix = design.groups(c)
        fits.append(fit_covariate_model(base, s, groups, matrix, design, config))
    tied = pd.DataFrame({"channel": ["b", "a"] * 500 + ["c"] * 400})  # a and b tie for first place
    assert build_design(tied, ("channel",))[0] == build_design(tied.iloc[::-1], ("channel",))[0]
    assert fits[0].theta.tolist() == fits[1].theta.tolist()
    assert fits[0].log_likelihood == fits[1].log_likelihood
    assert np.array_equal(fits[0].covariance, fits[1].covariance)


def _truth(cf: CovariateFit, effects: dict) -> np.ndarray:
    return np.array([effects.get(n.split(":")[0], {}).get(n.split("=")[1], 0.0)
                     for n in cf.parameter_names[4:]])


@pytest.mark.parametrize(("model", "n"), [("bgnbd", 6000), ("pareto_nbd", 3000)])
def test_coefficients_are_recovered_within_their_standard_errors(model, n):
    cf, _ = _fit(model, EFFECTS[model], n)
    assert cf.design.columns == ("channel=app", "channel=store")  # web, the largest level, is the reference
    z = (cf.theta[4:] - _truth(cf, EFFECTS[model])) / cf.standard_errors[4:]
    # each within 2 SE here; 3 SE keeps a 10-coefficient check from failing on 1 seed in 2
    assert np.all(np.abs(z) < 3), dict(zip(cf.parameter_names[4:], z.round(2), strict=True))
    alpha_app = cf.parameter_names.index("alpha:channel=app")
    assert cf.theta[alpha_app] / cf.standard_errors[alpha_app] > 4  # a real effect is seen as one
    assert cf.lr_test()[2] < 1e-6


def test_without_effects_the_coefficients_are_near_zero():
    cf, _ = _fit("bgnbd", {}, 6000, seed=11)
    z = cf.theta[4:] / cf.standard_errors[4:]
    assert np.all(np.abs(z) < 3), z
    assert cf.lr_test()[2] > 0.01


def _marts(effects: dict, seed: int):
    purchases, as_of, covs = simulate_with_covariates(5000, 450, effects=effects, holdout_days=120, seed=seed)
    dates = pd.to_datetime(purchases["order_date"])
    orders = purchases.loc[dates <= pd.Timestamp(as_of)]
    holdout = purchases.loc[dates > pd.Timestamp(as_of)]
    as_of_frame = pd.DataFrame({"as_of_date": [pd.Timestamp(as_of)],
                                "data_end_date": [pd.Timestamp(as_of + dt.timedelta(days=120))],
                                "has_holdout": [True]})
    return summary_from_purchases(orders, as_of), orders, holdout, as_of_frame, covs


@pytest.mark.parametrize(("effects", "served"), [(EFFECTS["bgnbd"], "bgnbd_cov"), ({}, "bgnbd")])
def test_the_three_steps_serve_covariates_only_when_they_help(effects, served):
    summary, orders, holdout, as_of_frame, covs = _marts(effects, seed=7 if effects else 11)
    config = clv.ClvConfig(candidates=("bgnbd",), n_draws=20)
    names = ("channel",)
    params = build_parameters(summary, as_of_frame, holdout, config, customers=covs, covariates=names)
    count = params.loc[params["is_selected"] & (params["model_role"] == "count"), "model_name"].unique()
    assert list(count) == [served]
    coefs = params.loc[params["model_role"] == "covariate"]
    assert len(coefs) == 6 and set(coefs["model_name"]) == {"bgnbd_cov"}
    assert np.isfinite(coefs["standard_error"]).all() and (coefs["standard_error"] > 0).all()
    reason = params.loc[params["model_name"] == "bgnbd", "selection_reason"].iloc[0]
    assert ("holdout customer-level MAE" in reason) if effects else ("no detectable effect" in reason)
    pred = build_predictions(summary, params, as_of_frame, config, customers=covs, covariates=names)
    assert len(pred) == len(summary) and set(pred["count_model"]) == {served}
    ev = build_evaluation(summary, params, as_of_frame, orders, holdout, config, customers=covs, covariates=names)
    mae = ev.loc[(ev["metric"] == "mae") & (ev["slice"] == "all") & (ev["task"] == "repeat_purchases")]
    mae = mae.set_index("model_name")["value"]
    assert (mae["bgnbd_cov"] < mae["bgnbd"]) == bool(effects)
    chosen = ev.loc[ev["metric"] == "is_selected"].set_index("model_name")["value"]
    assert chosen[served] == 1 and chosen.sum() == 1


def test_group_scoring_with_zero_coefficients_equals_the_model_without():
    purchases, as_of, covs = simulate_with_covariates(2000, 450, effects={}, seed=3)
    summary = summary_from_purchases(purchases, as_of)
    config = clv.ClvConfig(candidates=("bgnbd",), n_draws=20)
    fit = clv.fit_clv(summary, config)
    covs = summary[["customer_id"]].merge(covs, on="customer_id")
    design, _ = build_design(covs, ("channel",))
    groups, matrix = design.groups(covs)
    cf = fit_covariate_model(fit.count_models["bgnbd"], summary, groups, matrix, design, config)
    cf.theta = np.concatenate([fit.count_models["bgnbd"].log_params, np.zeros(6)])
    cf.covariance = np.zeros_like(cf.covariance)
    cf.covariance[:4, :4] = fit.count_models["bgnbd"].log_covariance
    scored = clv.score_customers(fit, summary, config, as_of_date=as_of)
    again = score_with_covariates(scored, fit, cf, groups, matrix, config)
    for col in ("probability_alive", "expected_purchases_90d", "clv", "expected_days_to_next_purchase"):
        np.testing.assert_allclose(again[col], scored[col], rtol=1e-9)
    assert set(again["count_model"]) == {"bgnbd_cov"}
    # The interval is simulated (posterior predictive) per group, so it equals the
    # base model's up to Monte Carlo error: compare with many draws.
    wide = replace(config, n_draws=400)
    scored = clv.score_customers(fit, summary, wide, as_of_date=as_of)
    again = score_with_covariates(scored, fit, cf, groups, matrix, wide)
    assert abs(again["clv_p90"].mean() / scored["clv_p90"].mean() - 1) < 0.03
    assert np.corrcoef(again["clv_p90"], scored["clv_p90"])[0, 1] > 0.98
    assert abs((again["clv_p10"] == 0).mean() - (scored["clv_p10"] == 0).mean()) < 0.03


def test_design_pools_rare_levels_and_reads_the_var():
    n = 1000
    values = np.array(["DE"] * 600 + ["FR"] * 300 + ["IT"] * 30 + ["ES"] * 30 + [None] * 40, dtype=object)
    design, notes = build_design(pd.DataFrame({"country": values, "flat": ["x"] * n}), ("country", "flat"))
    assert design.levels == (("country", ("DE", "FR", "other")),) and notes == ["flat: one level after pooling rare ones, dropped"]
    labels = design.labels(pd.DataFrame({"country": ["IT", None, "FR", "DE"]}))
    assert list(labels["country"]) == ["other", "other", "FR", "DE"]
    assert covariate_names_from_dbt({"clv_covariates": ""}.get) == ()
    assert covariate_names_from_dbt({}.get) == ("country", "first_order_category")
    assert covariate_names_from_dbt({"clv_covariates": "country, signup_cohort"}.get) == ("country", "signup_cohort")


def test_covariates_known_after_as_of_date_are_missing_and_unknown_columns_named():
    customers = pd.DataFrame({"customer_id": [1, 2, 3],
                              "signed_up_at": pd.to_datetime(["2023-05-01", "2025-02-01", None]),
                              "first_order_at": pd.to_datetime(["2023-06-01", "2024-03-01", "2022-01-09"])})
    out = customer_covariates(customers, ("signup_cohort",), dt.date(2024, 12, 31))
    assert list(out["signup_cohort"]) == ["2023", "2024", "2022"]
    with pytest.raises(clv.ClvDataError, match="dim_customers has no column 'channel'.*clv_covariates"):
        customer_covariates(customers, ("channel",), dt.date(2024, 12, 31))


def test_orders_only_data_without_attributes_serve_the_model_without_covariates():
    summary, _, holdout, as_of_frame, covs = _marts({}, seed=5)
    blank = pd.DataFrame({"customer_id": covs["customer_id"], "country": None, "first_order_category": None})
    config = clv.ClvConfig(candidates=("bgnbd",), n_draws=20)
    names = ("country", "first_order_category")
    params = build_parameters(summary, as_of_frame, holdout, config, customers=blank, covariates=names)
    assert not params["model_name"].str.endswith("_cov").any()
    reason = params.loc[params["is_selected"] & (params["model_role"] == "count"), "selection_reason"].iloc[0]
    assert "no covariate varies across customers (country: one level" in reason
    plain = build_parameters(summary, as_of_frame, holdout, config)
    assert np.allclose(params["estimate"], plain["estimate"])


def test_without_a_holdout_the_likelihood_ratio_test_decides():
    purchases, as_of, covs = simulate_with_covariates(4000, 450, effects=EFFECTS["bgnbd"], seed=7)
    summary = summary_from_purchases(purchases, as_of)
    as_of_frame = pd.DataFrame({"as_of_date": [pd.Timestamp(as_of)], "data_end_date": [pd.Timestamp(as_of)],
                                "has_holdout": [False]})
    config = clv.ClvConfig(candidates=("bgnbd",), n_draws=20)
    kw = {"customers": covs, "covariates": ("channel",)}
    params = build_parameters(summary, as_of_frame, purchases.iloc[0:0], config, **kw)
    served = params.loc[params["is_selected"] & (params["model_role"] == "count")]
    assert set(served["model_name"]) == {"bgnbd_cov"}
    assert "no holdout to compare on" in served["selection_reason"].iloc[0]
    ev = build_evaluation(summary, params, as_of_frame, purchases, purchases.iloc[0:0], config,
                          backtest_days=90, **kw)
    chosen = ev.loc[ev["metric"] == "is_selected"].set_index("model_name")["value"]
    assert chosen.to_dict() == {"bgnbd": 0.0, "bgnbd_cov": 1.0}
    assert set(ev["evaluation_type"]) == {"backtest"}


def test_covariate_args_fetch_only_the_columns_the_covariates_read_from_a_relation():
    """dbt-duckdb hands the adapters a DuckDB relation: covariate_args fetches customer_id,
    the named columns and signup_cohort's dates, and the covariates are the ones the whole
    frame gives; a column the mart lacks is still reported by name; covariates off read nothing."""
    import duckdb

    from shoplens.clv.pipeline import covariate_args

    full = pd.DataFrame({
        "customer_id": ["c1", "c2", "c3"], "country": ["DE", None, "FR"],
        "first_order_category": ["toys", "books", None], "email_hash": ["x", "y", "z"],
        "signed_up_at": pd.to_datetime(["2023-05-01", None, "2031-01-01"]),
        "first_order_at": pd.to_datetime(["2023-06-01", "2022-02-02", "2024-01-01"]),
        "n_purchases": [3, 1, 0],
    })
    con = duckdb.connect()
    relation = con.from_df(full)
    as_of = dt.date(2024, 6, 30)
    assert covariate_args(relation, {"clv_covariates": ""}.get) == {"customers": None, "covariates": ()}
    for var in ("country,first_order_category,signup_cohort", "country"):
        args = covariate_args(relation, {"clv_covariates": var}.get)
        wanted = {"country": ["country"]}.get(
            var, ["country", "first_order_category", "first_order_at", "signed_up_at"])
        assert list(args["customers"].columns) == ["customer_id", *wanted]
        pd.testing.assert_frame_equal(
            customer_covariates(args["customers"], args["covariates"], as_of),
            customer_covariates(full, args["covariates"], as_of))
    args = covariate_args(relation, {"clv_covariates": "channel"}.get)
    with pytest.raises(clv.ClvDataError, match="no column 'channel'"):
        customer_covariates(args["customers"], args["covariates"], as_of)
    args = covariate_args(con.from_df(full.drop(columns="customer_id")), {"clv_covariates": "country"}.get)
    with pytest.raises(clv.ClvDataError, match="lacks column customer_id"):
        customer_covariates(args["customers"], args["covariates"], as_of)


def test_covariate_fits_stop_at_their_time_budget_and_serve_the_model_without():
    """A budget spent (0 s here; a REES46-shaped shop's Pareto/NBD fit with covariates ran for
    over 14.5 minutes without one): the model without covariates is served, selection_reason
    and ml_model_status say why, and the status is degraded."""
    from shoplens.clv.pipeline import build_status

    purchases, as_of, covs = simulate_with_covariates(3000, 450, effects=EFFECTS["bgnbd"], seed=7)
    summary = summary_from_purchases(purchases, as_of)
    as_of_frame = pd.DataFrame({"as_of_date": [pd.Timestamp(as_of)], "data_end_date": [pd.Timestamp(as_of)],
                                "has_holdout": [False]})
    config = clv.ClvConfig(candidates=("bgnbd", "pareto_nbd"), n_draws=20, covariate_time_budget=0.0)
    kw = {"customers": covs, "covariates": ("channel",)}
    params = build_parameters(summary, as_of_frame, purchases.iloc[0:0], config, **kw)
    assert not params["model_name"].str.endswith("_cov").any()
    served = params.loc[params["is_selected"] & (params["model_role"] == "count")]
    assert set(served["model_name"]) == {"bgnbd"}
    reason = served["selection_reason"].iloc[0]
    assert "bgnbd_cov: stopped at the time budget" in reason and "clv_covariate_time_budget=0 s" in reason
    assert "pareto_nbd_cov: not fitted: the covariate fits stopped at the time budget" in reason
    pred = build_predictions(summary, params, as_of_frame, config, **kw)
    assert set(pred["count_model"]) == {"bgnbd"}
    ev = build_evaluation(summary, params, as_of_frame, purchases, purchases.iloc[0:0], config, backtest_days=90, **kw)
    status = build_status(summary, params, pred, ev, as_of_frame, config).iloc[0]
    assert status["status"] == "degraded"
    assert "the fits with covariates stopped at the time budget (clv_covariate_time_budget)" in status["reason"]


def test_the_budget_is_checked_after_every_evaluation_of_a_fit():
    """With a clock that advances one second per reading, a 5 s budget stops the Newton fit at
    its 5th evaluation (counts, not wall time: the check cannot be flaky)."""
    from shoplens.clv.covariate_fit import CovariateBudgetExceeded, TimeBudget

    summary, _, covs = simulate_summary_with_covariates(1500, 450, model="pareto_nbd",
                                                        effects=EFFECTS["pareto_nbd"], seed=7)
    base = clv.fit_model("pareto_nbd", clv.compress_counts(summary))
    design, _ = build_design(covs, ("channel",))
    groups, matrix = design.groups(covs)
    ticks = iter(range(10_000))
    budget = TimeBudget(5.0, clock=lambda: float(next(ticks)))
    with pytest.raises(CovariateBudgetExceeded, match="pareto_nbd, 5 evaluations"):
        fit_covariate_model(base, summary, groups, matrix, design, clv.ClvConfig(candidates=("pareto_nbd",)), budget)
    assert budget.steps == 5
    unbounded = fit_covariate_model(base, summary, groups, matrix, design, clv.ClvConfig(candidates=("pareto_nbd",)))
    assert np.all(np.isfinite(unbounded.theta))


def test_clv_covariate_time_budget_is_read_and_checked():
    from shoplens.clv.config import ClvConfigError
    from shoplens.clv.pipeline import config_from_dbt

    assert config_from_dbt({}.get)[0].covariate_time_budget == 60.0
    assert config_from_dbt({"clv_covariate_time_budget": "12.5"}.get)[0].covariate_time_budget == 12.5
    with pytest.raises(ClvConfigError, match="clv_covariate_time_budget"):
        clv.ClvConfig(covariate_time_budget=-1.0)
