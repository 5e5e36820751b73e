"""Propensity scored in parts of the customers (shoplens.propensity.parts; Spark's mapInPandas):
the global fits once, the parts apart, the deciles over all; equal to run_propensity's table."""

from __future__ import annotations

import datetime as dt
import pickle

import numpy as np
import pandas as pd
import pytest

from shoplens import propensity as P
from shoplens.datagen import generate_shop
from shoplens.propensity import parts
from shoplens.propensity.served import rescoring_gru
from shoplens.testing.propensity_marts import marts_from_raw

pytestmark = pytest.mark.slow

#: p_logreg is computed from the encoder's float32 inputs: a matrix product over another
#: number of rows rounds by a few float32 ulps (3.5e-7 relative measured).
RTOL = 1e-6


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    marts = marts_from_raw(generate_shop(n_customers=700, n_days=400, seed=8, holdout_days=30))
    as_of = marts["orders"]["ordered_at"].max().date() - dt.timedelta(days=30)
    cfg = P.PropensityConfig(n_cutoffs=3, max_epochs=2, seed=2, max_train_customers=500)
    model_dir = tmp_path_factory.mktemp("propensity_model")
    scores, _ = P.run_propensity(marts["orders"], marts["sessions"], marts["customers"], as_of, False, cfg,
                                 model_dir)
    return {"marts": marts, "as_of": as_of, "cfg": cfg, "model_dir": model_dir, "scores": scores}


def _halves(marts: dict) -> list[tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]]:
    """(orders, sessions, customers) of every other customer id, and of the rest."""
    ids = np.sort(marts["customers"]["customer_id"].astype(str).unique())
    first = set(ids[::2])
    out = []
    for keep in (True, False):
        out.append(tuple(f.loc[f["customer_id"].astype(str).isin(first) == keep]
                         for f in (marts["orders"], marts["sessions"], marts["customers"])))
    return out


def test_parts_scored_apart_equal_the_run_scored_at_once(shop) -> None:
    m = shop["marts"]
    plan = parts.plan_scores(m["orders"], m["sessions"], m["customers"], shop["as_of"], False, shop["cfg"],
                             shop["model_dir"], retrain=False)
    plan = pickle.loads(pickle.dumps(plan))  # what a worker receives
    model = parts.served_model(plan)
    scored = [parts.score_part(plan, *half, model) for half in _halves(m)]
    assert min(len(s) for s in scored) > 200
    got = parts.with_deciles(pd.concat(scored, ignore_index=True))
    expected = parts.with_deciles(shop["scores"])
    # the run's own deciles are already over every customer: with_deciles keeps them
    ordered = shop["scores"].sort_values(["score_date", "customer_id"], kind="stable")
    np.testing.assert_array_equal(expected["decile"].to_numpy(), ordered["decile"].to_numpy())
    assert len(got) == len(expected) and got["score_date"].nunique() == 2
    for column in got.columns:
        if got[column].dtype.kind == "f":
            np.testing.assert_allclose(got[column], expected[column], rtol=RTOL, err_msg=column)
        else:
            assert got[column].astype(str).tolist() == expected[column].astype(str).tolist(), column
    # a part ranked alone gives other deciles: they are set over all the parts
    assert (parts.with_deciles(scored[0])["decile"].to_numpy()
            != got.loc[got["customer_id"].isin(scored[0]["customer_id"]), "decile"].to_numpy()).any()


def test_a_gru_shipped_as_weights_scores_as_the_trained_network(shop) -> None:
    m = shop["marts"]
    hist = P.prepare_history(m["orders"], m["sessions"], m["customers"])
    end = hist.last_data_day
    ts = P.prepare_training(hist, end - 30, shop["cfg"])
    gru = rescoring_gru(P.fit_gru(ts, shop["cfg"]))  # as fit_served serves it
    model = P.ServedPropensity(P.Selection("rnn_gru", "test"), ts.encoder, ts.baselines, gru,
                               {"model_version": "test", "train_end_date": "2024-01-01"})
    shipped = parts.from_payload(pickle.loads(pickle.dumps(model.to_payload())))
    snap = P.snapshot(hist, end, ts.encoder.weeks)
    for ours, theirs in zip(gru.predict(snap, 30), shipped.gru.predict(snap, 30), strict=True):
        np.testing.assert_array_equal(ours, theirs)
    assert shipped.gru is not gru and np.isfinite(ours).all()


def test_the_evaluation_does_not_depend_on_the_row_order_of_the_scores(shop) -> None:
    """Spark returns the table ranked by the decile window, DuckDB in its own order: the baselines'
    deciles (rfm_heuristic has many ties) must not follow it."""
    from shoplens.propensity import pipeline

    m, scores = shop["marts"], shop["scores"]
    as_of = pd.DataFrame({"as_of_date": [shop["as_of"]], "has_holdout": [False],
                          "data_end_date": [shop["as_of"]]})
    settings = {"model_dir": str(shop["model_dir"])}
    args = (m["orders"].iloc[:0], m["orders"], settings)
    once = pipeline.build_evaluation(as_of, scores, *args)
    ranked = scores.sort_values(["purchase_probability", "customer_id"], ascending=[True, False])
    again = pipeline.build_evaluation(as_of, ranked, *args)
    assert len(once) > 100 and once["slice"].str.startswith("decile=").any()
    pd.testing.assert_frame_equal(once.drop(columns="evaluated_at"), again.drop(columns="evaluated_at"))


def test_customers_nothing_shows_existed_on_as_of_are_left_out_of_its_holdout(shop) -> None:
    """An Olist-shaped customers file exported after as_of_date holds, without sign-up dates, the
    customers who first bought in the holdout: scored as new customers, they were 1,448 of its
    1,494 buyers and the served model's AUC read 0.07. They are left out of the holdout
    evaluation (customers with a purchase by as_of_date are kept even when listed)."""
    from shoplens.propensity import pipeline

    m, scores = shop["marts"], shop["scores"]
    as_of = pd.DataFrame({"as_of_date": [shop["as_of"]], "has_holdout": [True],
                          "data_end_date": [shop["as_of"] + dt.timedelta(days=30)]})
    current = scores.loc[pd.to_datetime(scores["score_date"]).dt.date == shop["as_of"]]
    never = (current.loc[~current["has_purchased"].astype(bool)].sort_values("p_logreg")["customer_id"]
             .astype(str).to_numpy()[:40])  # ranked last, as new customers are
    bought = current.loc[current["has_purchased"].astype(bool), "customer_id"].astype(str).to_numpy()
    assert len(never) == 40 and len(bought) > 100
    day = pd.Timestamp(shop["as_of"] + dt.timedelta(days=3))
    holdout = pd.DataFrame({"customer_id": [*never, *bought[::4]], "ordered_at": day, "is_purchase": True})
    unseen = pd.DataFrame({"customer_id": [*never, bought[0]]})  # a buyer is never unseen
    args = (holdout, m["orders"], {"model_dir": str(shop["model_dir"])})
    got = pipeline.build_evaluation(as_of, scores, *args, unseen)
    without = scores.loc[~scores["customer_id"].astype(str).isin(never)]
    expected = pipeline.build_evaluation(as_of, without, *args)
    pd.testing.assert_frame_equal(got.drop(columns="evaluated_at"), expected.drop(columns="evaluated_at"))
    before = pipeline.build_evaluation(as_of, scores, *args)

    def buyers(frame):
        rows = frame.query("task == 'purchase_30d' and metric == 'observed_rate' and slice == 'all'")
        return round(float(rows["value"].iloc[0]) * int(rows["n_obs"].iloc[0])), int(rows["n_obs"].iloc[0])

    (buyers_got, n_got), (buyers_before, n_before) = buyers(got), buyers(before)
    assert (n_before - n_got, buyers_before - buyers_got) == (40, 40)
    # without a holdout (the backtest cut-off holds no such customer) nothing changes
    backtest = as_of.assign(has_holdout=False, data_end_date=shop["as_of"])
    pd.testing.assert_frame_equal(
        pipeline.build_evaluation(backtest, scores, *args, unseen).drop(columns="evaluated_at"),
        pipeline.build_evaluation(backtest, scores, *args).drop(columns="evaluated_at"))


def test_the_evaluation_reads_one_score_date_from_a_relation(shop) -> None:
    """The dbt model reads only the evaluated date's rows and the columns the evaluation uses
    (scores_to_evaluate): the same metrics as from the whole table."""
    import duckdb

    from shoplens.propensity import pipeline

    m, scores = shop["marts"], shop["scores"]
    as_of = pd.DataFrame({"as_of_date": [shop["as_of"]], "has_holdout": [False],
                          "data_end_date": [shop["as_of"]]})
    args = (m["orders"].iloc[:0], m["orders"], {"model_dir": str(shop["model_dir"])})
    con = duckdb.connect()
    con.register("scores_frame", scores)
    con.execute("create table scores as select * from scores_frame")
    read = pipeline.scores_to_evaluate(as_of, con.table("scores"))
    assert scores["score_date"].nunique() == 2 and read["score_date"].nunique() == 1
    assert len(read) == (pd.to_datetime(scores["score_date"]) == pd.to_datetime(read["score_date"].iloc[0])).sum()
    assert "reason_1" not in read.columns and set(read.columns) <= set(pipeline.EVALUATED_SCORE_COLUMNS)
    whole = pipeline.build_evaluation(as_of, scores, *args)
    pd.testing.assert_frame_equal(whole.drop(columns="evaluated_at"),
                                  pipeline.build_evaluation(as_of, read, *args).drop(columns="evaluated_at"))
    con.execute("delete from scores")  # the step declined: nothing to read, nothing to evaluate
    assert pipeline.build_evaluation(as_of, pipeline.scores_to_evaluate(as_of, con.table("scores")), *args).empty


def test_inputs_given_as_readers_score_as_the_frames(shop) -> None:
    """The dbt adapter passes readers (shoplens.inputs.read_now) so the frames are freed once the
    history is built: the same scores as from the frames (the saved model, scored again). A
    history whose rows are all up to as_of_date is built without copying the inputs."""
    from shoplens.inputs import read_now, rows_where

    m, cfg = shop["marts"], shop["cfg"]
    calls = []

    def reader(name):
        def read():
            calls.append(name)
            return m[name]
        return read

    got, _ = P.run_propensity(reader("orders"), reader("sessions"), reader("customers"), shop["as_of"], False,
                              cfg, shop["model_dir"], retrain=False)
    assert calls == ["orders", "sessions", "customers"]  # each read once
    pd.testing.assert_frame_equal(got, shop["scores"])
    frame = m["orders"]
    assert rows_where(frame, np.ones(len(frame), bool)) is frame
    assert len(rows_where(frame, np.arange(len(frame)) % 2 == 0)) == (len(frame) + 1) // 2
    assert read_now(frame) is frame and read_now(lambda: frame) is frame


def test_the_status_and_importance_read_few_columns_from_a_relation(shop) -> None:
    """ml_propensity_status reads four columns (text dictionary-encoded) and ml_feature_importance
    one row of the saved model's version: the same rows as from the whole table."""
    import duckdb

    from shoplens.propensity import pipeline

    m, scores = shop["marts"], shop["scores"]
    as_of = pd.DataFrame({"as_of_date": [shop["as_of"]], "has_holdout": [False],
                          "data_end_date": [shop["as_of"]]})
    settings = {"model_dir": str(shop["model_dir"]), "window_days": 30}
    con = duckdb.connect()
    con.register("scores_frame", scores)
    con.execute("create table scores as select * from scores_frame")
    read = pipeline.scores_for_status(con.table("scores"))
    assert list(read.columns) == pipeline.STATUS_SCORE_COLUMNS and len(read) == len(scores)
    args = (m["orders"], m["sessions"], m["customers"], settings)
    whole = pipeline.build_status(as_of, scores, *args)
    pd.testing.assert_frame_equal(pipeline.build_status(as_of, read, *args).drop(columns="evaluated_at", errors="ignore"),
                                  whole.drop(columns="evaluated_at", errors="ignore"))
    one = pipeline.scores_for_importance(con.table("scores"))
    assert len(one) == 1
    pd.testing.assert_frame_equal(pipeline.build_feature_importance(one, settings),
                                  pipeline.build_feature_importance(scores, settings))

    class OtherEngineRef:  # the Spark runner's ref: project() and df() only
        def __init__(self, frame):
            self.frame = frame

        def project(self, columns):
            return OtherEngineRef(self.frame[[c.strip() for c in columns.split(",")]])

        def df(self):
            return self.frame

    ref = OtherEngineRef(scores)
    pd.testing.assert_frame_equal(pipeline.build_feature_importance(pipeline.scores_for_importance(ref), settings),
                                  pipeline.build_feature_importance(scores, settings))
    assert pipeline.scores_to_evaluate(as_of, ref) is scores
    assert len(pipeline.scores_for_status(ref)) == len(scores)
    assert len(pipeline.build_feature_importance(scores, settings)) > 0
