"""The generator: deterministic, recovers its own ground truth, dirt is extra rows only."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest import parse_utc
from lifetimes import BetaGeoFitter, GammaGammaFitter

from shoplens import datagen


def _btyd_summary(orders: pd.DataFrame, end: pd.Timestamp) -> pd.DataFrame:
    """Frequency / recency / T (days) and repeat-day mean value, per customer."""
    done = orders[orders["status"] == "completed"].copy()
    done["day"] = parse_utc(done["ordered_at"]).dt.floor("D")
    days = done.groupby(["customer_id", "day"], as_index=False)["order_total"].sum()
    days["n"] = days.groupby("customer_id").cumcount()
    per = days.groupby("customer_id").agg(first=("day", "min"), last=("day", "max"), n=("day", "size"))
    repeat = days[days["n"] > 0].groupby("customer_id")["order_total"].mean()
    per["frequency"] = per["n"] - 1
    per["recency"] = (per["last"] - per["first"]).dt.days.astype(float)
    per["T"] = (end - per["first"]).dt.days.astype(float)
    per["monetary_value"] = repeat.reindex(per.index).fillna(0.0)
    return per


@pytest.fixture(scope="module")
def big_shop():
    # 20,000 customers: enough for the parameters' standard errors to be a few percent.
    return datagen.generate_shop(n_customers=20_000, n_days=730, seed=11, events=False)


def test_same_seed_same_shop_other_seed_other_shop():
    a = datagen.generate_shop(n_customers=300, seed=5)
    b = datagen.generate_shop(n_customers=300, seed=5)
    c = datagen.generate_shop(n_customers=300, seed=6)
    for table in datagen.TABLES:
        pd.testing.assert_frame_equal(a[table], b[table])
    assert not a["orders"]["order_total"].equals(c["orders"]["order_total"])
    assert a["ground_truth"]["counts"] == b["ground_truth"]["counts"]


def test_bgnbd_parameters_recovered_within_four_standard_errors(big_shop):
    """The BG/NBD fit of the generated purchases finds the true parameters.

    Tolerance: each estimate within 4 of its own standard errors (from the
    fit's Hessian) of the truth; at 20,000 customers that is a few percent to
    ~25% (alpha, a and b are strongly correlated). The weekly re-timing of
    purchases moves them by at most six days, well inside that band.
    """
    truth = big_shop["ground_truth"]
    end = pd.Timestamp(truth["end_date"])
    s = _btyd_summary(big_shop["orders"], end)
    u = s.groupby(["frequency", "recency", "T"]).size().reset_index(name="w")
    # Weeks keep the optimiser well scaled; alpha scales by 7, r, a, b do not.
    fit = BetaGeoFitter().fit(u["frequency"], u["recency"] / 7, u["T"] / 7, weights=u["w"])
    expected = {**truth["bgnbd"], "alpha": truth["bgnbd"]["alpha"] / 7}
    se = fit.summary["se(coef)"]
    for name, value in expected.items():
        z = abs(fit.params_[name] - value) / se[name]
        assert z < 4, f"{name}: estimate {fit.params_[name]:.4f} vs truth {value:.4f} ({z:.1f} se)"


def test_gamma_gamma_parameters_and_mean_value_recovered(big_shop):
    """Gamma-Gamma on repeat customers recovers p, q, v within 4 standard errors,
    and the population mean order value p*v/(q-1) within 5%."""
    truth = big_shop["ground_truth"]
    s = _btyd_summary(big_shop["orders"], pd.Timestamp(truth["end_date"]))
    rep = s[s["frequency"] > 0]
    # A repeat day's total adds same-day orders; at about one order per four
    # months per customer that is rare enough not to move the fit.
    fit = GammaGammaFitter().fit(rep["frequency"], rep["monetary_value"])
    se = fit.summary["se(coef)"]
    for name, value in truth["gamma_gamma"].items():
        z = abs(fit.params_[name] - value) / se[name]
        assert z < 4, f"{name}: estimate {fit.params_[name]:.3f} vs truth {value:.3f} ({z:.1f} se)"
    p, q, v = (fit.params_[k] for k in ("p", "q", "v"))
    assert p * v / (q - 1) == pytest.approx(truth["gamma_gamma_mean_order_value"], rel=0.05)


def test_weekly_profile_and_seasonality_visible_in_orders(big_shop):
    orders = big_shop["orders"]
    dow = parse_utc(orders["ordered_at"]).dt.dayofweek.value_counts().sort_index()
    share = dow / dow.sum()
    truth = np.asarray(datagen.WEEKLY_PROFILE) / sum(datagen.WEEKLY_PROFILE)
    # Sunday (the profile's peak) is the busiest day and the shares follow the profile.
    assert share.idxmax() == 6
    assert np.corrcoef(share.to_numpy(), truth)[0, 1] > 0.9


def test_weeks_cut_by_the_period_keep_their_purchases_inside_it(big_shop):
    profile = np.asarray(datagen.WEEKLY_PROFILE) / sum(datagen.WEEKLY_PROFILE)
    # 730 days from Monday 2024-01-01 end on a Tuesday: the last calendar week has two
    # days, which share its purchases by the profile (Tuesday 0.486). Clipping put every
    # purchase drawn for Wednesday-Sunday on the Tuesday (0.86).
    days = parse_utc(big_shop["orders"]["ordered_at"]).dt.floor("D").value_counts().sort_index()
    assert days.index.max() == pd.Timestamp("2025-12-30")
    last = days.iloc[-2:]
    share, n = float(last.iloc[-1] / last.sum()), int(last.sum())
    want = profile[1] / profile[:2].sum()
    assert abs(share - want) < 4 * np.sqrt(want * (1 - want) / n), (share, want, n)
    # a period starting on a Thursday: the first week's purchases share its four days
    # (Thursday 0.224); clipping put Monday-Wednesday's on the Thursday (0.53)
    shop = datagen.generate_shop(n_customers=20_000, n_days=100, seed=3, events=False,
                                 start_date="2024-01-04")
    days = parse_utc(shop["orders"]["ordered_at"]).dt.floor("D").value_counts().sort_index()
    assert days.index.min() == pd.Timestamp("2024-01-04")
    first = days.iloc[:4]
    share, n = float(first.iloc[0] / first.sum()), int(first.sum())
    want = profile[3] / profile[3:].sum()
    assert abs(share - want) < 4 * np.sqrt(want * (1 - want) / n), (share, want, n)


def test_latent_purchases_are_the_shops_completed_orders(big_shop):
    cfg = datagen.ShopConfig(n_customers=20_000, n_days=730, seed=11, events=False)
    lp = datagen.latent_purchases(cfg)
    done = big_shop["orders"][big_shop["orders"]["status"] == "completed"].drop_duplicates("order_id")
    done = done[done["customer_id"].notna() & (done["order_total"] > 0)]
    days = (parse_utc(done["ordered_at"]).dt.floor("D") - pd.Timestamp(cfg.start_date)).dt.days
    days = days[(days >= 0) & (days < cfg.n_days)]  # dirty rows: unparseable and future timestamps
    assert np.array_equal(np.bincount(lp["day"], minlength=cfg.n_days), np.bincount(days, minlength=cfg.n_days))
    # every purchase is recorded in the calendar week of its time, per customer after its birth
    week = lambda d: d - (d + cfg.start.weekday()) % 7  # noqa: E731
    assert (week(np.floor(lp["time"]).astype(int)) == week(lp["day"])).all()
    assert (lp["time"] >= lp["birth"][lp["customer"]] - 1e-9).all()
    assert len(lp["lam"]) == cfg.n_customers and np.isinf(lp["death_time"]).sum() == \
        big_shop["ground_truth"]["counts"]["alive_at_end"]


def test_inside_period_redraws_only_the_days_outside_with_the_profile():
    from shoplens.datagen.customers import _inside_period

    rng = np.random.default_rng(0)
    profile = np.asarray(datagen.WEEKLY_PROFILE) / sum(datagen.WEEKLY_PROFILE)
    n = 200_000
    # weeks starting 3 days before the period, in the middle, and 2 days before its end (day 99)
    week_start = np.repeat([-3, 49, 98], n)
    dow = rng.choice(7, size=3 * n, p=profile)
    state = rng.bit_generator.state
    day = _inside_period(week_start, dow.copy(), profile, 100, rng)
    assert rng.bit_generator.state == state  # the redraws come from a child stream
    assert day.min() == 0 and day.max() == 99
    middle = slice(n, 2 * n)
    assert (day[middle] == 49 + dow[middle]).all()
    inside = (week_start + dow >= 0) & (week_start + dow < 100)
    assert (day[inside] == (week_start + dow)[inside]).all()
    # the edge weeks' days follow the profile renormalised over the days inside
    for start, lo, hi in ((-3, 3, 6), (98, 0, 1)):
        counts = np.bincount(day[week_start == start] - start, minlength=7)
        assert counts[lo : hi + 1].sum() == n
        want = profile[lo : hi + 1] / profile[lo : hi + 1].sum()
        assert np.abs(counts[lo : hi + 1] / n - want).max() < 0.005


def test_order_lines_add_up_to_order_totals():
    shop = datagen.generate_shop(n_customers=500, seed=3)
    items = shop["order_items"]
    amount = (items["quantity"] * items["unit_price"] - items["discount"]).round(2)
    per_order = amount.groupby(items["order_id"]).sum()
    totals = shop["orders"].set_index("order_id")["order_total"]
    assert (items["discount"] >= 0).all()
    np.testing.assert_allclose(per_order.reindex(totals.index).to_numpy(), totals.to_numpy(), atol=0.005)


def test_browsing_rises_before_a_purchase():
    shop = datagen.generate_shop(n_customers=3000, seed=8)
    ev = shop["events"]
    sessions = ev[ev["customer_id"].notna()].groupby("session_id").agg(
        customer_id=("customer_id", "first"), start=("occurred_at", "min"),
        has_purchase=("event_type", lambda t: (t == "purchase").any()),
    )
    browse = sessions[~sessions["has_purchase"]]
    orders = shop["orders"].assign(at=lambda o: parse_utc(o["ordered_at"]))
    first_purchase = orders.groupby("customer_id")["at"].min()
    repeat = orders[orders["at"] > orders["customer_id"].map(first_purchase)]
    # Browsing sessions in the two weeks before a repeat purchase, against the
    # two weeks after it (background browsing, plus the next purchase's
    # consideration phase for frequent buyers): 2.6x here; without the
    # consideration phase the two would be equal.
    end = pd.Timestamp(shop["ground_truth"]["end_date"])
    repeat = repeat[repeat["at"] < end - pd.Timedelta(days=14)]
    joined = browse.merge(repeat[["customer_id", "at"]], on="customer_id")
    lead = (joined["at"] - joined["start"]).dt.total_seconds() / 86400
    before = ((lead > 0) & (lead <= 14)).sum() / len(repeat)
    after = ((lead < 0) & (lead >= -14)).sum() / len(repeat)
    assert before > 2 * after, (before, after)


def test_dirty_shop_is_the_clean_shop_plus_counted_extra_rows():
    clean = datagen.generate_shop(n_customers=800, seed=21)
    dirty = datagen.generate_shop(n_customers=800, seed=21, dirty_rate=0.05)
    kinds = dirty["ground_truth"]["dirty_rows"]
    for table in ("orders", "order_items", "customers", "events"):
        n_clean, n_dirty = len(clean[table]), len(dirty[table])
        # The clean rows come first, unchanged.
        pd.testing.assert_frame_equal(
            dirty[table].iloc[:n_clean].reset_index(drop=True), clean[table], check_dtype=False
        )
        extra = sum(kinds[table].values())
        assert n_dirty - n_clean == extra, (table, n_dirty - n_clean, kinds[table])
    assert kinds["orders"]["ordered_at_in_future"] > 0 and kinds["events"]["unknown_customer"] > 0


def test_cli_writes_the_raw_contract(tmp_path):
    out = tmp_path / "shop"
    assert datagen.main(["--customers", "200", "--seed", "4", "--format", "csv", "--out", str(out), "--dirty-rate", "0.02"]) == 0
    for table in datagen.TABLES:
        frame = pd.read_csv(out / f"{table}.csv")
        assert len(frame) > 0, table
    orders = pd.read_csv(out / "orders.csv")
    assert list(orders.columns) == ["order_id", "customer_id", "ordered_at", "order_total", "status", "currency"]
    truth = json.loads((out / "ground_truth.json").read_text())
    assert truth["bgnbd"] == {"r": 0.25, "alpha": 30.0, "a": 0.8, "b": 2.5}
    # Mixed representations of valid timestamps: Z, naive, and local with an offset.
    text = orders["ordered_at"].astype(str)
    assert text.str.endswith("Z").any() and text.str.contains(r"[+-]\d\d:\d\d$").any()
    assert (~text.str.contains("T")).any()


def test_bundled_sample_is_what_make_sample_writes(repo, tmp_path):
    # the Makefile's `sample` recipe, written to tmp_path instead of data/sample: the
    # committed sample must be the generator's output (it had gone stale once)
    import re
    import shlex
    import subprocess
    import sys

    text = (repo / "Makefile").read_text()
    recipe = re.search(r"^sample:.*\n((?:\t.*\n)+)", text, re.M).group(1)
    args = shlex.split(recipe.replace("\\\n", " "))
    args = args[args.index("shoplens.datagen") + 1 :]
    args[args.index("--out") + 1] = str(tmp_path)
    done = subprocess.run([sys.executable, "-m", "shoplens.datagen", *args],
                          capture_output=True, text=True, cwd=repo)
    assert done.returncode == 0, done.stderr
    committed = sorted(p.name for p in (repo / "data" / "sample").iterdir())
    assert committed == sorted(p.name for p in tmp_path.iterdir())
    for name in committed:
        if name.endswith(".parquet"):
            pd.testing.assert_frame_equal(pd.read_parquet(repo / "data" / "sample" / name),
                                          pd.read_parquet(tmp_path / name), obj=name)
        else:
            assert json.loads((repo / "data" / "sample" / name).read_text()) == json.loads(
                (tmp_path / name).read_text()), name
