"""Recommendations and profiles: recovered tastes, fallbacks, metrics by hand, bad input.

The package is tested on generated shops without dbt (``lines_from_raw``);
one small dbt build checks the contracts, the SQL item-to-item mart against
its Python twin, products missing from ``products`` and an export without
order lines.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from conftest import query, run_dbt
from sklearn.metrics import adjusted_rand_score

from shoplens import datagen
from shoplens.recommend import ProfileConfig, RecommendConfig, RecommendError, configs_from_dbt
from shoplens.recommend import pipeline as P
from shoplens.recommend.data import (
    browsed,
    browsed_by,
    browsing_cutoffs,
    browsing_from_raw,
    interactions,
    lines_from_raw,
    on_or_before,
    read_lines,
)
from shoplens.recommend.evaluation import ranking_metrics
from shoplens.recommend.holdout import evaluation_sample
from shoplens.recommend.models import affinity_from_lines
from shoplens.recommend.profiles import name_profile, product_bands

HOLDOUT_DAYS = 60


def _shop(tastes: bool, n: int = 10_000, seed: int = 42, events: bool = False) -> dict:
    tables = datagen.generate_shop(n_customers=n, seed=seed, events=events, holdout_days=HOLDOUT_DAYS, tastes=tastes)
    lines = lines_from_raw(tables)
    as_of = dt.date.fromisoformat(tables["ground_truth"]["calibration_end_date"])
    browsing = browsing_from_raw(tables)
    if browsing is not None:  # what the mart holds: events up to as_of_date
        browsing = browsing.loc[browsed_by(browsing, as_of)]
    return {"tables": tables, "lines": lines, "as_of": as_of, "browsing": browsing,
            "past": lines.loc[on_or_before(lines["order_date"], as_of)],
            "future": lines.loc[~on_or_before(lines["order_date"], as_of)]}


def _metrics(shop: dict, cfg: RecommendConfig) -> tuple[P.Selection, pd.DataFrame]:
    sel = P.select_model(shop["past"], shop["as_of"], cfg, shop["browsing"])
    rows = P.evaluate_recommenders(shop["past"], shop["future"], None, shop["as_of"],
                                   shop["lines"]["order_date"].max().date(), cfg, sel, browsing=shop["browsing"])
    frame = pd.DataFrame(rows).pivot_table(index="model_name", columns="metric", values="value")
    return sel, frame


@pytest.fixture(scope="module")
def taste_shop() -> dict:
    return _shop(tastes=True, events=True)


@pytest.fixture(scope="module")
def taste_result(taste_shop):
    return _metrics(taste_shop, RecommendConfig())


# ---------------------------------------------------------------- generator tastes


def test_tastes_change_only_the_products_on_the_lines():
    kw = {"n_customers": 800, "seed": 5, "dirty_rate": 0.02}
    with_tastes, without = datagen.generate_shop(**kw), datagen.generate_shop(tastes=False, **kw)
    for table in ("orders", "customers", "products"):
        pd.testing.assert_frame_equal(with_tastes[table], without[table])
    # events: only the products shown change (views and add-to-carts follow the tastes)
    ea, eb = with_tastes["events"], without["events"]
    pd.testing.assert_frame_equal(ea.drop(columns="product_id"), eb.drop(columns="product_id"))
    assert (ea["product_id"].isna() == eb["product_id"].isna()).all()
    a, b = with_tastes["order_items"], without["order_items"]
    assert len(a) == len(b) and (a["order_id"].to_numpy() == b["order_id"].to_numpy()).all()
    assert (a["product_id"].to_numpy() != b["product_id"].to_numpy()).mean() > 0.5
    ta, tb = with_tastes["ground_truth"], without["ground_truth"]
    assert ta["counts"] == tb["counts"] and ta["dirty_rows"] == tb["dirty_rows"] and ta["demand"] == tb["demand"]
    clean = datagen.generate_shop(n_customers=800, seed=5)
    clean_lines = clean["order_items"].groupby("order_id")["quantity"].apply(sorted)
    plain_lines = datagen.generate_shop(n_customers=800, seed=5, tastes=False)["order_items"]
    pd.testing.assert_series_equal(clean_lines, plain_lines.groupby("order_id")["quantity"].apply(sorted))
    # each buying customer has a group, and buys mostly in the group's home categories
    tastes = clean["ground_truth"]["tastes"]
    assert set(tastes["customer_group"]) == set(clean["orders"]["customer_id"])
    assert tb["tastes"] == {"enabled": False}
    home = {g["group"]: set(g["home_categories"]) for g in tastes["groups"]}

    def home_share(shop):
        lines = lines_from_raw(shop)
        group = lines["customer_id"].map(tastes["customer_group"])
        return float(np.mean([c in home[g] for c, g in zip(lines["category"], group, strict=True)]))

    assert home_share(clean) > 0.8
    plain = datagen.generate_shop(n_customers=800, seed=5, tastes=False)
    assert home_share(plain) < 0.35
    categories = clean["products"].set_index("product_id")["category"]

    def browse_share(shop):
        b = browsing_from_raw(shop)
        b = b.loc[b["customer_id"].isin(list(tastes["customer_group"]))]
        group = b["customer_id"].map(tastes["customer_group"])
        return float(np.mean([categories[p] in home[g] for p, g in zip(b["product_id"], group, strict=True)]))

    assert browse_share(clean) > 0.8
    assert browse_share(plain) < 0.35


# ---------------------------------------------------------------- tastes recovered


def test_als_beats_popularity_by_half_and_item_to_item_on_the_holdout(taste_result):
    sel, m = taste_result
    assert sel.served == "als" and sel.reason == ""
    als, pop, i2i = (m.loc[name, "recall_at_10"] for name in ("als", "popularity", "item_to_item"))
    assert als >= 1.5 * pop, (als, pop)
    assert als > i2i, (als, i2i)
    assert m.loc["als", "ndcg_at_10"] > m.loc["popularity", "ndcg_at_10"]
    # ALS personalises: popularity shows everyone the same 10 of 120 products (0.083).
    # Over the taste shops of seeds 1-7 and 42, before and after the generator's cut-week
    # fix (16 runs), ALS covered 0.375-0.483 of the catalogue, so 5x (0.417) sat inside that
    # range (this seed: 0.442 before the fix, 0.375 after); 4x is below all of them
    # and far above a model that ranks like popularity.
    assert m.loc["als", "catalogue_coverage"] > 4 * m.loc["popularity", "catalogue_coverage"]


def test_browsing_is_compared_on_validation_and_the_holdout_reports_both(taste_result):
    sel, m = taste_result
    with_browsing = [t for t in sel.candidates if t.endswith("+browsing_v0.1_c0.3")]
    # screened: 10 candidates at 5 iterations and the best 4 continued to 15, per feedback
    assert len(with_browsing) == len(sel.candidates) / 2 == 14
    assert sum("_i5+" in t for t in with_browsing) == 10 and sum("_i15+" in t for t in with_browsing) == 4
    assert sel.browsing_note.startswith("with browsing" if sel.browsing else "purchases only")
    assert "validation recall@10 with browsing" in sel.browsing_note
    # the rule: browsing kept iff its pick's validation recall beats the purchases-only pick's by > 2 se
    pick_browse = sel.candidates[sel.picks["browsing"][0].tag]
    pick_plain = sel.candidates[sel.picks["purchases"][0].tag]
    assert sel.picks["browsing"][0].tag.endswith("+browsing_v0.1_c0.3")
    assert f"with browsing {pick_browse:.4f} vs purchases only {pick_plain:.4f}" in sel.browsing_note
    # the holdout has both fits; browsing carries taste: far above popularity too
    assert m.loc["als_with_browsing", "recall_at_10"] >= 1.5 * m.loc["popularity", "recall_at_10"]
    assert abs(m.loc["als_with_browsing", "recall_at_10"] - m.loc["als", "recall_at_10"]) < 0.1


def _browse_shop(days_before_cut: int) -> tuple[P.Selection, pd.DataFrame]:
    """Customers who view, ``days_before_cut`` days before the validation cut, what they buy after it."""
    shop = _shop(tastes=False, n=3000, seed=11)
    cfg = RecommendConfig(factors_grid=(8,), alpha_grid=(10.0,))
    cut = shop["as_of"] - dt.timedelta(days=cfg.validation_days)
    window = shop["past"].loc[~on_or_before(shop["past"]["order_date"], cut)]
    views = window[["customer_id", "product_id"]].drop_duplicates().assign(
        event_date=cut - dt.timedelta(days=days_before_cut), n_product_views=3, n_add_to_carts=1)
    browsing = P.browsing_events(views)
    return P.select_model(shop["past"], shop["as_of"], cfg, browsing), browsing


def test_browsing_before_the_cut_that_foretells_purchases_is_kept_and_later_events_are_ignored():
    sel, browsing = _browse_shop(days_before_cut=1)
    assert sel.browsing and sel.served == "als", sel.browsing_note
    assert sel.tag(RecommendConfig()).endswith("+browsing_v0.1_c0.3")
    # the same events dated after the cut are never read: purchases only, no browsing candidates
    late, _ = _browse_shop(days_before_cut=-1)
    assert not late.browsing and not any("+browsing" in t for t in late.candidates)
    assert late.browsing_note == "purchases only: no browsing events before the validation cut-off"
    # without tastes and without browsing, ALS loses to popularity: browsing is what lifted it
    assert late.served == "popularity"


DAY0 = dt.date(2025, 1, 1)


def _daily_browsing(n: int, customers: int, products: int, days: int, seed: int) -> pd.DataFrame:
    """``n`` random rows shaped like ``customer_product_browsing`` from DAY0 on."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "customer_id": rng.integers(0, customers, n).astype(str), "product_id": rng.integers(0, products, n),
        "event_date": [DAY0 + dt.timedelta(days=int(d)) for d in rng.integers(0, days, n)],
        "n_product_views": rng.integers(0, 6, n), "n_add_to_carts": rng.integers(0, 3, n)})


def test_browsing_summed_per_cut_off_gives_the_day_grain_matrices_in_compact_columns():
    day0 = DAY0
    daily = _daily_browsing(5000, 60, 10, 120, seed=3)
    cuts = browsing_cutoffs(day0 + dt.timedelta(days=100), 60)
    by_day, summed = P.browsing_events(daily), P.browsing_events(daily, cutoffs=cuts)
    pairs = daily[["customer_id", "product_id"]].drop_duplicates()
    assert len(summed) <= 2 * len(pairs) < len(by_day) / 2
    assert summed["event_date"].max() == pd.Timestamp(cuts[1])  # later events dropped
    assert {str(summed[c].dtype) for c in ("customer_id", "product_id")} == {"category"}
    assert summed["n_product_views"].dtype == np.float32 and summed["event_date"].dtype.kind == "M"
    customers, products = np.sort(pairs["customer_id"].unique()), np.sort(pairs["product_id"].astype(str).unique())
    for end in cuts:
        want = browsed(by_day, products[:8], customers[:50], end, (0.1, 0.3)).toarray()
        got = browsed(summed, products[:8], customers[:50], end, (0.1, 0.3)).toarray()
        assert (want > 0).sum() > 100 and np.array_equal(want > 0, got > 0)
        np.testing.assert_allclose(got, want, rtol=1e-6)
    with pytest.raises(RecommendError, match="not one of them"):
        browsed_by(summed, cuts[0] + dt.timedelta(days=1))


def test_browsing_summed_in_passes_equals_one_pass(monkeypatch):
    """Large browsing is summed over hash-partitions of the customers (less DuckDB memory):
    the same rows and sums as one pass, every customer in exactly one pass."""
    from shoplens.recommend import data

    daily = _daily_browsing(6000, 400, 30, 90, seed=5)
    cuts = browsing_cutoffs(DAY0 + dt.timedelta(days=80), 30)

    def rows(frame):
        out = frame.astype({"customer_id": str, "product_id": str})
        return out.sort_values(["customer_id", "product_id", "event_date"]).reset_index(drop=True)

    one = P.browsing_events(daily, cutoffs=cuts)
    queries = []
    monkeypatch.setattr(data, "BROWSING_ROWS_PER_PASS", 1000)  # 6 passes
    real = data._summed_sql
    monkeypatch.setattr(data, "_summed_sql", lambda *a: queries.append(a) or real(*a))
    passes = P.browsing_events(daily, cutoffs=cuts)
    assert [q[1:] for q in queries] == [(k, 6) for k in range(6)]
    assert len(one) > 1000
    pd.testing.assert_frame_equal(rows(one), rows(passes))


def test_browsing_reads_a_duckdb_relation_and_a_ref_with_only_df_alike():
    """dbt-duckdb passes a DuckDB relation; the Spark runner's ref has only ``.df()``."""
    import duckdb

    daily = pd.DataFrame({"customer_id": ["a", "a", "b"], "product_id": [1, 1, 2],
                          "event_date": [dt.date(2025, 1, 2), dt.date(2025, 1, 3), dt.date(2025, 3, 1)],
                          "n_product_views": [2, 3, 1], "n_add_to_carts": [0, 1, 0]})

    class DfOnly:  # like shoplens.spark.models.Ref: no .columns, no .query
        def df(self):
            return daily

    cuts = (dt.date(2025, 1, 31), dt.date(2025, 2, 28))
    con = duckdb.connect()
    from_rel = P.browsing_events(con.from_df(daily), cutoffs=cuts)
    from_ref = P.browsing_events(DfOnly(), cutoffs=cuts)
    pd.testing.assert_frame_equal(from_rel, from_ref)
    assert from_ref["n_product_views"].tolist() == [5.0]  # a's two days summed; b's March day dropped


def test_lines_from_a_duckdb_relation_have_categorical_ids_and_the_same_values():
    import duckdb

    lines = pd.DataFrame({"customer_id": ["c2", "c1", "c2"], "order_id": ["o1", "o2", "o3"],
                          "product_id": ["p1", "p1", "p2"], "order_date": [dt.date(2025, 1, d) for d in (1, 2, 3)],
                          "is_purchase": [True, True, False], "line_amount": [1.5, 2.0, 3.0]})
    read = read_lines(duckdb.connect().from_df(lines))
    assert all(isinstance(read[c].dtype, pd.CategoricalDtype) for c in ("customer_id", "order_id", "product_id"))
    pd.testing.assert_frame_equal(P.purchase_lines(read).astype({c: str for c in ("customer_id", "product_id")}),
                                  P.purchase_lines(lines))
    assert read_lines(lines) is lines


def test_order_keys_are_one_per_order_id_whatever_its_type():
    from shoplens.recommend.data import order_keys

    ids = ["o1", "o2", "o1", "10", "o2"]
    keys = order_keys(pd.Series(ids))
    assert keys.dtype == np.uint64
    assert keys[0] == keys[2] and keys[1] == keys[4] and len(set(keys.tolist())) == 3
    # a categorical (read_lines) and an integer column give the text's key
    assert (order_keys(pd.Series(ids, dtype="category")) == keys).all()
    assert order_keys(pd.Series([10, 10]))[0] == keys[3]
    assert (order_keys(pd.Series([10], dtype="category")) == keys[3]).all()
    # the orders a product was bought in are counted by key: two lines of one order count once
    lines = P.purchase_lines(pd.DataFrame({
        "customer_id": ["c1"] * 4, "order_id": pd.Series(["o1", "o1", "o2", "o3"], dtype="category"),
        "product_id": ["p1", "p1", "p1", "p2"], "order_date": [dt.date(2025, 1, 1)] * 4}))
    inter = interactions(lines, np.array(["p1", "p2"]), dt.date(2025, 1, 1))
    assert inter.matrix.toarray().tolist() == [[2.0, 1.0]] and inter.n_orders.tolist() == [3]
    with pytest.raises(ValueError, match="order ids hold nulls"):
        order_keys(pd.Series(["o1", None], dtype="category"))


def test_line_dates_keep_their_day_whatever_their_type():
    """The day of a line is its date, its timestamp's local date, or its text's date; a date past
    pandas' nanosecond range (DuckDB gives dates in microseconds) is compared, not wrapped around."""
    import pyarrow as pa

    from shoplens.recommend.data import line_days

    cut = dt.date(2025, 1, 3)
    far = pd.Series(np.array(["2025-01-03", "9999-12-31", "1500-01-01"], dtype="datetime64[us]"))
    assert on_or_before(far, cut).tolist() == [True, False, True]
    assert line_days(far)[1] == np.datetime64("9999-12-31")
    berlin = pd.Series(pd.to_datetime(["2025-01-03 00:30", "2025-01-04 00:30"]).tz_localize("Europe/Berlin"))
    for column in (
        pd.Series([dt.date(2025, 1, 3), dt.date(2025, 1, 4)]),
        pd.Series(["2025-01-03", "2025-01-04"]),
        pd.Series(pd.to_datetime(["2025-01-03 23:59:59", "2025-01-04 00:00:00"])),  # a time of day counts as its date
        berlin,  # the local date, not UTC's (2025-01-02 23:30)
        berlin.astype(pd.ArrowDtype(pa.timestamp("us", tz="Europe/Berlin"))),
        pd.Series([dt.date(2025, 1, 3), dt.date(2025, 1, 4)], dtype=pd.ArrowDtype(pa.date32())),
    ):
        assert on_or_before(column, cut).tolist() == [True, False], column.dtype
        assert line_days(column).astype("datetime64[D]").tolist() == [dt.date(2025, 1, 3), dt.date(2025, 1, 4)]


def test_evaluation_sample_is_seeded_capped_and_named(taste_shop, taste_result):
    past, future = taste_shop["past"], taste_shop["future"]
    n = past["customer_id"].nunique()
    same = evaluation_sample(past, future, RecommendConfig(evaluation_max_customers=n))
    assert same[0] is past and same[1] is future and same[2] == ""
    part, later, suffix = evaluation_sample(past, future, RecommendConfig(evaluation_max_customers=500))
    assert part["customer_id"].nunique() == 500 and suffix == f",sample=500_of_{n}"
    assert set(later["customer_id"]) <= set(part["customer_id"]) and len(later) > 0
    again = evaluation_sample(past, future, RecommendConfig(evaluation_max_customers=500))[0]
    pd.testing.assert_frame_equal(again, part)
    rows = P.evaluate_recommenders(past, future, None, taste_shop["as_of"], future["order_date"].max().date(),
                                   RecommendConfig(evaluation_max_customers=500), taste_result[0])
    assert {r["slice"] for r in rows} == {f"customers=min_2_orders{suffix}", f"customers=all{suffix}"}
    assert max(r["n_obs"] for r in rows) <= 500


def test_the_validation_verdict_is_reused_for_the_same_rows_in_any_order(taste_shop, taste_result):
    from shoplens.recommend import selection

    past, browsing = taste_shop["past"], taste_shop["browsing"]
    shuffled = past.sample(frac=1, random_state=3).astype({"customer_id": "category"})
    again = P.select_model(shuffled, taste_shop["as_of"], RecommendConfig(), browsing)
    assert again is P.select_model(past, taste_shop["as_of"], RecommendConfig(), browsing)
    assert again.candidates == taste_result[0].candidates
    # the evaluation's own sample size is not part of the verdict: the evaluation reuses it whatever its value
    assert P.select_model(past, taste_shop["as_of"], RecommendConfig(evaluation_max_customers=500), browsing) is again
    columns = ("customer_id", "order_id", "product_id", "order_date")
    assert selection._fingerprint(past.iloc[1:], columns) != selection._fingerprint(past, columns)
    moved = past.assign(order_date=past["order_date"].shift(1, fill_value=past["order_date"].iloc[-1]))
    assert selection._fingerprint(moved, columns) != selection._fingerprint(past, columns)


def test_als_resumed_gives_the_factors_of_one_longer_fit():
    from shoplens.recommend.models import ALS

    m = sp.random(3000, 200, density=0.02, format="csr", random_state=np.random.default_rng(5), dtype=np.float32)
    m.data[:] = np.ceil(m.data * 3)
    once = ALS(8, 10.0, 1.0, 15, seed=42).fit(m)
    twice = ALS(8, 10.0, 1.0, 5, seed=42).fit(m).resume(m, 10)
    assert twice.iterations == 15 and twice.tag == once.tag
    assert np.array_equal(once.model.user_factors, twice.model.user_factors)
    assert np.array_equal(once.model.item_factors, twice.model.item_factors)
    two_threads = ALS(8, 10.0, 1.0, 15, seed=42, num_threads=2).fit(m)
    assert np.array_equal(once.model.user_factors, two_threads.model.user_factors)
    assert np.array_equal(once.model.item_factors, two_threads.model.item_factors)
    shorter = ALS(8, 10.0, 1.0, 5, seed=42).fit(m)
    assert not np.array_equal(once.model.user_factors, shorter.model.user_factors)


def test_als_starts_from_given_item_factors_and_leaves_them_untouched():
    from shoplens.recommend.models import ALS

    m = sp.random(3000, 200, density=0.02, format="csr", random_state=np.random.default_rng(5), dtype=np.float32)
    m.data[:] = np.ceil(m.data * 3)
    start = ALS(8, 10.0, 1.0, 15, seed=42).fit(m).item_factors
    given = start.copy()
    assert np.array_equal(ALS(8, 10.0, 1.0, 0, seed=42).fit(m, item_factors=given).item_factors, start)
    warm = ALS(8, 10.0, 1.0, 1, seed=42).fit(m, item_factors=given)
    assert np.array_equal(given, start)  # fitted on a copy
    cold = ALS(8, 10.0, 1.0, 1, seed=42).fit(m)
    # one iteration from converged factors stays near them; from random ones it does not
    assert np.abs(warm.item_factors - start).mean() < 0.2 * np.abs(cold.item_factors - start).mean()
    with pytest.raises(ValueError, match="item factors"):
        ALS(4, 10.0, 1.0, 1, seed=42).fit(m, item_factors=given)


def test_warm_factors_follow_the_product_ids_and_new_products_start_small():
    from shoplens.recommend.selection import Scored, Selection

    factors = np.arange(6, dtype=np.float32).reshape(3, 2) + 1.0  # rows: P3, P1, P2 (not sorted)
    pick = Scored("als_f2_a1_r1_i5", 2, 1.0, 5, 0, {"recall": 0.5}, np.zeros((1, 1), int), factors)
    sel = Selection("als", "", 2, 1.0, dt.date(2025, 1, 1), dt.date(2025, 3, 1), picks={"purchases": (pick, "")},
                    iterations=5, validation_products=np.array(["P3", "P1", "P2"]))
    cfg = RecommendConfig(screen_iterations=3)
    init = sel.warm_factors(cfg, np.array(["P2", "P9", "P3", "P1"]))
    assert np.array_equal(init[[0, 2, 3]], factors[[2, 0, 1]])
    assert ((0 <= init[1]) & (init[1] < 0.01)).all()
    assert sel.warm_iterations(cfg) == 2 and sel.warm_iterations(replace(cfg, warm_start=False)) is None
    assert sel.warm_factors(replace(cfg, warm_start=False), np.array(["P1"])) is None


def test_screening_continues_only_the_best_and_zero_searches_the_full_grid(taste_shop, monkeypatch):
    from shoplens.recommend import selection
    from shoplens.recommend.models import ALS

    inter, _, truth, rows = selection._validation_data(taste_shop["past"], taste_shop["as_of"], RecommendConfig(), None)
    calls = []
    fit, resume = ALS.fit, ALS.resume
    monkeypatch.setattr(ALS, "fit", lambda self, m: calls.append(("fit", self.iterations)) or fit(self, m))
    monkeypatch.setattr(ALS, "resume", lambda self, m, n: calls.append(("resume", n)) or resume(self, m, n))
    cfg = RecommendConfig(factors_grid=(4, 8, 16), alpha_grid=(1.0, 10.0), screen_keep=2)
    scored = selection._grid(inter, rows, truth, cfg, "")
    candidates = {s.tag: s.recall for s in scored}
    assert calls == [("fit", 5)] * 6 + [("resume", 10)] * 2
    screened = {t: v for t, v in candidates.items() if t.endswith("_i5")}
    finals = {t: v for t, v in candidates.items() if t.endswith("_i15")}
    assert len(screened) == 6 and len(finals) == 2 and len(scored) == 8
    # the finals are the two best screened candidates
    top2 = sorted(screened, key=lambda t: -screened[t])[:2]
    assert sorted(t.replace("_i5", "_i15") for t in top2) == sorted(finals)
    assert len(candidates) == len(scored)  # every score under its own tag
    calls.clear()
    full_scored = selection._grid(inter, rows, truth, replace(cfg, screen_iterations=0), "")
    full = {s.tag: s.recall for s in full_scored}
    assert calls == [("fit", 15)] * 6 and all(t.endswith("_i15") for t in full) and len(full_scored) == 6
    assert all(full[t] == v for t, v in finals.items())  # a resumed fit scores as a full one


def test_a_backtest_on_the_validation_window_reuses_the_validation_lists(taste_shop, monkeypatch):
    from shoplens.recommend import selection
    from shoplens.recommend.models import ALS

    cfg = RecommendConfig(factors_grid=(4, 8), alpha_grid=(10.0,), screen_iterations=0)
    past, as_of, browsing = taste_shop["past"], taste_shop["as_of"], taste_shop["browsing"]
    sel = selection._select_model(past, as_of, cfg, browsing)
    assert set(sel.picks) == {"purchases", "browsing"}
    inter, _, _, rows = selection._validation_data(past, as_of, cfg, browsing)
    fresh = sel.als(cfg, "purchases").fit(inter.matrix).recommend_from(inter.matrix, rows, cfg.top_k)[0]
    fits, fit = [], ALS.fit
    monkeypatch.setattr(ALS, "fit", lambda self, m, **kw: fits.append(self.tag) or fit(self, m, **kw))
    assert np.array_equal(sel.top_k(cfg, "purchases", inter.matrix, rows), fresh) and fits == []
    other = inter.matrix.copy()
    other.data = other.data * 2  # another matrix: a new fit
    sel.top_k(cfg, "purchases", other, rows)
    assert len(fits) == 1
    # the whole backtest (no holdout: the validation window) is the same with and without the reuse
    fits.clear()
    reused = P.evaluate_recommenders(past, past, None, sel.cutoff, as_of, cfg, sel, browsing=browsing)
    n_reused = len(fits)
    refitted = P.evaluate_recommenders(past, past, None, sel.cutoff, as_of, cfg, replace(sel, validation_rows=None),
                                       browsing=browsing)
    assert len(fits) - n_reused == n_reused + 2  # the als and als_with_browsing fits were skipped
    assert pd.DataFrame(reused).equals(pd.DataFrame(refitted))


def _scored(recalls_and_costs: list[tuple[float, int]], n: int = 400) -> list:
    """Scored candidates with the given mean recalls (per-customer 0/1 values) and factors (iterations 1)."""
    from shoplens.recommend.selection import Scored

    out = []
    for pos, (recall, factors) in enumerate(recalls_and_costs):
        per = np.zeros(n)
        per[: round(recall * n)] = 1.0
        out.append(Scored(f"als_f{factors}", factors, 10.0, 1, pos, {"recall": float(per.mean()), "recall_per_customer": per},
                          np.zeros((n, 10), np.int64)))
    return out


def test_parsimony_serves_the_cheapest_candidate_within_the_standard_error_of_the_best():
    from shoplens.recommend.selection import parsimonious

    # best 0.50 on 400 customers: se = sqrt(0.25 * 400 / 399) / 20 = 0.0250
    scored = _scored([(0.40, 4), (0.48, 8), (0.49, 16), (0.50, 64), (0.5, 128)])
    pick, best, se = parsimonious(scored, 1.0)
    assert best is scored[3] and abs(se - 0.0250) < 1e-4  # equal recall: the cheaper is the best
    assert pick is scored[1]  # 0.48 >= 0.50 - 0.025; 0.40 is not
    assert parsimonious(scored, 0.0)[0] is scored[3]  # 0: always the best
    assert parsimonious(scored, 5.0)[0] is scored[0]  # 0.40 >= 0.50 - 0.125
    # the cost is factors x iterations: 64 factors for 5 iterations costs less than 32 for 15
    cheap, dear = _scored([(0.50, 64), (0.50, 32)])
    cheap.iterations, dear.iterations = 5, 15
    assert parsimonious([dear, cheap], 1.0)[0] is cheap


def test_the_served_candidate_and_its_note_follow_the_parsimony_rule(taste_shop):
    from shoplens.recommend import selection

    cfg = RecommendConfig(factors_grid=(4, 8, 16), alpha_grid=(1.0, 10.0), screen_keep=2)
    sel = selection._select_model(taste_shop["past"], taste_shop["as_of"], cfg, None)
    strict = selection._select_model(taste_shop["past"], taste_shop["as_of"], replace(cfg, parsimony_se=0.0), None)
    assert sel.served == strict.served == "als"
    # the strict rule serves the best validation recall; the default a candidate no dearer, within 1 se
    assert strict.candidates[strict.tag(cfg)] == max(strict.candidates.values())
    assert sel.candidates == strict.candidates
    assert sel.factors * sel.iterations <= strict.factors * strict.iterations
    assert sel.candidates[sel.tag(cfg)] <= strict.candidates[strict.tag(cfg)]
    assert sel.pick_note and sel.pick_note.split(" ")[0] == sel.tag(cfg)
    assert sel.als(cfg).iterations == sel.iterations and sel.tag(cfg).endswith(f"_i{sel.iterations}")


def test_the_served_fit_starts_from_the_picks_validation_factors(taste_shop, monkeypatch):
    from shoplens.recommend import selection
    from shoplens.recommend.config import served_iterations
    from shoplens.recommend.models import ALS

    cfg = RecommendConfig(factors_grid=(4, 8), alpha_grid=(1.0, 10.0), iterations=6, screen_iterations=2,
                          screen_keep=2)
    past, as_of, browsing = taste_shop["past"], taste_shop["as_of"], taste_shop["browsing"]
    sel = selection._select_model(past, as_of, cfg, browsing)
    assert sel.served == "als"
    pick = sel.picks["browsing" if sel.browsing else "purchases"][0]
    # only the picks keep their factors (one row per validation product)
    kept = [s for s in (p[0] for p in sel.picks.values())]
    assert all(s.item_factors.shape == (len(sel.validation_products), s.factors) for s in kept)
    fits, fit = [], ALS.fit
    monkeypatch.setattr(ALS, "fit", lambda self, m, **kw: fits.append((self.iterations, kw.get("item_factors")))
                        or fit(self, m, **kw))
    recs = P.recommend_all(past, np.array([], dtype=object), as_of, cfg, sel, browsing)
    (iterations, init), = fits
    assert iterations == served_iterations(cfg, pick.iterations) == max(1, pick.iterations - 2)
    products = np.sort(past["product_id"].unique())
    known = np.isin(products, sel.validation_products)
    at = pd.Index(sel.validation_products).get_indexer(products[known])
    assert np.array_equal(init[known], pick.item_factors[at])
    # a product the validation did not know starts at a small seeded random value, as implicit's
    assert (~known).sum() == 0 or (0 <= init[~known]).all() and (init[~known] < 0.01).all()
    assert recs["model_version"].iloc[0].split("/")[1].endswith(f"+warm_i{iterations}")
    assert f"item factors, {iterations} iteration(s)" in recs["selection_note"].iloc[0]
    # off: the pick refitted from random factors for its own iterations
    fits.clear()
    cold_cfg = replace(cfg, warm_start=False)
    cold = P.recommend_all(past, np.array([], dtype=object), as_of, cold_cfg, sel, browsing)
    assert fits == [(pick.iterations, None)] and "+warm" not in cold["model_version"].iloc[0]
    assert served_iterations(replace(cfg, screen_iterations=0), 6) == 6  # unscreened: no iterations saved


def test_the_warm_started_served_lists_do_no_worse_on_the_holdout(taste_shop, taste_result):
    sel, warm = taste_result
    cold_sel, cold = _metrics(taste_shop, RecommendConfig(warm_start=False))
    assert sel.warm_iterations(RecommendConfig()) == RecommendConfig().iterations - RecommendConfig().screen_iterations
    assert cold_sel.warm_iterations(RecommendConfig(warm_start=False)) is None
    # the same verdict; the served lists from the validation factors and 10 iterations do not fall
    # behind the pick refitted from random factors for 15 (here 0.613 vs 0.596 recall, 0.437 vs
    # 0.412 NDCG; across shops -0.002 to +0.026 recall: bench/bench_recommend_warm.py)
    assert sel.tag(RecommendConfig()) == cold_sel.tag(RecommendConfig())
    for metric in ("recall_at_10", "ndcg_at_10"):
        assert warm.loc["recommendations_served", metric] >= cold.loc["recommendations_served", metric] - 0.01
    rec, _ = configs_from_dbt({"recommend_warm_start": "False"}.get)
    assert rec.warm_start is False
    with pytest.raises(RecommendError, match="recommend_warm_start"):
        configs_from_dbt({"recommend_warm_start": "sometimes"}.get)


def test_above_served_max_customers_the_served_items_are_fitted_on_a_sample_and_everyone_is_folded_in(
        taste_shop, taste_result, monkeypatch):
    from shoplens.recommend.models import ALS
    from shoplens.recommend.selection import served_sample

    sel, full = taste_result
    past, as_of, browsing = taste_shop["past"], taste_shop["as_of"], taste_shop["browsing"]
    cfg = RecommendConfig(served_max_customers=2000)
    fits, fit = [], ALS.fit
    monkeypatch.setattr(ALS, "fit", lambda self, m, **kw: fits.append(m.shape) or fit(self, m, **kw))
    recs = P.recommend_all(past, np.array([], dtype=object), as_of, cfg, sel, browsing)
    assert [rows for rows, _ in fits] == [2000]  # the item factors: 2,000 of the 9,154 active customers
    version = recs["model_version"].iloc[0]
    assert version.split("/")[1].endswith("+warm_i10+foldin_s2000"), version
    assert "seeded 2000 of the customers" in recs["selection_note"].iloc[0]
    # every warm customer is still served ALS lists, from the folded-in factors
    assert recs["served_model"].eq("als").sum() == len(P.recommend_all(past, np.array([], dtype=object), as_of,
                                                                       RecommendConfig(), sel, browsing)
                                                      .query("served_model == 'als'"))
    monkeypatch.setattr(ALS, "fit", fit)
    # the holdout: within 0.02 of the fit on every customer (here recall 0.606 vs 0.613, NDCG 0.432 vs
    # 0.437; on the 1M warehouse with a 250,000 sample, -0.0006 recall (se 0.0007): docs/recommendations.md)
    _, folded = _metrics(taste_shop, cfg)
    for metric in ("recall_at_10", "ndcg_at_10"):
        assert folded.loc["recommendations_served", metric] >= full.loc["recommendations_served", metric] - 0.02
    assert folded.loc["recommendations_served", "recall_at_10"] != full.loc["recommendations_served", "recall_at_10"]
    # the sample: seeded, sorted, only customers with an interaction; None at or below the limit
    products, customers = np.sort(past["product_id"].unique()), np.sort(past["customer_id"].unique())
    matrix = interactions(past, products, as_of, np.append(customers, ["C_NONE_1", "C_NONE_2"])).matrix
    active = np.flatnonzero(np.diff(matrix.indptr) > 0)
    sample = served_sample(matrix, cfg)
    assert len(sample) == 2000 and np.all(np.diff(sample) > 0) and np.isin(sample, active).all()
    assert np.array_equal(sample, served_sample(matrix, cfg))
    assert served_sample(matrix, RecommendConfig(served_max_customers=len(active))) is None
    # the fold-in on the fitted matrix gives back the fit's own customer factors, closely; no
    # interactions, zero factors
    model = ALS(16, 10.0, 1.0, 10, 42, 2).fit(matrix)
    fitted = np.array(model.model.user_factors)
    model.fold_in(matrix, matrix.shape[0])
    again = np.asarray(model.model.user_factors)
    norms = np.linalg.norm(fitted, axis=1)
    cos = (fitted * again).sum(axis=1) / (norms * np.linalg.norm(again, axis=1) + 1e-12)
    # median cosine 0.92 and distance 0.38 of the fit's norm; unscaled by alpha 0.90 and 0.72, with items
    # shuffled 0.15 and 1.23: three conjugate-gradient steps from zero stop short of the fit's solve
    distance = np.linalg.norm(again - fitted, axis=1) / norms
    assert np.median(cos[active]) > 0.9 and np.median(distance[active]) < 0.5
    assert model.folded_from == matrix.shape[0]
    assert not again[np.setdiff1d(np.arange(matrix.shape[0]), active)].any()
    # each customer's solve is independent: one thread folds in the same factors as two
    model.num_threads = 1
    model.fold_in(matrix, matrix.shape[0])
    assert np.array_equal(np.asarray(model.model.user_factors), again)
    with pytest.raises(ValueError, match="121-column matrix"):
        model.fold_in(sp.hstack([matrix, matrix[:, :1]]).tocsr(), 10)
    # the var
    rec, _ = configs_from_dbt({"recommend_served_max_customers": "300000"}.get)
    assert rec.served_max_customers == 300_000 and RecommendConfig().served_max_customers == 250_000
    with pytest.raises(RecommendError, match="recommend_served_max_customers"):
        configs_from_dbt({"recommend_served_max_customers": "50"}.get)


def test_the_backtest_on_the_validation_window_scores_the_pick_refitted_from_random_factors(taste_shop):
    # without a holdout the served row is judged on the validation window, where a warm start would
    # begin from factors fitted at that same cut-off: the row refits the pick instead, and says so
    as_of = pd.DataFrame({"as_of_date": [taste_shop["as_of"]], "data_end_date": [taste_shop["as_of"]],
                          "has_holdout": [False]})
    cfg = RecommendConfig(factors_grid=(4, 8), alpha_grid=(10.0,))
    ev = P.build_evaluation(taste_shop["past"], None, None, None, as_of, cfg, browsing=taste_shop["browsing"])
    served = ev.loc[(ev["model_name"] == "recommendations_served") & (ev["task"] == "next_products")]
    assert len(served) and (served["evaluation_type"] == "backtest").all()
    assert not served["model_version"].str.contains("+warm", regex=False).any()
    # the production lists of the same verdict are warm-started
    recs = P.recommend_all(taste_shop["past"], np.array([], dtype=object), taste_shop["as_of"], cfg,
                           browsing=taste_shop["browsing"])
    assert recs["model_version"].str.contains("+warm_i", regex=False).all()


def test_browsing_weights_are_vars_and_purchases_weigh_more():
    rec, _ = configs_from_dbt({"recommend_view_weight": "0.05", "recommend_cart_weight": "0.2"}.get)
    assert (rec.view_weight, rec.cart_weight) == (0.05, 0.2)
    with pytest.raises(RecommendError, match="recommend_view_weight"):
        RecommendConfig(view_weight=1.0)
    with pytest.raises(RecommendError, match="recommend_cart_weight"):
        RecommendConfig(cart_weight=-0.1)


def test_served_lists_mix_als_and_flagged_popularity(taste_shop):
    cfg = RecommendConfig()
    recs = P.recommend_all(taste_shop["past"], np.array(["C_NEW"]), taste_shop["as_of"], cfg)
    per = recs.groupby("customer_id", observed=True).agg(n=("recommendation_rank", "size"), model=("served_model", "first"),
                                          orders=("n_purchase_orders", "first"), reason=("fallback_reason", "first"))
    assert (per["n"] == cfg.top_k).all()
    assert (per.loc[per["orders"] >= 2, "model"] == "als").all()
    cold = per.loc[per["orders"] < 2]
    assert (cold["model"] == "popularity").all() and len(cold) > 0
    assert (cold.loc[cold["orders"] == 1, "reason"] == "fewer_than_2_purchase_orders").all()
    assert per.loc["C_NEW", "reason"] == "no_purchase"
    # every popularity list is the same list
    pop = recs.loc[recs["served_model"] == "popularity"].groupby("customer_id", observed=True)["product_id"].agg(tuple)
    assert pop.nunique() == 1
    # ALS lists include already-bought products, flagged
    als = recs.loc[recs["served_model"] == "als"]
    assert 0.1 < als["is_previously_bought"].mean() < 0.9


def test_profiles_recover_the_taste_groups_and_are_stable(taste_shop):
    products = taste_shop["tables"]["products"]
    fit, feats = P.profile_fit(taste_shop["past"], products, ProfileConfig())
    truth = taste_shop["tables"]["ground_truth"]["tastes"]["customer_group"]
    groups = np.array([truth[c] for c in fit.customers])
    ari = adjusted_rand_score(groups, fit.labels)
    assert ari >= 0.6, ari
    assert 2 <= fit.n_profiles <= 8 and fit.silhouette > 0.3
    assert len(set(fit.names)) == fit.n_profiles
    again, _ = P.profile_fit(taste_shop["past"], products, ProfileConfig())
    assert (again.labels == fit.labels).all() and again.names == fit.names
    _assert_names_follow_traits(fit, feats)


def _assert_names_follow_traits(fit, feats) -> None:
    """Each name is made of exactly the first two traits shown, which lead the profile's ranking."""
    overall = feats.shares.mean(axis=0)
    for p, (name, traits) in enumerate(zip(fit.names, fit.traits, strict=True)):
        shown = [t.split(" ")[0] for t in traits.split("; ")]
        words = {"discount-driven" if t == "discount" else t.split("=")[1] for t in shown[:2]}
        name_words = set(name.removesuffix(" buyers").replace(" & ", " ").split(" "))
        assert name_words == words, (name, traits)
        center = feats.shares[fit.labels == p].mean(axis=0)
        contribution = {n: center[i] * np.log(center[i] / overall[i]) for i, n in enumerate(feats.names)}
        assert contribution[shown[0]] == max(contribution[t] for t in shown), (name, traits)
        # every trait shown is at least 1.2x the shop's share
        assert all(center[feats.names.index(t)] >= 1.2 * overall[feats.names.index(t)] for t in shown)


def test_a_large_share_outranks_a_rare_trait_in_the_name():
    names = ["category=beauty", "category=books", "category=toys", "price=budget", "price=mid",
             "price=premium", "discount"]
    overall = np.array([0.20, 0.03, 0.77, 0.34, 0.33, 0.33, 0.10])
    center = np.array([0.60, 0.12, 0.28, 0.30, 0.30, 0.40, 0.05])  # books x4, beauty x3
    name, traits = name_profile(center, overall, names)
    assert traits.startswith("category=beauty 60% (x3.0); category=books 12% (x4.0)")
    assert name == "beauty & books buyers"
    center[5] = 0.9  # premium x2.7 at 90%: 0.9 ln 2.7 = 0.89 > beauty's 0.66
    name, traits = name_profile(center, overall, names)
    assert name == "premium beauty buyers" and traits.startswith("price=premium")
    assert name_profile(overall, overall, names) == ("mixed-basket buyers", "")


# ---------------------------------------------------------------- no taste structure


def test_without_tastes_the_recommender_falls_back_to_popularity_and_says_so():
    shop = _shop(tastes=False, n=6000, seed=43)
    sel, m = _metrics(shop, RecommendConfig())
    assert sel.served == "popularity"
    assert sel.reason.startswith("als_not_better_than_popularity"), sel.reason
    assert m.loc["recommendations_served", "recall_at_10"] > 0
    recs = P.recommend_all(shop["past"], np.array([], dtype=object), shop["as_of"], RecommendConfig(), sel)
    assert (recs["served_model"] == "popularity").all() and recs["is_fallback"].all()
    warm = recs.loc[recs["n_purchase_orders"] >= 2, "fallback_reason"]
    assert (warm == "als_not_better_than_popularity").all()
    as_of = pd.DataFrame({"as_of_date": [shop["as_of"]], "data_end_date": [shop["as_of"]], "has_holdout": [False]})
    status = P.recommendation_status(recs, as_of).iloc[0]
    assert status["status"] == "degraded" and status["served_model"] == "popularity"
    assert "validation recall@10" in status["reason"] and status["rows_written"] == len(recs)


def test_too_few_validation_customers_names_the_window_the_vars_and_the_browsing_it_did_not_compare():
    """GA4's shape: browsing before the cut-off, but the window's buyers are mostly one-order
    customers. The reason counts them and names the vars; the browsing note does not claim
    there is no browsing (it said "no browsing events before the validation cut-off")."""
    as_of = dt.date(2025, 6, 30)
    cut = as_of - dt.timedelta(days=60)
    rows = []
    for c in range(40):  # 40 customers, one order before the cut; 5 of them two
        for k in range(1 + (c < 5)):
            rows.append((f"C{c}", f"O{c}_{k}", f"P{(c + k) % 7}", cut - dt.timedelta(days=10 + 3 * k + c % 9)))
        if c < 35:  # 35 of them buy again in the window
            rows.append((f"C{c}", f"W{c}", f"P{(c + 3) % 7}", cut + dt.timedelta(days=1 + c % 50)))
    rows.append(("NEW", "W_NEW", "P1", as_of))  # a buyer new in the window
    lines = P.purchase_lines(pd.DataFrame(rows, columns=["customer_id", "order_id", "product_id", "order_date"]))
    views = pd.DataFrame({"customer_id": [f"C{c}" for c in range(40)], "product_id": "P2",
                          "event_date": cut - dt.timedelta(days=2), "n_product_views": 2, "n_add_to_carts": 0})
    sel = P.select_model(lines, as_of, RecommendConfig(), P.browsing_events(views))
    assert sel.served == "popularity" and sel.n_customers == 5
    assert sel.reason.startswith(f"too_few_validation_customers: the validation window {cut + dt.timedelta(days=1)}"
                                 f" .. {as_of} (recommend_validation_days 60) holds 36 purchase orders of 36"
                                 " customers; 35 of them had bought by the cut-off"), sel.reason
    assert "5 had at least recommend_min_orders 2 purchase orders" in sel.reason
    assert "at least 20 are needed. Fix: a lower recommend_min_orders" in sel.reason
    assert "no browsing events" not in sel.browsing_note
    assert sel.browsing_note.startswith("browsing not compared: 40 customers browsed before the validation cut-off")
    # the advice works: counting one-order customers as warm gives 35 to compare on
    one = P.select_model(lines, as_of, RecommendConfig(min_orders=1, factors_grid=(4,), alpha_grid=(1.0,)),
                         P.browsing_events(views))
    assert one.n_customers == 35 and not one.reason.startswith("too_few_validation_customers")
    # when few of the window's buyers had bought before, a lower min_orders is not offered
    few = [r for r in rows if not r[1].startswith("W") or r[0] in {"NEW", *(f"C{c}" for c in range(10))}]
    few = P.purchase_lines(pd.DataFrame(few, columns=["customer_id", "order_id", "product_id", "order_date"]))
    reason = P.select_model(few, as_of, RecommendConfig(), None).reason
    assert "holds 11 purchase orders of 11 customers; 10 of them had bought" in reason, reason
    assert "too few of the window's buyers had bought before for a lower recommend_min_orders to help" in reason
    # without any browsing the note says the shop has none, as before
    plain = P.select_model(lines, as_of, RecommendConfig(), None)
    assert plain.browsing_note == "purchases only: the shop has no browsing events (customer_product_browsing is empty)"


# ---------------------------------------------------------------- metrics and settings


def test_ranking_metrics_by_hand():
    truth = sp.csr_matrix(np.array([[1, 0, 1, 0, 0], [0, 0, 0, 1, 0]], dtype=float))
    items = np.array([[2, 1], [0, 1]])
    m = ranking_metrics(items, truth, n_catalogue=5)
    assert m["hit_rate"] == 0.5
    assert m["recall"] == pytest.approx((1 / 2 + 0) / 2)
    # customer 1: hit at rank 1, ideal two hits: 1 / (1 + 1/log2(3))
    assert m["ndcg"] == pytest.approx((1 / (1 + 1 / np.log2(3))) / 2)
    assert m["coverage"] == pytest.approx(3 / 5)


def test_ranking_metrics_with_a_rank_no_list_reaches():
    # a one-customer shop: the catalogue is shorter than k, so rank 3 is empty for everyone
    truth = sp.csr_matrix(np.array([[0, 1, 1]], dtype=float))
    m = ranking_metrics(np.array([[1, 0, -1]]), truth, n_catalogue=3)
    assert m["hit_rate"] == 1.0 and m["recall"] == pytest.approx(1 / 2)
    assert m["coverage"] == pytest.approx(2 / 3)


def test_bad_settings_name_the_var():
    with pytest.raises(RecommendError, match="recommend_top_k"):
        RecommendConfig(top_k=0)
    with pytest.raises(RecommendError, match="profile_max_clusters"):
        ProfileConfig(max_profiles=1)
    with pytest.raises(RecommendError, match="recommend_alpha_grid"):
        configs_from_dbt({"recommend_alpha_grid": "one,two"}.get)
    for bad in ("-1", "inf", "nan"):  # any finite se >= 0; inf x an se of 0 would leave no candidate
        with pytest.raises(RecommendError, match="recommend_parsimony_se"):
            configs_from_dbt({"recommend_parsimony_se": bad}.get)
    rec, prof = configs_from_dbt({"recommend_factors_grid": "8, 16", "seed": "7", "profile_max_clusters": "5"}.get)
    assert rec.factors_grid == (8, 16) and rec.seed == prof.seed == 7 and prof.max_profiles == 5


def test_missing_line_column_is_named():
    with pytest.raises(RecommendError, match="fct_order_items lacks column product_id"):
        P.build_recommendations(pd.DataFrame({"customer_id": [], "order_id": [], "order_date": []}),
                                pd.DataFrame({"customer_id": []}), pd.DataFrame(), RecommendConfig())


# ---------------------------------------------------------------- the warehouse


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A small shop whose best-selling product is missing from products, built by dbt."""
    root = tmp_path_factory.mktemp("recommend")
    tables = datagen.generate_shop(n_customers=1200, n_days=540, n_products=60, seed=5, holdout_days=60)
    top = tables["order_items"]["product_id"].value_counts().index[0]
    tables["products"] = tables["products"].loc[tables["products"]["product_id"] != top]
    raw = datagen.write_shop(tables, root / "raw", fmt="parquet")
    db = root / "w.duckdb"
    truth = tables["ground_truth"]
    variables = {"as_of_date": truth["calibration_end_date"], "export_date": truth["export_date"],
                 "recommend_factors_grid": "4,16", "recommend_alpha_grid": "10"}
    select = ["--select", "+pred_product_recommendations", "+profile_summary", "+ml_recommend_evaluation",
              "+ml_recommend_status", "+ml_profiles_status", "--indirect-selection", "cautious"]
    run_dbt("build", db, raw, variables, select)
    return {"db": db, "tables": tables, "missing": top, "raw": raw, "vars": variables}


def test_build_serves_every_customer_and_recommends_the_missing_product(built):
    db = built["db"]
    recs = query(db, "select * from pred_product_recommendations")
    n_customers = query(db, "select count(*) as n from dim_customers")["n"].iloc[0]
    assert recs["customer_id"].nunique() == n_customers
    assert (recs.groupby("customer_id", observed=True).size() == 10).all()
    pop = recs.loc[recs["served_model"] == "popularity"]
    assert built["missing"] in set(pop["product_id"])
    dim = query(db, f"select category from dim_products where product_id = '{built['missing']}'")
    assert dim["category"].iloc[0] == "uncategorised"


def test_sql_affinity_equals_its_python_twin(built):
    db = built["db"]
    sql = query(db, "select product_id, related_product_id, related_rank, n_customers_both, cosine, lift"
                    " from product_affinity order by product_id, related_rank")
    items = query(db, "select customer_id, order_id, product_id, order_date, is_purchase from fct_order_items")
    as_of = query(db, "select as_of_date from as_of")["as_of_date"].iloc[0]
    py = affinity_from_lines(P.purchase_lines(items), pd.Timestamp(as_of).date(), 3, 20)
    assert len(sql) == len(py) > 0
    np.testing.assert_array_equal(sql["related_product_id"].to_numpy(), py["related_product_id"].to_numpy())
    np.testing.assert_allclose(sql["cosine"], py["cosine"], rtol=1e-12)
    np.testing.assert_allclose(sql["lift"], py["lift"], rtol=1e-12)


def test_python_affinity_does_not_depend_on_the_order_lines_are_read_in():
    shop = _shop(tastes=True, n=2000, seed=3)
    lines = shop["past"]

    def as_read(frame):  # ids as read_lines gives them: categoricals in the order of first appearance
        out = frame.copy()
        for col in ("customer_id", "order_id", "product_id"):
            out[col] = pd.Categorical(out[col], categories=pd.unique(out[col]))
        return out

    first = affinity_from_lines(as_read(lines), shop["as_of"], 3, 20)
    again = affinity_from_lines(as_read(lines.iloc[::-1]), shop["as_of"], 3, 20)
    pd.testing.assert_frame_equal(first, again)
    assert first.groupby("product_id")["cosine"].apply(lambda s: s.duplicated().any()).any()  # ties exist


def test_evaluation_and_profiles_reach_the_warehouse(built):
    db = built["db"]
    ev = query(db, "select * from ml_recommend_evaluation where task in ('next_products', 'customer_profiles')")
    models = set(ev.loc[ev["task"] == "next_products", "model_name"])
    assert models == {"als", "als_with_browsing", "item_to_item", "popularity", "recommendations_served"}
    assert (ev["evaluation_type"] == "holdout").all()
    recall = ev.loc[ev["metric"] == "recall_at_10"].set_index("model_name")["value"]
    assert recall["als"] > recall["popularity"]
    status = query(db, "select * from ml_recommend_status union all select * from ml_profiles_status")
    assert list(status["status"]) == ["ok", "ok"] and list(status["model_step"]) == ["recommend", "profiles"]
    assert "beat popularity" in status["reason"].iloc[0]
    assert "validation recall@10 with browsing" in status["reason"].iloc[0]
    assert "no channel trait" in status["reason"].iloc[1]
    chosen = query(db, "select value from ml_recommend_evaluation where metric = 'uses_browsing'")["value"]
    assert len(chosen) == 1 and chosen.iloc[0] in (0.0, 1.0)
    decision = re.search(r"; (with browsing|purchases only): validation", status["reason"].iloc[0])
    assert decision and (decision.group(1) == "with browsing") == (chosen.iloc[0] == 1.0)
    # the pick's sentence: the best candidate itself, or a cheaper one within the standard error
    assert re.search(r"; als_f\d+_\S+ (has the best validation recall|\(recall@10 [\d.]+, cost \d+\) is within)",
                     status["reason"].iloc[0])
    browse = query(db, "select count(*) as n, max(event_date) as last, (select as_of_date from as_of) as as_of"
                       " from customer_product_browsing").iloc[0]
    assert browse["n"] > 0 and pd.Timestamp(browse["last"]) <= pd.Timestamp(browse["as_of"])
    summary = query(db, "select * from profile_summary")
    assert summary["n_customers"].sum() == query(db, "select count(*) as n from customer_profiles")["n"].iloc[0]
    assert summary["revenue_share"].sum() == pytest.approx(1.0)
    assert summary["profile_name"].is_unique


def test_orders_without_lines_build_empty_tables(tmp_path):
    tables = datagen.generate_shop(n_customers=200, seed=2)
    raw = datagen.write_shop({"orders": tables["orders"]}, tmp_path / "raw", fmt="csv")
    db = tmp_path / "w.duckdb"
    proc = run_dbt("build", db, raw, {"export_date": "2025-12-31"},
                   ["--select", "+pred_product_recommendations", "+profile_summary", "+ml_recommend_evaluation",
                    "+ml_recommend_status", "+ml_profiles_status", "--indirect-selection", "cautious"])
    counts = query(db, """select
        (select count(*) from pred_product_recommendations) as recs,
        (select count(*) from customer_profiles) as profiles,
        (select count(*) from profile_summary) as summary,
        (select count(*) from product_affinity) as affinity,
        (select count(*) from customer_product_browsing) as browsing,
        (select count(*) from ml_recommend_evaluation) as evaluation""").iloc[0]
    assert counts.sum() == 0
    status = query(db, "select * from ml_recommend_status union all select * from ml_profiles_status")
    assert list(status["status"]) == ["declined", "declined"]
    assert status["reason"].str.contains("export order_items").all() and (status["rows_written"] == 0).all()
    assert "no purchase order lines" in proc.stdout or "no purchase order lines" in (db.parent / "dbt_w" / "logs" / "dbt.log").read_text()


def test_top_k_ranks_in_blocks_with_the_same_result(monkeypatch):
    """top_k ranks rows in blocks to bound its copies; each row is ranked on its own, so the
    blocks change nothing, ties (lower index first) and short rows included."""
    from shoplens.recommend import models

    rng = np.random.default_rng(7)
    scores = rng.integers(0, 4, size=(1_001, 30)).astype(np.float32)  # many ties
    whole_i, whole_v = models._top_k(scores, 10)
    assert models.rows_per_batch(10**9) == 1 and models.rows_per_batch(1) == 20_000
    assert models.rows_per_batch(2_000) == 2_000  # 1M customers x 2,000 products: 2,000 rows a block
    monkeypatch.setattr(models, "BATCH_SCORES", 30 * 64)  # blocks of 64 rows, the last one short
    assert models.rows_per_batch(30) == 64
    items, vals = models.top_k(scores, 10)
    assert np.array_equal(items, whole_i) and np.array_equal(vals, whole_v)
    assert (np.diff(vals, axis=1) <= 0).all()
    first = np.lexsort((np.arange(30), -scores[0]))[:10]  # best score first, then lower index
    assert np.array_equal(items[0], first)
    narrow_i, narrow_v = models.top_k(scores[:, :3], 5)  # k above the products: padded
    assert (narrow_i[:, 3:] == -1).all() and np.isnan(narrow_v[:, 3:]).all()


def test_als_lists_written_in_batches_on_threads_equal_one_ranking():
    """ALS.recommend_from writes each batch's lists in place (threads, a short last batch):
    the lists and scores are those of ranking all the chosen rows at once, as float64."""
    from shoplens.recommend import models

    rng = np.random.default_rng(3)
    matrix = sp.random(300, 40, density=0.1, random_state=4, format="csr", dtype=np.float32)
    matrix.data = np.ceil(matrix.data * 3)
    als = models.ALS(factors=4, alpha=10.0, regularization=0.1, iterations=3, seed=1, num_threads=2).fit(matrix)
    rows = np.sort(rng.choice(300, size=123, replace=False))
    items, vals = als.recommend_from(matrix, rows, 7, batch=25)
    users = np.asarray(als.model.user_factors, dtype=np.float32)[rows]
    want_i, want_v = models._top_k(users @ np.asarray(als.model.item_factors, dtype=np.float32).T, 7)
    assert items.dtype == np.int64 and vals.dtype == np.float64 and items.shape == (123, 7)
    assert np.array_equal(items, want_i) and np.array_equal(vals, want_v.astype(np.float64))
    empty_i, empty_v = als.recommend_from(matrix, rows[:0], 7)
    assert empty_i.shape == (0, 7) and empty_v.shape == (0, 7)


def test_profile_features_from_categorical_columns_equal_the_plain_ones():
    """feature_matrix works on read_lines' categories and codes (no per-row strings): the same
    features as from plain string columns, with unused categories, a null category and a
    category literally named 'uncategorised' in the data."""
    from shoplens.recommend.data import purchase_lines
    from shoplens.recommend.profiles import feature_matrix, product_bands

    raw = datagen.generate_shop(n_customers=300, n_days=200, seed=11)
    lines = purchase_lines(lines_from_raw(raw))
    lines = lines.assign(category=lines["category"].astype(object))
    lines.loc[lines.index[::17], "category"] = None
    lines.loc[lines.index[5::23], "category"] = "uncategorised"
    plain = lines.iloc[: len(lines) - 50].reset_index(drop=True)  # some ids and products unused below
    coded = plain.copy()
    for col in ("customer_id", "product_id", "category"):
        coded[col] = pd.Categorical(plain[col], categories=pd.unique(lines[col].dropna())[::-1])
    assert coded["customer_id"].cat.categories.size > coded["customer_id"].nunique()
    bands = product_bands(raw["products"], plain)
    a, b = feature_matrix(plain, bands), feature_matrix(coded, bands)
    assert list(a.customers) == list(b.customers) and a.names == b.names
    for field in ("shares", "counts", "line_pairs", "revenue"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field), err_msg=field)
    assert "category=uncategorised" in a.names


def test_the_recommendation_status_counts_a_relation_in_duckdb():
    """ml_recommend_status passes the relation: counted in DuckDB, the same status row as from the
    whole table as a DataFrame, for ALS, popularity and no rows."""
    import duckdb

    from shoplens.recommend.pipeline import recommendation_status

    as_of = pd.DataFrame({"as_of_date": [dt.date(2024, 3, 1)], "has_holdout": [False],
                          "data_end_date": [dt.date(2024, 3, 1)]})
    recs = pd.DataFrame({"customer_id": [f"C{i // 3}" for i in range(30)],
                         "recommendation_rank": [i % 3 + 1 for i in range(30)],
                         "served_model": ["als"] * 18 + ["popularity"] * 12,
                         "selection_note": "als (f8) beat popularity by +0.0100"})
    con = duckdb.connect()
    for name, frame in (("als", recs), ("pop", recs.assign(served_model="popularity")), ("none", recs.iloc[:0])):
        con.register("f", frame)
        con.execute(f"create table {name} as select * from f")
        con.unregister("f")
        pd.testing.assert_frame_equal(
            recommendation_status(con.table(name), as_of).drop(columns="evaluated_at", errors="ignore"),
            recommendation_status(frame, as_of).drop(columns="evaluated_at", errors="ignore"))
    row = recommendation_status(con.table("als"), as_of).to_string()
    assert "4 customers with fewer" in row and "beat popularity" in row

    class OtherEngineRef:  # the Spark runner's ref: df() only
        def df(self):
            return recs

    pd.testing.assert_frame_equal(recommendation_status(OtherEngineRef(), as_of).drop(columns="evaluated_at", errors="ignore"),
                                  recommendation_status(recs, as_of).drop(columns="evaluated_at", errors="ignore"))


def test_the_profile_silhouette_does_not_depend_on_the_row_order():
    """DuckDB returns ml_customer_profiles in any order (two 1M builds scored 0.690 and 0.697):
    the evaluation samples customers in id order, so any order gives the same figure."""
    from shoplens.recommend.holdout import profile_rows

    rng = np.random.default_rng(3)
    n = 6000  # more than the 5,000 sampled
    labels = rng.integers(0, 3, n)
    profiles = pd.DataFrame({
        "customer_id": [f"C{i:05d}" for i in range(n)],
        "profile_id": labels + 1,
        "embedding": list(rng.normal(size=(n, 2)) + labels[:, None] * 0.8),
        "n_profiles": 3,
        "model_version": "v",
    })
    empty = pd.DataFrame({"customer_id": [], "order_date": [], "category": [], "revenue": []})
    first = profile_rows(profiles, empty, dt.date(2025, 1, 1), 7)
    again = profile_rows(profiles.sample(frac=1.0, random_state=1), empty, dt.date(2025, 1, 1), 7)
    assert first[0]["metric"] == "silhouette" and first[0]["n_obs"] == 5000
    assert first[0]["value"] == again[0]["value"]


def test_one_profile_holding_nearly_every_customer_degrades_the_step_whatever_the_silhouette():
    """Leaf categories by the hundred (a Retailrocket-shaped export): 98.2% of the buyers in one
    profile and 18 in another scored silhouette 0.915 and read `ok`."""
    from shoplens.recommend.pipeline import profile_status

    as_of = pd.DataFrame({"as_of_date": [dt.date(2024, 3, 1)], "has_holdout": [False],
                          "data_end_date": [dt.date(2024, 3, 1)]})

    def profiles(n_big: int, n_small: int) -> pd.DataFrame:
        return pd.DataFrame({"n_profiles": 2, "model_version": "shoplens-x/svd8_kmeans2", "silhouette": 0.915,
                             "profile_name": ["mixed-basket buyers"] * n_big + ["1514 & 1285 buyers"] * n_small})

    row = profile_status(profiles(991, 18), as_of).iloc[0]
    assert row["status"] == "degraded"
    assert "'mixed-basket buyers', holds 98.2% of the 1009 customers" in row["reason"]
    assert "separate only 18 customers" in row["reason"] and "categories with tens of values" in row["reason"]
    assert profile_status(profiles(900, 100), as_of).iloc[0]["status"] == "ok"  # 90%: not more
    # the adapters' projection without profile_name (an older caller): the check is left out
    assert profile_status(profiles(991, 18).drop(columns="profile_name"), as_of).iloc[0]["status"] == "ok"


@pytest.mark.parametrize("n_accounts", [2, 3, 5, 8, 9])
def test_profiles_of_a_few_accounts_are_built_and_flagged_not_a_red_build(n_accounts):
    """A forecast-only export (M5's stores as 'customers'): 2 to 8 customers turned the build red
    in the silhouette (k customers in k profiles have none). They are profiled, the holdout's
    silhouette row is left out where there is none, and the status says the groups are individuals."""
    from shoplens.recommend.holdout import profile_rows
    from shoplens.recommend.pipeline import build_profiles, profile_status

    rng = np.random.default_rng(n_accounts)
    cats = ["foods", "hobbies", "household"]
    lines = pd.DataFrame([
        {"order_id": f"O{a}-{d}", "customer_id": f"STORE_{a}", "product_id": f"P{c}{j}", "category": cats[c],
         "order_date": dt.date(2024, 1, 1) + dt.timedelta(days=d), "quantity": int(rng.integers(1, 9)),
         "unit_price": 2.5, "line_amount": 5.0, "is_purchase": True}
        for a in range(n_accounts) for d in range(0, 60, 3) for c in range(3) for j in range(a % 3 + 1)])
    products = pd.DataFrame({"product_id": sorted(set(lines["product_id"]))}).assign(
        category=lambda d: [cats[int(p[1])] for p in d["product_id"]], list_price=2.5)
    as_of = pd.DataFrame({"as_of_date": [dt.date(2024, 3, 1)], "has_holdout": [False],
                          "data_end_date": [dt.date(2024, 3, 1)]})
    profiles = build_profiles(lines, products, as_of, ProfileConfig())
    assert len(profiles) == n_accounts and profiles["profile_id"].between(1, n_accounts).all()
    k = int(profiles["n_profiles"].iloc[0])
    assert k < n_accounts or k == 1  # never one profile a customer: no silhouette to choose k by
    rows = profile_rows(profiles, lines.iloc[0:0], dt.date(2024, 3, 1), 7)
    assert rows == [] or rows[0]["metric"] == "silhouette"
    status = profile_status(profiles, as_of).iloc[0]
    assert status["status"] == "degraded"
    assert ("too few to describe a group" in status["reason"]) or ("one profile" in status["reason"])


def test_equal_prices_share_a_price_band_and_one_price_is_mid():
    """An export without prices (Instacart: every unit_price 1.00) was split into budget, mid
    and premium by row order, and the profiles were named after bands that do not exist."""
    products = pd.DataFrame({"product_id": [f"P{i}" for i in range(12)],
                             "category": ["a"] * 6 + ["b"] * 3 + ["c", "d", "d"],
                             "list_price": [1.0] * 6 + [2.0, 2.0, 9.0] + [1.0, 1.0, 1.0]})
    lines = pd.DataFrame({"product_id": products["product_id"], "category": products["category"],
                          "unit_price": products["list_price"]})
    bands = product_bands(products, lines)
    assert set(bands[[f"P{i}" for i in range(6)]]) == {"mid"}
    assert set(bands[["P9", "P10", "P11"]]) == {"mid"}  # one product, two of one price (the review)
    assert bands["P6"] == bands["P7"] and bands["P8"] == "premium"
    shuffled = product_bands(products.iloc[::-1], lines.iloc[::-1])
    pd.testing.assert_series_equal(shuffled.sort_index(), bands.sort_index())
