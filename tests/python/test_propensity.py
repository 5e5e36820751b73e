"""Unit tests of shoplens.propensity: features, baselines, errors (fast, no training)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from shoplens import propensity as P


def _orders(rows):
    return pd.DataFrame(rows, columns=["customer_id", "ordered_at", "order_total", "is_purchase"]).assign(
        ordered_at=lambda f: pd.to_datetime(f["ordered_at"])
    )


def _customers(ids, signed=None):
    return pd.DataFrame(
        {
            "customer_id": ids,
            "country": ["DE"] * len(ids),
            "first_order_category": ["books"] * len(ids),
            "signed_up_at": pd.to_datetime(signed or [None] * len(ids)),
        }
    )


NO_SESSIONS = pd.DataFrame(columns=["customer_id", "started_at", "n_product_views", "n_add_to_carts", "n_checkouts"])


def test_weekly_sequence_bins_masks_and_ignores_the_future():
    orders = _orders(
        [
            ("a", "2024-03-31 10:00", 10.0, True),  # cut-off day: last week
            ("a", "2024-03-31 18:00", 5.0, True),  # same day: one purchase day, revenue 15
            ("a", "2024-03-24 09:00", 7.0, True),  # 7 days before: previous week
            ("a", "2024-03-25 09:00", 99.0, False),  # cancelled: ignored
            ("a", "2024-04-01 09:00", 50.0, True),  # after the cut-off: never seen
            ("b", "2024-03-20 09:00", 20.0, True),
        ]
    )
    sessions = pd.DataFrame(
        {
            "customer_id": ["a", "a", "b"],
            "started_at": pd.to_datetime(["2024-03-30", "2024-04-02", "2024-03-29"]),
            "n_product_views": [3, 9, 1],
            "n_add_to_carts": [1, 9, 0],
            "n_checkouts": [0, 9, 0],
        }
    )
    hist = P.prepare_history(orders, sessions, _customers(["a", "b", "c"], [None, None, "2024-03-01"]))
    assert hist.channels == P.ORDER_CHANNELS + P.EVENT_CHANNELS
    snap = P.snapshot(hist, dt.date(2024, 3, 31), weeks=8)
    ids = list(hist.customer_ids[snap.index])
    assert ids == ["a", "b", "c"]  # c: signed up, never bought
    a, b, c = 0, 1, 2
    assert snap.seq[a, -1, 0] == 1 and snap.seq[a, -1, 1] == pytest.approx(15.0)
    assert snap.seq[a, -2, 0] == 1 and snap.seq[a, -2, 1] == pytest.approx(7.0)
    assert snap.seq[a].sum(axis=0)[0] == 2  # the April order is not seen
    assert snap.seq[a, -1, 2:].tolist() == [1, 3, 1, 0]  # only the March session
    assert snap.n_weeks.tolist() == [2, 2, 5]  # a and b born 7 and 11 days before; c 30 days
    assert snap.frequency.tolist() == [1, 0, 0]
    assert snap.recency_days[a] == 7 and snap.age_days[a] == 7
    assert snap.static.loc[c, "has_purchased"] == 0
    assert snap.static.loc[c, "first_category"] == ""  # not known before the first order
    assert snap.static.loc[b, "log_days_since_last_session"] == pytest.approx(np.log1p(2))
    counts = P.window_counts(hist, snap.index, snap.cutoff_day + 1, snap.cutoff_day + 30)
    assert counts.tolist() == [1, 0, 0]


def test_encoder_masks_weeks_before_birth():
    orders = _orders([("a", "2024-03-31", 10.0, True), ("b", "2024-01-01", 5.0, True)])
    hist = P.prepare_history(orders, NO_SESSIONS, _customers(["a", "b"]))
    snap = P.snapshot(hist, dt.date(2024, 3, 31), weeks=6)
    enc = P.Encoder.fit([snap], hist.channels, 6)
    x = enc.sequence(snap)
    assert x.shape == (2, 6, 2)
    assert (x[0, :5] == -99.0).all() and (x[0, 5] != -99.0).all()
    assert (x[1] != -99.0).all()
    assert enc.static(snap).shape[1] == len(enc.static_names)


def test_bgnbd_window_probability_agrees_with_lifetimes():
    from lifetimes import BetaGeoFitter

    params = dict(r=0.25, alpha=4.0, a=0.8, b=2.5)
    fitter = BetaGeoFitter()
    fitter.params_ = pd.Series(params)
    # a customer just born: 1 - P(no purchase in t) from lifetimes' unconditional formula
    p0, alive0 = P.bgnbd_window_probability(**params, frequency=np.array([0.0]), recency=np.array([0.0]),
                                            T=np.array([0.0]), t=4.3)
    assert p0[0] == pytest.approx(1 - fitter.probability_of_n_purchases_up_to_time(4.3, 0), rel=1e-10)
    assert alive0[0] == 1.0
    x, tx, T = np.array([3.0, 1.0, 0.0]), np.array([10.0, 2.0, 0.0]), np.array([20.0, 30.0, 5.0])
    p, alive = P.bgnbd_window_probability(**params, frequency=x, recency=tx, T=T, t=4.3)
    np.testing.assert_allclose(alive, fitter.conditional_probability_alive(x, tx, T), rtol=1e-10)
    expected = fitter.conditional_expected_number_of_purchases_up_to_time(4.3, x, tx, T)
    assert (p <= alive).all() and (p <= expected).all() and (p > 0).all()
    # independent route: given alive, lambda ~ Gamma(r + x, alpha + T); integrate P(no purchase)
    from scipy import integrate, stats

    for i in range(3):
        post = stats.gamma(params["r"] + x[i], scale=1 / (params["alpha"] + T[i]))
        p_none, _ = integrate.quad(lambda lam, post=post: post.pdf(lam) * np.exp(-lam * 4.3), 0, np.inf)
        assert p[i] == pytest.approx(alive[i] * (1 - p_none), rel=1e-6)


def test_deciles_top_tenth_is_one():
    p = np.linspace(0, 1, 50)
    d = P.deciles(p)
    assert d[-1] == 1 and d[0] == 10
    assert np.bincount(d, minlength=11)[1:].tolist() == [5] * 10


def test_rfm_cells_reuse_training_edges():
    orders = _orders([(f"c{i}", f"2024-03-{i + 1:02d}", 10.0 * (i + 1), True) for i in range(10)]
                     + [("c9", "2024-03-20", 5.0, True)])
    hist = P.prepare_history(orders, NO_SESSIONS, _customers([f"c{i}" for i in range(10)] + ["new"],
                                                             [None] * 10 + ["2024-03-02"]))
    snap = P.snapshot(hist, dt.date(2024, 3, 31), weeks=8)
    cells, edges = P.rfm_cells(snap)
    assert cells[-1] == "000" and cells.dtype == np.dtype("<U3")  # never bought
    r_scores = [int(c[0]) for c in cells[:10]]
    assert r_scores == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]  # quintiles of recency, latest = 5
    assert cells[9][1] == "2" and {c[1] for c in cells[:9]} == {"1"}  # ties collapse the edges
    again, same = P.rfm_cells(snap, edges)
    assert same is edges and (again == cells).all()


def test_too_little_history_is_a_clear_error():
    days = pd.date_range("2024-01-01", periods=20, freq="D")
    orders = _orders([(f"c{i % 5}", d, 10.0, True) for i, d in enumerate(days)])
    with pytest.raises(P.InsufficientHistoryError, match=r"at least 58 days of orders"):
        P.run_propensity(orders, None, _customers([f"c{i}" for i in range(5)]), dt.date(2024, 1, 20),
                         has_holdout=True)


def test_too_few_labels_is_a_clear_error():
    days = pd.date_range("2024-01-01", periods=120, freq="7D")
    orders = _orders([("c0", d, 10.0, True) for d in days])
    cfg = P.PropensityConfig(n_cutoffs=2)
    # one customer: nobody to rank, whatever the history (it said "load more order history")
    with pytest.raises(P.InsufficientHistoryError, match=r"only 1 customer\(s\) at each training cut-off"):
        P.run_propensity(orders, None, _customers(["c0"]), days[-1].date(), has_holdout=True, cfg=cfg)
    many = _orders([(f"c{k}", d, 10.0, True) for k in range(25) for d in days[:3]])
    with pytest.raises(P.InsufficientHistoryError, match=r"at least 20 of each are needed"):
        P.run_propensity(many, None, _customers([f"c{k}" for k in range(25)]), days[-1].date(),
                         has_holdout=True, cfg=cfg)


def test_bad_input_messages():
    with pytest.raises(ValueError, match=r"orders is missing required columns \['is_purchase'\]"):
        P.prepare_history(pd.DataFrame(columns=["customer_id", "ordered_at", "order_total"]), None,
                          _customers(["a"]))
    with pytest.raises(P.InsufficientHistoryError, match="no completed purchase"):
        P.prepare_history(_orders([("a", "2024-01-01", 1.0, False)]), None, _customers(["a"]))
    with pytest.raises(ValueError, match="validation_fraction"):
        P.PropensityConfig(validation_fraction=0.7).validate()


def test_evaluation_plan_follows_the_holdout_rule():
    hold = P.evaluation_plan(dt.date(2024, 6, 30), dt.date(2024, 7, 20), True, 30)
    assert hold == {"score_date": dt.date(2024, 6, 30), "start": dt.date(2024, 7, 1),
                    "end": dt.date(2024, 7, 20), "evaluation_type": "holdout"}
    back = P.evaluation_plan(dt.date(2024, 6, 30), dt.date(2024, 6, 30), False, 30)
    assert back == {"score_date": dt.date(2024, 5, 31), "start": dt.date(2024, 6, 1),
                    "end": dt.date(2024, 6, 30), "evaluation_type": "backtest"}


def test_evaluate_scores_metrics_and_calibration():
    from shoplens.evaluation import EVALUATION_COLUMNS

    rng = np.random.default_rng(0)
    n = 400
    p = rng.uniform(0.01, 0.6, n)
    y = rng.uniform(size=n) < p
    scores = pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(n)],
            "score_date": dt.date(2024, 6, 30),
            "is_current": True,
            "window_days": 30,
            "purchase_probability": p,
            "expected_purchases": p * 1.2,
            "decile": P.deciles(p),
            "has_purchased": np.arange(n) >= 50,
            "p_bgnbd": np.where(np.arange(n) >= 50, p, np.nan),
            "expected_purchases_bgnbd": np.where(np.arange(n) >= 50, p, np.nan),
            "p_rfm_heuristic": 0.5,
            "p_logreg": 1 - p,
            "model_version": "v",
            "train_end_date": dt.date(2024, 6, 30),
        }
    )
    outcomes = pd.DataFrame({"customer_id": scores["customer_id"][y], "n_purchase_days": 1})
    ev = P.evaluate_scores(scores, outcomes, as_of_date=dt.date(2024, 6, 30), window_start=dt.date(2024, 7, 1),
                           window_end=dt.date(2024, 7, 30), evaluation_type="holdout")
    assert list(ev.columns) == EVALUATION_COLUMNS
    v = ev.set_index(["model_name", "slice", "metric"])["value"]
    assert 0.7 < v["rnn_gru", "all", "auc"] < 0.9
    assert v["logreg", "all", "auc"] == pytest.approx(1 - v["rnn_gru", "all", "auc"])
    assert v["rfm_heuristic", "all", "auc"] == 0.5
    assert ("bgnbd", "all", "auc") not in v.index  # BG/NBD does not score the 50 non-buyers
    assert ev.query("model_name == 'bgnbd' and slice == 'purchasers' and metric == 'auc'")["n_obs"].item() == 350
    assert v["rnn_gru", "all", "brier"] == pytest.approx(np.mean((p - y) ** 2))
    cal = ev.query("model_name == 'rnn_gru' and metric == 'calibration_observed'")
    assert len(cal) == 10 and cal["n_obs"].sum() == n
    top = v["rnn_gru", "decile=1", "calibration_observed"]
    bottom = v["rnn_gru", "decile=10", "calibration_observed"]
    assert top > bottom + 0.25  # p spans 0.01 .. 0.6, so deciles 1 and 10 differ by ~0.5
    # every AUC comes with its interval and the buyers it rests on
    assert v["rnn_gru", "all", "n_buyers"] == y.sum()
    assert v["rnn_gru", "all", "auc_ci_low"] < v["rnn_gru", "all", "auc"] < v["rnn_gru", "all", "auc_ci_high"]
    # one score for all (the constant RFM here): no spread to estimate, no interval
    assert ("rfm_heuristic", "all", "auc_ci_low") not in v.index


def _delong_by_pairs(score, label):
    """DeLong's interval from the n_buyers x n_non_buyers comparison matrix (the definition)."""
    x, z = score[label], score[~label]
    psi = (x[:, None] > z[None, :]) + 0.5 * (x[:, None] == z[None, :])
    se = np.sqrt(psi.mean(1).var(ddof=1) / len(x) + psi.mean(0).var(ddof=1) / len(z))
    return psi.mean() - 1.959963984540054 * se, psi.mean() + 1.959963984540054 * se


@pytest.mark.parametrize("n, n_buyers", [(200, 7), (2000, 300), (50, 25)])
def test_auc_interval_is_delongs_with_ties_and_widens_with_few_buyers(n, n_buyers):
    from shoplens.evaluation import auc_interval

    rng = np.random.default_rng(n)
    label = np.zeros(n, dtype=bool)
    label[rng.choice(n, n_buyers, replace=False)] = True
    score = np.round(rng.normal(size=n) + 0.8 * label, 1)  # rounded: many ties
    low, high = auc_interval(score, label)
    assert (low, high) == pytest.approx(_delong_by_pairs(score, label), abs=1e-12)
    if n_buyers == 7:
        assert high - low > 0.3  # 7 buyers tell little
    assert np.isnan(auc_interval(score, np.arange(n) == 0)).all()  # one buyer: no variance to estimate
    assert np.isnan(auc_interval(label * 1.0, label)).all()  # perfect separation: not [1, 1]


def test_auc_difference_z_is_delongs_paired_test_from_the_comparison_matrices():
    """The paired z from the definition: each model's n_buyers x n_non_buyers comparison
    matrix, the difference of the two models' row and column means (DeLong et al. 1988)."""
    from shoplens.evaluation import auc_difference_z

    rng = np.random.default_rng(3)
    n = 1500
    label = rng.random(n) < 0.1
    common = rng.normal(size=n)
    a = np.round(common + 0.9 * label + 0.3 * rng.normal(size=n), 1)  # ties
    b = np.round(common + 0.6 * label + 0.3 * rng.normal(size=n), 1)

    def psi(score):
        x, z = score[label], score[~label]
        return (x[:, None] > z[None, :]) + 0.5 * (x[:, None] == z[None, :])

    d = psi(a) - psi(b)
    se = np.sqrt(d.mean(1).var(ddof=1) / label.sum() + d.mean(0).var(ddof=1) / (~label).sum())
    assert auc_difference_z(a, b, label) == pytest.approx(d.mean() / se, rel=1e-9)
    assert auc_difference_z(a, b, label) > 2  # a ranks better, and the pairing sees it
    assert auc_difference_z(b, a, label) == pytest.approx(-auc_difference_z(a, b, label))
    assert auc_difference_z(a, a, label) == 0.0
    assert np.isnan(auc_difference_z(a, b, np.arange(n) == 0))  # one buyer


def test_sequence_steps_sum_weeks_and_mask_only_steps_wholly_before_birth():
    """step_weeks=2 over 7 weeks: 4 steps, the first padded with one week before the window."""
    orders = _orders([("a", "2024-03-31", 10.0, True), ("a", "2024-03-24", 4.0, True),
                      ("a", "2024-03-17", 6.0, True), ("b", "2024-02-01", 5.0, True),
                      ("b", "2024-03-27", 3.0, True)])
    hist = P.prepare_history(orders, NO_SESSIONS, _customers(["a", "b"]))
    snap = P.snapshot(hist, dt.date(2024, 3, 31), weeks=7)
    weekly = P.Encoder.fit([snap], hist.channels, 7)
    enc = P.Encoder.fit([snap], hist.channels, 7, step_weeks=2)
    assert weekly.n_steps == 7 and enc.n_steps == 4
    x = enc.sequence(snap)
    assert x.shape == (2, 4, 2)
    # a: born 14 days before the cut-off (3 weeks observed: weeks 4, 5, 6 of 0..6); padded
    # weeks -1..6 in steps (-1, 0), (1, 2), (3, 4), (5, 6): steps 0 and 1 masked, step 2 half observed
    assert (x[0, :2] == -99.0).all() and (x[0, 2:] != -99.0).all()
    assert (x[1] != -99.0).all()  # b: born 59 days before, every week observed
    mean, std = np.asarray(enc.seq_mean), np.asarray(enc.seq_std)
    raw = np.expm1(x[0, 2:] * std + mean)  # back to the sums: purchase days and revenue per step
    np.testing.assert_allclose(raw, [[1.0, 6.0], [2.0, 14.0]], rtol=1e-5)
    np.testing.assert_allclose(np.expm1(x[1, 3] * std + mean), [1.0, 3.0], rtol=1e-5)


def test_scores_in_chunks_equal_scores_at_once(monkeypatch):
    """score_snapshot builds sequences a chunk of customers at a time: any chunk size gives the
    same table (BG/NBD is fitted once on the whole population)."""
    from shoplens.datagen import generate_shop
    from shoplens.propensity import chunks
    from shoplens.testing.propensity_marts import marts_from_raw

    marts = marts_from_raw(generate_shop(n_customers=500, n_days=300, seed=6))
    hist = P.prepare_history(marts["orders"], marts["sessions"], marts["customers"])
    end = hist.last_data_day
    cfg = P.PropensityConfig(n_cutoffs=2)
    ts = P.prepare_training(hist, end - 30, cfg)
    model = P.ServedPropensity(P.Selection("logreg", "test"), ts.encoder, ts.baselines, None,
                               {"model_version": "test", "train_end_date": "2024-01-01"})
    whole = P.score_snapshot(model, hist, end, 30, True)
    monkeypatch.setattr(chunks.snapshot_chunks, "__defaults__", (37,))
    monkeypatch.setattr(chunks.chunked_columns, "__defaults__", (37,))
    parts = P.score_snapshot(model, hist, end, 30, True)
    assert len(whole) > 37 * 5 and whole["customer_id"].is_unique
    pd.testing.assert_frame_equal(whole, parts)
    assert whole["reason_1"].notna().all() and whole["p_bgnbd"].notna().any()
    # a slice of customers keeps the shop's event channels even when it holds no session row
    empty = chunks.customer_slice(hist, 0, 0)
    assert len(empty.s_cust) == 0 and empty.channels == hist.channels


def test_validation_customers_are_capped_by_a_hash_of_the_id_not_the_seed():
    from shoplens.propensity.selection import _validation_customers

    ids = [f"c{i}" for i in range(300)]
    orders = _orders([(c, "2024-03-01", 5.0, True) for c in ids])
    hist = P.prepare_history(orders, NO_SESSIONS, _customers(ids))
    assert _validation_customers(hist, P.PropensityConfig(max_validation_customers=300)) is None
    a = _validation_customers(hist, P.PropensityConfig(max_validation_customers=120, seed=1))
    b = _validation_customers(hist, P.PropensityConfig(max_validation_customers=120, seed=2))
    assert a.sum() == 120 and (a == b).all()
    # the same customers whatever the order of the rows
    again = P.prepare_history(orders.iloc[::-1], NO_SESSIONS, _customers(ids[::-1]))
    c = _validation_customers(again, P.PropensityConfig(max_validation_customers=120))
    assert set(again.customer_ids[c]) == set(hist.customer_ids[a])


def test_sessions_with_categorical_ids_give_the_same_history_and_features():
    """The dbt adapter reads int_session_days with dictionary-encoded customer ids
    (shoplens.inputs.read_with_categorical_ids); the history, and the statics with their
    country and category one-hots, equal those from plain string ids."""
    import dataclasses

    import duckdb

    from shoplens.datagen import generate_shop
    from shoplens.inputs import read_with_categorical_ids
    from shoplens.testing.propensity_marts import marts_from_raw

    marts = marts_from_raw(generate_shop(n_customers=300, n_days=200, seed=11))
    sessions = marts["sessions"]
    con = duckdb.connect()
    con.register("sessions_in", sessions)
    read = read_with_categorical_ids(con.table("sessions_in"), {"customer_id"}, dates_as_datetime64=True)
    assert isinstance(read["customer_id"].dtype, pd.CategoricalDtype)
    assert read["customer_id"].astype(object).tolist() == sessions["customer_id"].tolist()
    # a session of a customer dim_customers does not know, and a null id, are dropped either way
    extra = sessions.iloc[:2].copy()
    extra["customer_id"] = ["nobody", None]
    plain = pd.concat([sessions, extra], ignore_index=True)
    coded = plain.assign(customer_id=plain["customer_id"].astype("category"))
    a = P.prepare_history(marts["orders"], plain, marts["customers"])
    b = P.prepare_history(marts["orders"], coded, marts["customers"])
    without = P.prepare_history(marts["orders"], sessions, marts["customers"])  # as if never there
    for f in dataclasses.fields(a):
        x, y, z = getattr(a, f.name), getattr(b, f.name), getattr(without, f.name)
        assert (np.array_equal(x, y) if isinstance(x, np.ndarray) else x == y), f.name
        assert (np.array_equal(x, z) if isinstance(x, np.ndarray) else x == z), f.name
    ts = P.prepare_training(a, a.last_data_day - 30, P.PropensityConfig(n_cutoffs=2))
    snap = P.snapshot(a, a.last_data_day, ts.encoder.weeks)
    raw = ts.encoder._static_raw(snap)
    onehots = [c for c in raw.columns if c.startswith(("country=", "first_category="))]
    assert len(onehots) >= 3 and raw[onehots].to_numpy().sum() > 0
    for c in onehots:
        column, level = c.split("=", 1)
        np.testing.assert_array_equal(raw[c].to_numpy(), (snap.static[column] == level).to_numpy("float64"))


def test_the_adapters_categorical_reads_give_the_same_history():
    """The dbt adapter reads orders with categorical customer ids, customers with categorical
    country and category, and the session counts as float32 (shoplens.inputs.read_with_categorical_ids);
    the history equals the one from the frames as `.df()` gives them, nulls included."""
    import dataclasses

    import duckdb

    from shoplens.datagen import generate_shop
    from shoplens.inputs import read_with_categorical_ids
    from shoplens.testing.propensity_marts import marts_from_raw

    marts = marts_from_raw(generate_shop(n_customers=300, n_days=200, seed=12))
    customers = marts["customers"].copy()
    customers.loc[customers.index[:5], "country"] = None  # "unknown" in the history
    customers.loc[customers.index[5:9], "first_order_category"] = None  # ""
    con = duckdb.connect()
    for name, frame in (("orders_in", marts["orders"]), ("customers_in", customers), ("sessions_in", marts["sessions"])):
        con.register(name, frame)
    counts = ("n_product_views", "n_add_to_carts", "n_checkouts")
    orders = read_with_categorical_ids(con.table("orders_in"), {"customer_id"})
    people = read_with_categorical_ids(con.table("customers_in"), {"country", "first_order_category"})
    sessions = read_with_categorical_ids(con.table("sessions_in").project(", ".join(
        f"cast({c} as float) as {c}" if c in counts else c for c in marts["sessions"].columns)),
        {"customer_id"}, dates_as_datetime64=True)
    assert isinstance(orders["customer_id"].dtype, pd.CategoricalDtype)
    assert isinstance(people["country"].dtype, pd.CategoricalDtype) and people["country"].isna().sum() == 5
    assert sessions["n_product_views"].dtype == np.float32
    a = P.prepare_history(marts["orders"], marts["sessions"], customers)
    b = P.prepare_history(orders, sessions, people)
    assert (a.country == "unknown").sum() >= 5 and (a.first_category == "").sum() >= 4
    for f in dataclasses.fields(a):
        x, y = getattr(a, f.name), getattr(b, f.name)
        assert (np.array_equal(x, y) if isinstance(x, np.ndarray) else x == y), f.name


def test_last_weeks_sum_equals_numpy_sum():
    from shoplens.propensity.encoding import _last_weeks_sum

    rng = np.random.default_rng(3)
    seq = (rng.random((1000, 52, 6)) * rng.integers(0, 4, (1000, 52, 6))).astype("float32") * 37.3
    for w in (1, 4, 13, 52):
        np.testing.assert_array_equal(_last_weeks_sum(seq, w), seq[:, -w:, :].sum(axis=1))
    assert _last_weeks_sum(seq[:, :0, :], 4).shape == (1000, 6)  # a snapshot without sequences
    assert not _last_weeks_sum(seq[:, :0, :], 4).any()


def test_weekly_sequences_equal_a_row_by_row_count_at_every_cut_off():
    """The shared masks of ``_sequences`` against a plain loop over the rows: purchase days and
    revenue, and session-day rows counted only once their day (``activity_date``) is seen."""
    rng = np.random.default_rng(5)
    start = pd.Timestamp("2024-01-01")
    ids = [f"c{i}" for i in range(40)]
    orders = _orders([(rng.choice(ids), start + pd.Timedelta(hours=int(h)), float(rng.integers(1, 90)), True)
                      for h in rng.integers(0, 24 * 200, 300)])
    started = start + pd.to_timedelta(rng.integers(0, 200, 400), unit="D")
    sessions = pd.DataFrame({
        "customer_id": rng.choice(ids, 400), "started_at": started,
        # a session's later day: its events count from that day on
        "activity_date": started + pd.to_timedelta(rng.integers(0, 2, 400), unit="D"),
        "n_product_views": rng.integers(0, 5, 400), "n_add_to_carts": rng.integers(0, 3, 400),
        "n_checkouts": rng.integers(0, 2, 400)})
    hist = P.prepare_history(orders, sessions, _customers(ids))
    weeks = 6
    for cutoff in (hist.last_data_day, hist.last_data_day - 40, hist.first_data_day + 20):
        snap = P.snapshot(hist, int(cutoff), weeks=weeks)
        pos = {c: i for i, c in enumerate(snap.index)}
        want = np.zeros((len(snap.index), weeks, 6))
        for c, day, revenue in zip(hist.p_cust, hist.p_day, hist.p_revenue, strict=True):
            age = cutoff - day
            if c in pos and 0 <= age < 7 * weeks:
                want[pos[c], weeks - 1 - age // 7, :2] += (1.0, revenue)
        for c, day, seen, counts in zip(hist.s_cust, hist.s_day, hist.s_seen, hist.s_counts, strict=True):
            age = cutoff - day
            if c in pos and seen <= cutoff and 0 <= age < 7 * weeks:
                want[pos[c], weeks - 1 - age // 7, 2:] += counts
        assert snap.seq.dtype == np.float32 and snap.seq.shape == want.shape
        np.testing.assert_allclose(snap.seq, want, rtol=1e-6)
        assert snap.seq[..., 2].sum() > 0  # sessions counted at this cut-off


@pytest.mark.parametrize("seed", range(4))
def test_session_row_order_equals_numpy_lexsort(seed):
    """The packed-key sort of the session rows gives np.lexsort's order, ties and all."""
    from shoplens.propensity.history import _lexsort_order

    rng = np.random.default_rng(seed)
    n = 5_000
    cust = rng.integers(0, 40, n)
    day = rng.integers(-5, 5, n)  # days before 1970 too
    seen = day + rng.integers(0, 2, n)
    counts = rng.integers(0, 2, (n, 4)).astype("float32")
    counts[rng.random(n) < 0.1, 2] = -1.5
    # hundreds of rows equal in every key: their input order must survive
    keys = np.column_stack([cust, day, seen, counts])
    assert len(keys) - len(np.unique(keys, axis=0)) > 100
    expected = np.lexsort((counts[:, 3], counts[:, 2], counts[:, 1], counts[:, 0], seen, day, cust))
    got = _lexsort_order([cust, day, seen], [counts[:, k] for k in range(4)])
    assert np.array_equal(got, expected)
    # ranges whose product passes 2**62: numpy's lexsort itself (a packed key would overflow)
    wide = [rng.integers(0, 2**40, n), rng.integers(0, 2**40, n)]
    expected = np.lexsort((counts[:, 0], *wide[::-1]))
    assert np.array_equal(_lexsort_order(wide, [counts[:, 0]]), expected)
    # a narrower integer type: numpy's lexsort too (its differences could wrap)
    narrow = np.array([127, -128, 0] * 10, dtype=np.int8)
    assert np.array_equal(_lexsort_order([narrow], [counts[:30, 0]]), np.lexsort((counts[:30, 0], narrow)))


def test_rfm_cells_of_no_customers_are_empty():
    orders = _orders([("c0", "2024-03-01", 10.0, True)])
    hist = P.prepare_history(orders, NO_SESSIONS, _customers(["c0"], [None]))
    nobody = P.snapshot(hist, dt.date(2024, 3, 31), weeks=8, only=np.zeros(1, dtype=bool))
    cells, _ = P.rfm_cells(nobody, {"r": [1.0], "f": [1.0], "m": [1.0]})
    assert cells.shape == (0,) and cells.dtype == np.dtype("<U3")


def test_min_gru_gain_var_reads_the_lead_and_names_a_bad_value():
    """var propensity_min_gru_gain: the default when unset, a lead in [0, 1) as text, and a
    clear error naming the var otherwise."""
    from shoplens.propensity.config import ConfigError, config_from_dbt

    base = {"window_days": "30", "sequence_weeks": "52", "seed": "1"}
    assert config_from_dbt(base).min_gru_gain == 0.005
    assert config_from_dbt({**base, "min_gru_gain": "None"}).min_gru_gain == 0.005
    assert config_from_dbt({**base, "min_gru_gain": "0"}).min_gru_gain == 0.0
    assert config_from_dbt({**base, "min_gru_gain": "0.02"}).min_gru_gain == 0.02
    for bad in ("-0.01", "1.5", "a lot"):
        with pytest.raises(ConfigError, match="propensity_min_gru_gain"):
            config_from_dbt({**base, "min_gru_gain": bad})


def test_choose_trains_the_gru_only_on_a_real_lead_worth_the_margin():
    """Each branch of the choice: no lead, a lead within chance, a lead beyond chance under
    the margin, one over it, and a window too small to test (one buyer)."""
    from shoplens.propensity.selection import _choose

    rng = np.random.default_rng(7)
    n = 4000
    y = rng.random(n) < 0.1
    base = rng.normal(size=n) + 1.0 * y
    strong = base + 0.6 * y  # ranks the buyers higher: a large, real lead
    # a lead within chance: +0.0001 AUC, z 0.02
    noisy = base + 0.3 * np.random.default_rng(11).normal(size=n) + 0.05 * y

    def choose(gru_scores, labels=y, **cfg):
        from shoplens.evaluation import auc
        scores = {"logreg": base, "rnn_gru": gru_scores}
        metrics = {m: {"auc": auc(p, labels)} for m, p in scores.items()}
        return _choose(metrics, P.PropensityConfig(**cfg), "", scores, labels)

    served, reason = choose(strong)
    assert served == "rnn_gru" and "DeLong z" in reason and "trained in full" in reason
    served, reason = choose(strong, min_gru_gain=0.5)
    assert served == "logreg" and "var propensity_min_gru_gain" in reason
    served, reason = choose(noisy, min_gru_gain=0.0)
    assert served == "logreg" and "did not beat it beyond chance" in reason
    served, reason = choose(base - 0.5 * y)
    assert served == "logreg" and "did not beat it (" in reason
    one_buyer = np.arange(n) == 0
    served, reason = choose(strong, one_buyer, min_gru_gain=0.0)
    assert served == "logreg" and "cannot be tested" in reason
