"""Training tests of shoplens.propensity on generator data and on CDNOW (slow: they fit networks)."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest

from shoplens import propensity as P
from shoplens.datagen import generate_shop
from shoplens.evaluation import EVALUATION_COLUMNS
from shoplens.testing.propensity_marts import marts_from_raw

pytestmark = pytest.mark.slow

HOLDOUT_DAYS = 30


def _auc(y, p):
    from sklearn.metrics import roc_auc_score

    return roc_auc_score(y, p)


def _paired_auc_difference(y, a, b, n_boot=150, seed=0):
    """AUC(a) - AUC(b) on the same customers, and its bootstrap standard error."""
    rng = np.random.default_rng(seed)
    diffs = []
    for _ in range(n_boot):
        i = rng.integers(0, len(y), len(y))
        if 0 < y[i].sum() < len(i):
            diffs.append(_auc(y[i], a[i]) - _auc(y[i], b[i]))
    return _auc(y, a) - _auc(y, b), float(np.std(diffs))


@pytest.fixture(scope="module")
def generator_run():
    """12,000 generated customers, a 30-day holdout; the GRU trains on 4,000 of them.

    Seed 23 was not used while choosing the model's settings (seeds 7 and 11 were).

    Scoring is cheap, so the holdout comparison runs on all ~11,000 purchasers,
    which keeps the AUC differences' bootstrap error near 0.005.
    """
    tables = generate_shop(n_customers=12_000, n_days=730, seed=23, holdout_days=HOLDOUT_DAYS)
    marts = marts_from_raw(tables)
    orders = marts["orders"]
    end = orders["ordered_at"].max().date()
    as_of = end - dt.timedelta(days=HOLDOUT_DAYS)
    cfg = P.PropensityConfig(max_train_customers=4_000, n_cutoffs=8, max_epochs=20, seed=3)
    scores, meta = P.run_propensity(orders, marts["sessions"], marts["customers"], as_of, True, cfg)
    plan = P.evaluation_plan(as_of, end, True, cfg.window_days)
    outcomes = P.purchase_outcomes(orders, plan["start"], plan["end"])
    ev = P.evaluate_scores(scores, outcomes, as_of_date=as_of, window_start=plan["start"],
                           window_end=plan["end"], evaluation_type="holdout")
    y = scores.merge(outcomes, on="customer_id", how="left")["n_purchase_days"].fillna(0).to_numpy() > 0
    return {"scores": scores, "meta": meta, "eval": ev, "y": y, "as_of": as_of, "marts": marts}


def test_scores_are_one_row_per_customer_with_valid_probabilities(generator_run):
    scores = generator_run["scores"]
    customers = generator_run["marts"]["customers"]
    assert scores["customer_id"].is_unique
    assert set(scores["customer_id"]) <= set(customers["customer_id"])
    assert (scores["score_date"] == generator_run["as_of"]).all() and scores["is_current"].all()
    p, e = scores["purchase_probability"], scores["expected_purchases"]
    assert p.between(0, 1).all() and (e >= p).all() and np.isfinite(e).all()
    assert np.bincount(scores["decile"], minlength=11)[1:].min() >= len(scores) // 10
    # calibration in the large: mean predicted vs the holdout rate (~9% of customers buy)
    assert abs(p.mean() - generator_run["y"].mean()) < 0.02
    assert scores.loc[~scores["has_purchased"], "p_bgnbd"].isna().all()


def test_served_model_is_no_worse_than_the_best_baseline_and_beats_bgnbd(generator_run):
    """Chosen on the validation cut-off only; checked here on the holdout, on the same customers."""
    scores, y = generator_run["scores"], generator_run["y"]
    m = scores["has_purchased"].to_numpy()
    served = scores["purchase_probability"].to_numpy()[m]
    diff_bg, se_bg = _paired_auc_difference(y[m], served, scores["p_bgnbd"].to_numpy()[m])
    diffs = {name: _paired_auc_difference(y[m], served, scores[col].to_numpy()[m])
             for name, col in [("logreg", "p_logreg"), ("rfm", "p_rfm_heuristic"), ("bgnbd", "p_bgnbd")]}
    print(generator_run["meta"]["selection"]["reason"], {k: (round(d, 4), round(e, 4)) for k, (d, e) in diffs.items()})
    # browsing carries information BG/NBD cannot see: the served model must be
    # ahead by the 0.05 AUC less two standard errors of the paired difference
    assert diff_bg > 0.05 - 2 * se_bg
    for diff, se in diffs.values():  # never worse than a baseline beyond two standard errors
        assert diff >= -2 * se  # (0 >= 0 when that baseline is the served model)


def test_evaluation_rows_cover_every_model_on_the_same_customers(generator_run):
    ev = generator_run["eval"]
    served = generator_run["meta"]["model_name"]
    assert list(ev.columns) == EVALUATION_COLUMNS
    expected = {"bgnbd", "rfm_heuristic", "logreg", "naive_rate", served}
    assert expected <= set(ev["model_name"])
    same = ev.query("slice == 'purchasers' and metric == 'auc'")
    assert same["n_obs"].nunique() == 1
    assert (ev["evaluation_type"] == "holdout").all()
    assert (ev["holdout_end_date"] - ev["holdout_start_date"]).iloc[0] == dt.timedelta(days=HOLDOUT_DAYS - 1)
    v = ev.set_index(["model_name", "slice", "metric"])["value"]
    for name in expected:
        assert 0.0 < v[name, "purchasers", "brier"] < 0.15
        if name != "naive_rate":  # a rate carried forward is no calibrated probability
            assert v[name, "purchasers", "log_loss"] < 0.35  # a constant 9% forecast scores ~0.29
    assert v[served, "purchasers", "log_loss"] < v["naive_rate", "purchasers", "log_loss"]
    assert v[served, "purchasers", "auc"] > v["naive_rate", "purchasers", "auc"]
    # lift of the top decile and its share of the buyers
    assert v[served, "decile=1", "lift"] > 2.0 and v[served, "decile=10", "cumulative_gain"] == pytest.approx(1.0)


def test_metadata_records_features_selection_and_metrics(generator_run):
    meta = generator_run["meta"]
    assert meta["features"]["sequence"] == list(P.ORDER_CHANNELS + P.EVENT_CHANNELS)
    assert "log_days_since_last_session" in meta["features"]["static"]
    assert meta["train_end_date"] == str(generator_run["as_of"])
    assert max(meta["training_cutoffs"]) == str(generator_run["as_of"] - dt.timedelta(days=30))
    sel = meta["selection"]
    assert sel["served_model"] == meta["model_name"] and sel["fallback_reason"] == ""
    assert sel["validation_end"] == str(generator_run["as_of"])  # the holdout starts the day after
    probe = sel["probe"]
    assert 0.7 < probe["validation_auc"] < 1.0 and probe["best_epoch"] <= probe["epochs_run"]
    assert probe["n_rows"] <= P.PropensityConfig().probe_max_rows
    if meta["gru"]:
        assert meta["gru"]["positive_class_weight"] > 1.0


def _small_shop(events=True, seed=5):
    tables = generate_shop(n_customers=800, n_days=400, seed=seed, events=events)
    marts = marts_from_raw(tables)
    return marts, marts["orders"]["ordered_at"].max().date()


def test_orders_only_shop_and_incompatible_saved_model(tmp_path):
    marts, as_of = _small_shop()
    cfg = P.PropensityConfig(max_epochs=1, n_cutoffs=2)
    P.run_propensity(marts["orders"], marts["sessions"], marts["customers"], as_of, False, cfg, tmp_path)
    empty = marts["sessions"].iloc[0:0]
    scores, meta = P.run_propensity(marts["orders"], empty, marts["customers"], as_of, False, cfg)
    assert meta["features"]["sequence"] == list(P.ORDER_CHANNELS)
    assert scores["purchase_probability"].between(0, 1).all()
    with pytest.raises(ValueError, match="uses sequence channels .* retrain"):
        P.run_propensity(marts["orders"], empty, marts["customers"], as_of, False, cfg, tmp_path, retrain=False)
    earlier = as_of - dt.timedelta(days=20)
    with pytest.raises(ValueError, match="learned from labels up to .* after this run's training end"):
        P.run_propensity(marts["orders"], marts["sessions"], marts["customers"], earlier, False, cfg, tmp_path,
                         retrain=False)
    with pytest.raises(FileNotFoundError, match="run once with retrain: true"):
        P.run_propensity(marts["orders"], empty, marts["customers"], as_of, False, cfg, tmp_path / "x",
                         retrain=False)


def test_cdnow_sample_gru_at_parity_with_the_best_baseline():
    """CDNOW (orders only): as-of 1997-09-30, 39-week holdout, training labels 13 weeks long."""
    from shoplens.testing.cdnow import CDNOW_AS_OF, CDNOW_WINDOW_DAYS, cdnow_marts

    m = cdnow_marts()
    assert m["orders"]["customer_id"].nunique() == 2357
    # 13-week training labels every 28 days back from 1997-07-01 (six cut-offs fit)
    cfg = P.PropensityConfig(window_days=CDNOW_WINDOW_DAYS, train_window_days=91, n_cutoffs=6,
                             cutoff_step_days=28)
    scores, _ = P.run_propensity(m["orders"], m["sessions"], m["customers"], CDNOW_AS_OF, True, cfg)
    start = CDNOW_AS_OF + dt.timedelta(days=1)
    end = CDNOW_AS_OF + dt.timedelta(days=CDNOW_WINDOW_DAYS)
    outcomes = P.purchase_outcomes(m["orders"], start, end)
    y = scores.merge(outcomes, on="customer_id", how="left")["n_purchase_days"].fillna(0).to_numpy() > 0
    assert len(scores) == 2357 and 0.28 < y.mean() < 0.31
    auc = {k: _auc(y, scores[c]) for k, c in [("rnn", "purchase_probability"), ("bgnbd", "p_bgnbd"),
                                              ("logreg", "p_logreg"), ("rfm", "p_rfm_heuristic")]}
    auc["bgnbd_expected"] = _auc(y, scores["expected_purchases_bgnbd"])
    print({k: round(v, 4) for k, v in auc.items()})
    assert 0.74 < auc["bgnbd_expected"] < 0.80  # the published ~0.77 for BG/NBD's expected purchases
    best = max(auc["bgnbd"], auc["bgnbd_expected"], auc["logreg"], auc["rfm"])
    # parity: 2,357 customers give an AUC standard error of ~0.01; allow one
    assert auc["rnn"] > best - 0.01  # the served model, chosen without the holdout
    p = scores["purchase_probability"]
    # carried from 13 to 39 weeks under a constant hazard: rough, see docs (the
    # logistic regression, served when the GRU does not earn its place, lands 0.10 high)
    assert abs(p.mean() - y.mean()) < 0.12
    pd.testing.assert_series_equal(scores["customer_id"], scores["customer_id"].drop_duplicates())


@pytest.mark.parametrize("which", ["sample", "master"])
def test_cdnow_served_model_ranks_the_next_window_at_least_as_well_as_every_baseline(which):
    """Issue 12's target on both CDNOW files as a new user builds them (as-of 1997-09-30, the
    default 30-day window, the model chosen on a validation cut-off): the served scores rank the
    30 days after as_of_date at least as well as each baseline's. Orders only, the logistic
    regression and BG/NBD are level there (the sample served the regression at 0.80469 against
    BG/NBD's 0.80470); their blend ranks both files better than either, on validation and after."""
    from shoplens.testing.cdnow import CDNOW_AS_OF, cdnow_marts, read_cdnow_master

    m = cdnow_marts() if which == "sample" else cdnow_marts(raw=read_cdnow_master())
    assert m["orders"]["customer_id"].nunique() == {"sample": 2357, "master": 23570}[which]
    cfg = P.PropensityConfig(seed=2026)
    scores, meta = P.run_propensity(m["orders"], m["sessions"], m["customers"], CDNOW_AS_OF, True, cfg)
    outcomes = P.purchase_outcomes(m["orders"], CDNOW_AS_OF + dt.timedelta(days=1),
                                   CDNOW_AS_OF + dt.timedelta(days=cfg.window_days))
    y = scores.merge(outcomes, on="customer_id", how="left")["n_purchase_days"].fillna(0).to_numpy() > 0
    served = _auc(y, scores["purchase_probability"])
    baselines = {c: _auc(y, scores[c]) for c in ("p_logreg", "p_bgnbd", "p_rfm_heuristic")}
    print(which, meta["model_name"], round(served, 5), {k: round(v, 5) for k, v in baselines.items()})
    assert served >= max(baselines.values()), (meta["model_name"], served, baselines)
    from shoplens.propensity.selection import BASELINE_ORDER

    validation = {k: v["auc"] for k, v in meta["selection"]["validation"].items()}
    if meta["model_name"] in BASELINE_ORDER:  # the best baseline by validation AUC (the GRU did not earn it)
        assert validation[meta["model_name"]] == max(validation[m] for m in BASELINE_ORDER if m in validation)


def test_a_baseline_that_cannot_be_fitted_is_dropped_and_training_is_kept(monkeypatch):
    """The real-shop failure: the BTYD refit raising while scoring must not lose the trained GRU."""
    from lifetimes.utils import ConvergenceError

    from shoplens import clv

    marts, as_of = _small_shop()

    def fails(*args, **kwargs):
        raise ConvergenceError("The model did not converge.")

    monkeypatch.setattr(clv, "fit_count_models", fails)
    cfg = P.PropensityConfig(max_epochs=1, n_cutoffs=2, min_gru_gain=-1.0, min_gru_gain_z=-math.inf, seed=4)
    scores, meta = P.run_propensity(marts["orders"], marts["sessions"], marts["customers"], as_of, False, cfg)
    assert meta["training_metrics"]["epochs_run"] >= 1 and "bgnbd" not in meta["selection"]["validation"]
    assert scores["purchase_probability"].between(0, 1).all() and len(scores) > 100
    assert (scores["btyd_baseline_model"] == "none").all() and scores["p_bgnbd"].isna().all()
    assert scores["baseline_notes"].str.startswith("bgnbd baseline dropped: ConvergenceError").all()
    # the other baselines are still scored, and the evaluation leaves the dropped one out
    assert scores.loc[scores["has_purchased"], "p_naive_rate"].between(0, 1).all()
    plan = P.evaluation_plan(as_of, None, False, cfg.window_days)
    scored = scores.loc[scores["score_date"] == plan["score_date"]]
    outcomes = P.purchase_outcomes(marts["orders"], plan["start"], plan["end"])
    ev = P.evaluate_scores(scored, outcomes, as_of_date=plan["score_date"], window_start=plan["start"],
                           window_end=plan["end"], evaluation_type="backtest")
    assert set(ev["model_name"]) == {"rnn_gru", "rfm_heuristic", "logreg", "naive_rate"} | {meta["model_name"]}
    status = P.propensity_status(scores, as_of).frame().iloc[0]
    assert status["status"] == "ok" and "bgnbd baseline dropped" in status["reason"]
    assert status["rows_written"] == int(scores["is_current"].sum())


def test_decline_advice_works_a_shorter_label_window_lets_a_short_shop_train():
    tables = generate_shop(n_customers=600, n_days=75, seed=8)
    marts = marts_from_raw(tables)
    as_of = marts["orders"]["ordered_at"].max().date()
    args = (marts["orders"], marts["sessions"], marts["customers"], as_of, False)
    reason = P.decline_reason(*args, P.PropensityConfig())
    assert "too little history to train" in reason and "propensity_train_window_days" in reason
    assert P.decline_reason(*args, P.PropensityConfig(train_window_days=7)) == ""
    with pytest.raises(P.InsufficientHistoryError, match="propensity_train_window_days"):
        P.run_propensity(*args, P.PropensityConfig(max_epochs=1))


def test_a_history_without_any_repeat_purchase_names_the_ids_not_the_history_length():
    """Olist's per-order customer ids: every customer has exactly one order. The decline said
    "too little history ... load more order history"; it now says no one ever bought twice and
    names ids changing per order. The same shop with its own ids trains."""
    marts = marts_from_raw(generate_shop(n_customers=600, n_days=300, seed=8))
    as_of = marts["orders"]["ordered_at"].max().date()
    assert P.decline_reason(marts["orders"], marts["sessions"], marts["customers"], as_of, False,
                            P.PropensityConfig()) == ""
    orders = marts["orders"].assign(customer_id="order-" + marts["orders"]["order_id"].astype(str))
    reason = P.decline_reason(orders, marts["sessions"], marts["customers"], as_of, False, P.PropensityConfig())
    bought = orders.loc[orders["is_purchase"].astype(bool)]
    first = bought["ordered_at"].min().date()
    assert reason.startswith(f"no repeat purchases to learn from: {len(bought)} customers bought from {first} to"
                             f" {as_of} ({len(bought)} purchase orders) and none of them bought on a second day"), reason
    assert " give 0 purchasing and " in reason and "too little history" not in reason
    assert "check that orders keep their customer_id" in reason and "new customer id" in reason
    with pytest.raises(P.InsufficientHistoryError, match="no repeat purchases"):
        P.run_propensity(orders, marts["sessions"], marts["customers"], as_of, False, P.PropensityConfig(max_epochs=1))


class _Relation:
    """A stand-in for a DuckDB relation: ``.df()`` returns the frame and counts the reads."""

    def __init__(self, frame: pd.DataFrame):
        self.frame, self.reads = frame, 0

    def df(self) -> pd.DataFrame:
        self.reads += 1
        return self.frame


def test_status_reads_its_input_relations_only_when_the_step_declined():
    from shoplens.propensity import pipeline

    marts = marts_from_raw(generate_shop(n_customers=600, n_days=75, seed=8))
    as_of = marts["orders"]["ordered_at"].max().date()
    as_of_frame = pd.DataFrame({"as_of_date": [as_of], "has_holdout": [False], "data_end_date": [as_of]})
    settings = {"window_days": 30, "sequence_weeks": 52, "n_cutoffs": 12, "seed": 3, "model_dir": None,
                "max_train_customers": None, "train_window_days": None}
    empty = pd.DataFrame(columns=["customer_id", "is_current", "served_model"])
    relations = [_Relation(marts[k]) for k in ("orders", "sessions", "customers")]
    declined = pipeline.build_status(as_of_frame, empty, *relations, settings).iloc[0]
    frames = pipeline.build_status(as_of_frame, empty, marts["orders"], marts["sessions"], marts["customers"],
                                   settings).iloc[0]
    assert [r.reads for r in relations] == [1, 1, 1]
    assert declined["status"] == "declined" and "too little history to train" in declined["reason"]
    assert declined["reason"] == frames["reason"]
    scored = pd.DataFrame({"customer_id": ["c1"], "is_current": [True], "served_model": ["logreg"]})
    unread = [_Relation(marts[k]) for k in ("orders", "sessions", "customers")]
    pipeline.build_status(as_of_frame, scored, *unread, settings)
    assert [r.reads for r in unread] == [0, 0, 0]
