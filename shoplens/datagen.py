"""Synthetic online shop: the raw export contract, with known ground truth.

The generator draws a shop whose structure the models are meant to find, and
records that structure in ``ground_truth.json`` so that tests can check the
models against the truth:

* **Purchase timing** follows the BG/NBD process (Fader, Hardie & Lee 2005):
  customer *i* buys at Poisson rate ``lambda_i ~ Gamma(r, alpha)`` (per day)
  while alive, and after every repeat purchase drops out with probability
  ``p_i ~ Beta(a, b)``. Customers are born (first purchase) uniformly over the
  period. Each purchase is then moved to a day of the *same calendar week*
  drawn from a weekly profile, so that demand has a weekly pattern; this moves
  a purchase by at most six days and changes the BG/NBD summary very little.
* **Spend** follows Gamma-Gamma: order value ``z ~ Gamma(p, nu_i)`` with
  ``nu_i ~ Gamma(q, v)`` (rate parametrisation, mean ``p * v / (q - 1)``).
* **Products** sit in categories with a trend, a weekly profile, a yearly
  season and promotion windows (price cut, demand lift). Each order's lines
  are drawn from that day's product weights; the order value is spread over
  its lines in proportion to their list prices, so that the lines add up to
  the order total exactly.
* **Tastes** (``tastes=True``, the default): customers belong to taste groups,
  each with home categories and a preferred price band; a customer buys their
  favourite products again and otherwise picks from the day's weights times
  the group's taste (see :class:`Tastes`). Tastes draw from a random stream of
  their own and only change which products go on the lines: timing, totals,
  the number of lines and their quantities, events and dirt are those of the
  shop without tastes. ``ground_truth.json`` records the groups and each
  buying customer's group (``tastes.customer_group``).
* **Browsing**: every purchase has a checkout session, and a few browsing
  sessions in the weeks before it (a consideration phase: activity rises
  before a purchase);
  alive customers also browse at a background rate, which fades after a
  customer drops out. Some sessions are anonymous.
* **Dirty data** (``dirty_rate``): extra rows only, drawn from a separate
  random stream, so the clean rows of a dirty shop are exactly the rows of the
  clean shop with the same seed. Kinds: exact duplicates, null ids, zero or
  negative totals, unknown statuses, unparseable and future timestamps,
  orphan order lines, events of unknown customers, and cancelled and
  returned orders; valid timestamps are also written with mixed UTC offsets.

Everything is vectorised with NumPy and written with PyArrow, in chunks of
customers for large shops; a given seed (and chunk size) always gives the
same files.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

TABLES = ("orders", "order_items", "products", "customers", "events")

CATEGORIES = (
    "books", "electronics", "home", "toys", "beauty",
    "sports", "garden", "fashion", "grocery", "pets",
)
# Peak day of year of each category's yearly season (toys before Christmas,
# garden in spring, ...), and its amplitude.
CATEGORY_SEASON_PEAK = (320, 335, 300, 350, 45, 160, 120, 250, 10, 200)
COUNTRIES = ("DE", "FR", "GB", "NL", "US", "ES", "IT", "PL", "SE", "AT")
COUNTRY_WEIGHTS = (0.26, 0.14, 0.14, 0.07, 0.12, 0.08, 0.08, 0.05, 0.03, 0.03)
# Orders per weekday, Monday first: a Sunday-evening shop.
WEEKLY_PROFILE = (0.95, 0.90, 0.90, 0.95, 1.00, 1.05, 1.25)
HOUR_PROFILE = (
    1, 0.6, 0.4, 0.3, 0.3, 0.4, 0.8, 1.5, 2.2, 2.6, 2.8, 3.0,
    3.2, 3.0, 2.8, 2.8, 3.0, 3.4, 4.0, 4.6, 5.0, 4.6, 3.4, 2.0,
)
OFFSETS_MINUTES = (60, 120, -300, 330, -480)


SHAPES = ("standard", "no_dropout", "heavy_repeaters", "one_time_buyers")
# heavy_repeaters: share of customers, born in the first tenth of the period,
# with this many purchases (before same-day purchases merge) over their life.
HEAVY_SHARE = 0.01
HEAVY_PURCHASES = (180, 260)


@dataclass(frozen=True)
class ShopConfig:
    """Everything that defines a generated shop (all rates per day)."""

    n_customers: int = 2000
    n_days: int = 730
    n_products: int = 120
    seed: int = 42
    dirty_rate: float = 0.0
    start_date: str = "2024-01-01"
    bgnbd: dict = field(default_factory=lambda: {"r": 0.25, "alpha": 30.0, "a": 0.8, "b": 2.5})
    gamma_gamma: dict = field(default_factory=lambda: {"p": 6.0, "q": 4.0, "v": 20.0})
    events: bool = True
    holdout_days: int = 0
    # Share of customers who sign up but never order.
    signup_only_share: float = 0.05
    # Background browsing sessions per day of an alive customer, and the
    # number of days over which browsing fades after a customer drops out.
    browse_rate: float = 0.01
    browse_fade_days: float = 45.0
    # Mean browsing sessions before each purchase, and their mean lead time:
    # a consideration phase of about two weeks (exponential lead).
    pre_purchase_sessions: float = 2.0
    pre_purchase_lead_days: float = 14.0
    anonymous_session_share: float = 0.15
    chunk_customers: int = 100_000
    # Customer tastes (see _taste_groups): False draws every line from the
    # day's demand weights alone, a shop with no taste structure.
    tastes: bool = True
    n_taste_groups: int = 5
    # Purchase pattern (SHAPES): "standard" BG/NBD; the others are the valid
    # shops that break models: "no_dropout" (every customer buys at a constant
    # rate until the end), "heavy_repeaters" (standard, plus 1% of customers
    # with 100+ purchase days), "one_time_buyers" (nobody buys twice).
    shape: str = "standard"

    def __post_init__(self) -> None:
        if self.shape not in SHAPES:
            raise ValueError(f"shape must be one of {SHAPES}, got {self.shape!r}")

    @property
    def start(self) -> dt.date:
        return dt.date.fromisoformat(self.start_date)

    @property
    def end(self) -> dt.date:
        """The last day of the export (inclusive)."""
        return self.start + dt.timedelta(days=self.n_days - 1)


# ---------------------------------------------------------------- helpers


def _seconds_since_epoch(start: dt.date) -> int:
    return int(dt.datetime(start.year, start.month, start.day, tzinfo=dt.UTC).timestamp())


def _ts_array(seconds: np.ndarray) -> pa.Array:
    return pa.array(seconds.astype("int64"), type=pa.int64()).cast(pa.timestamp("s"))


def _iso_utc(seconds: np.ndarray, style: str = "Z") -> pa.Array:
    """ISO-8601 text for epoch seconds: ``Z`` suffix, or naive (read as UTC)."""
    ts = _ts_array(seconds)
    if style == "Z":
        return pc.strftime(ts, format="%Y-%m-%dT%H:%M:%SZ")
    return pc.strftime(ts, format="%Y-%m-%d %H:%M:%S")


def _iso_with_offsets(seconds: np.ndarray, offset_minutes: np.ndarray) -> pa.Array:
    """ISO-8601 text of the same instants, written in local time with an offset."""
    local = _ts_array(seconds + offset_minutes.astype("int64") * 60)
    text = pc.strftime(local, format="%Y-%m-%dT%H:%M:%S")
    sign = np.where(offset_minutes < 0, "-", "+")
    hh = np.abs(offset_minutes) // 60
    mm = np.abs(offset_minutes) % 60
    suffix = np.char.add(np.char.add(sign, np.char.zfill(hh.astype(str), 2)), ":")
    suffix = np.char.add(suffix, np.char.zfill(mm.astype(str), 2))
    return pc.binary_join_element_wise(text, pa.array(suffix.astype(object)), "")


def _ids(prefix: str, numbers: np.ndarray, width: int) -> np.ndarray:
    if numbers.size == 0:  # a one-customer shop has no sign-up-only customers
        return np.empty(0, dtype=object)
    return np.char.add(prefix, np.char.zfill(numbers.astype(np.int64).astype(str), width)).astype(object)


def _group_cumsum(values: np.ndarray, group_sizes: np.ndarray) -> np.ndarray:
    """Cumulative sum of ``values`` restarting at every group (groups contiguous)."""
    total = np.cumsum(values)
    starts = np.cumsum(group_sizes) - group_sizes
    offsets = np.repeat(np.concatenate([[0.0], total])[starts], group_sizes)
    return total - offsets


def _day_seconds(rng: np.random.Generator, n: int) -> np.ndarray:
    hours = rng.choice(24, size=n, p=np.asarray(HOUR_PROFILE) / sum(HOUR_PROFILE))
    return hours * 3600 + rng.integers(0, 3600, size=n)


# ---------------------------------------------------------------- products


@dataclass
class Catalogue:
    products: pa.Table
    category_of: np.ndarray  # product index -> category index
    list_price: np.ndarray
    weights: np.ndarray  # (n_days, n_products) demand weight per day
    promo: np.ndarray  # (n_days, n_products) bool: product on promotion
    truth: dict


def _catalogue(cfg: ShopConfig, rng: np.random.Generator) -> Catalogue:
    n_cat = min(len(CATEGORIES), max(1, cfg.n_products // 6))
    n_p = cfg.n_products
    category_of = np.sort(rng.integers(0, n_cat, size=n_p))
    category_of[:n_cat] = np.arange(n_cat)  # every category has a product
    category_of = np.sort(category_of)
    price_scale = np.exp(rng.normal(3.0, 0.5, size=n_cat))
    list_price = np.round(price_scale[category_of] * np.exp(rng.normal(0, 0.35, n_p)), 2)
    list_price = np.maximum(list_price, 1.0)
    popularity = np.exp(rng.normal(0, 1.0, n_p))
    cat_trend = rng.normal(0.15, 0.25, n_cat)  # relative change per year
    cat_amp = rng.uniform(0.15, 0.6, n_cat)
    cat_peak = np.asarray(CATEGORY_SEASON_PEAK[:n_cat], dtype=float)
    cat_weekly = 1.0 + rng.normal(0, 0.08, size=(n_cat, 7))

    days = np.arange(cfg.n_days)
    dates = pd.date_range(cfg.start, periods=cfg.n_days, freq="D")
    doy = dates.dayofyear.to_numpy()
    dow = dates.dayofweek.to_numpy()
    years = days / 365.0
    trend = np.clip(1.0 + np.outer(years, cat_trend), 0.2, None)
    season = 1.0 + cat_amp[None, :] * np.cos(2 * np.pi * (doy[:, None] - cat_peak[None, :]) / 365.25)
    weekly = cat_weekly[:, dow].T
    cat_factor = trend * season * weekly  # (days, categories)

    # Promotions: a few windows per product, 20-40% off, demand x (1.8-3).
    promo = np.zeros((cfg.n_days, n_p), dtype=bool)
    n_promos = rng.poisson(cfg.n_days / 180.0, size=n_p)
    for j in np.nonzero(n_promos)[0]:
        for _ in range(n_promos[j]):
            s = rng.integers(0, max(1, cfg.n_days - 7))
            promo[s : s + rng.integers(5, 15), j] = True
    lift = rng.uniform(1.8, 3.0, n_p)
    weights = popularity[None, :] * cat_factor[:, category_of] * np.where(promo, lift[None, :], 1.0)

    names = np.char.add(
        np.char.add(np.asarray(CATEGORIES)[category_of].astype(str), " item "),
        np.arange(1, n_p + 1).astype(str),
    )
    products = pa.table(
        {
            "product_id": pa.array(_ids("P", np.arange(1, n_p + 1), 5), pa.string()),
            "product_name": pa.array(names.astype(object), pa.string()),
            "category": pa.array(np.asarray(CATEGORIES)[category_of].astype(object), pa.string()),
            "list_price": pa.array(list_price, pa.float64()),
        }
    )
    truth = {
        "categories": list(CATEGORIES[:n_cat]),
        "category_trend_per_year": dict(zip(CATEGORIES[:n_cat], cat_trend.round(4).tolist(), strict=True)),
        "category_season_amplitude": dict(zip(CATEGORIES[:n_cat], cat_amp.round(4).tolist(), strict=True)),
        "category_season_peak_doy": dict(zip(CATEGORIES[:n_cat], cat_peak.tolist(), strict=True)),
        "order_weekly_profile_mon_first": list(WEEKLY_PROFILE),
        "promotion_share_of_product_days": float(promo.mean().round(4)),
    }
    return Catalogue(products, category_of, list_price, weights, promo, truth)


# ---------------------------------------------------------------- customer tastes

PRICE_BANDS = ("budget", "mid", "premium")


@dataclass
class Tastes:
    """Taste groups: what each group of customers prefers, for the order lines.

    A group has home categories (weight 1, every other category
    ``background``) and a preferred price band (a product's band is its
    list-price tercile within its category; weight 1, 0.3 one band away, 0.1
    two away). A customer belongs to one group, has ``n_favourites`` favourite
    products drawn from the group's taste, and a repeat rate ``rho ~
    Beta(repeat_a, repeat_b)``. Each distinct product slot of an order is a
    favourite with probability rho; otherwise, with probability ``strength``,
    a product drawn from the day's demand weights times the group's taste, and
    else the product the day's weights alone gave.
    """

    group_share: np.ndarray  # (groups,)
    home_categories: list  # per group, category indexes
    price_band: np.ndarray  # (groups,) preferred band
    product_band: np.ndarray  # (products,) band of each product
    weight: np.ndarray  # (groups, products) taste weight
    strength: float = 0.95
    background: float = 0.01
    repeat_a: float = 1.5
    repeat_b: float = 3.0
    n_favourites: int = 4

    def truth(self, categories: tuple, labels: dict) -> dict:
        groups = [
            {
                "group": g,
                "share": round(float(self.group_share[g]), 4),
                "home_categories": [categories[c] for c in self.home_categories[g]],
                "price_band": PRICE_BANDS[int(self.price_band[g])],
            }
            for g in range(self.group_share.size)
        ]
        return {
            "enabled": True, "groups": groups, "strength": self.strength,
            "background_category_weight": self.background,
            "repeat_rate_beta": [self.repeat_a, self.repeat_b], "n_favourites": self.n_favourites,
            "product_price_band": [PRICE_BANDS[b] for b in self.product_band],
            "customer_group": labels,
        }


def _taste_groups(cfg: ShopConfig, cat: Catalogue, rng: np.random.Generator) -> Tastes:
    """Draw the taste groups of a shop (its own random stream)."""
    n_cat = int(cat.category_of.max()) + 1
    n_groups = max(1, cfg.n_taste_groups)
    perm = rng.permutation(n_cat)
    home = [sorted(perm[g::n_groups].tolist()) or [int(perm[g % n_cat])] for g in range(n_groups)]
    band_pref = rng.permutation(np.arange(n_groups) % 3)
    n_p = cat.list_price.size
    product_band = np.zeros(n_p, dtype=np.int64)
    for c in range(n_cat):
        members = np.nonzero(cat.category_of == c)[0]
        rank = np.argsort(np.argsort(cat.list_price[members], kind="stable"), kind="stable")
        product_band[members] = 3 * rank // members.size
    tastes = Tastes(rng.dirichlet(np.full(n_groups, 10.0)), home, band_pref, product_band, np.zeros((n_groups, n_p)))
    for g in range(n_groups):
        affinity = np.full(n_cat, tastes.background)
        affinity[home[g]] = 1.0
        band_weight = np.asarray([1.0, 0.3, 0.1])[np.abs(product_band - band_pref[g])]
        tastes.weight[g] = affinity[cat.category_of] * band_weight
    return tastes


def _taste_step(tastes: Tastes, rng: np.random.Generator, cat: Catalogue, n: int, order_cust: np.ndarray):
    """Customers' groups, and the step that puts their tastes on order lines.

    Returns ``(group per customer, step)``; ``step(line_order, line_day,
    product)`` maps each distinct product of an order to the customer's choice,
    keeping products distinct within an order, so the lines, their number and
    their quantities stay those of the shop without tastes.
    """
    n_p, n_groups = cat.list_price.size, tastes.group_share.size
    group = rng.choice(n_groups, size=n, p=tastes.group_share)
    repeat = rng.beta(tastes.repeat_a, tastes.repeat_b, size=n)
    favourites = np.zeros((n, tastes.n_favourites), dtype=np.int64)
    mean_weight = cat.weights.mean(axis=0)
    for g in range(n_groups):
        members = np.nonzero(group == g)[0]
        w = mean_weight * tastes.weight[g]
        favourites[members] = rng.choice(n_p, size=(members.size, tastes.n_favourites), p=w / w.sum())

    def step(line_order: np.ndarray, line_day: np.ndarray, product: np.ndarray) -> np.ndarray:
        slots, inverse = np.unique(line_order * n_p + product, return_inverse=True)
        s_order, new = slots // n_p, slots % n_p
        s_day = np.zeros(slots.size, dtype=np.int64)
        s_day[inverse] = line_day
        s_cust = order_cust[s_order]
        u = rng.uniform(size=slots.size)
        rho = repeat[s_cust]
        is_repeat = u < rho
        new[is_repeat] = favourites[s_cust[is_repeat], rng.integers(0, tastes.n_favourites, is_repeat.sum())]
        drawn = np.nonzero(~is_repeat & (u < rho + (1 - rho) * tastes.strength))[0]
        cell = s_day[drawn] * n_groups + group[s_cust[drawn]]
        sort = np.argsort(cell, kind="stable")
        drawn, cell = drawn[sort], cell[sort]
        cuts = np.flatnonzero(np.diff(cell)) + 1
        for block in np.split(np.arange(drawn.size), cuts):
            if block.size:
                d, g = divmod(int(cell[block[0]]), n_groups)
                w = cat.weights[d] * tastes.weight[g]
                new[drawn[block]] = rng.choice(n_p, size=block.size, p=w / w.sum())
        while True:  # an order's products stay distinct (redraw collisions)
            sort = np.lexsort((new, s_order))
            same = (np.diff(s_order[sort]) == 0) & (np.diff(new[sort]) == 0)
            clash = sort[1:][same]
            if clash.size == 0:
                break
            new[clash] = rng.integers(0, n_p, size=clash.size)
        return new[inverse]

    return group, step


# ---------------------------------------------------------------- customers and purchases


def _purchases(cfg: ShopConfig, rng: np.random.Generator, n: int, id_offset: int):
    """BG/NBD purchase days and Gamma-Gamma values for ``n`` customers."""
    bg, gg = cfg.bgnbd, cfg.gamma_gamma
    lam = rng.gamma(bg["r"], 1.0 / bg["alpha"], size=n)
    p_drop = rng.beta(bg["a"], bg["b"], size=n)
    nu = rng.gamma(gg["q"], 1.0 / gg["v"], size=n)
    birth = rng.uniform(0, cfg.n_days, size=n)
    # shapes draw extra numbers only after the standard draws, so "standard" is unchanged
    if cfg.shape == "no_dropout":
        p_drop = np.zeros(n)
    elif cfg.shape == "heavy_repeaters":
        heavy = np.flatnonzero(rng.random(n) < HEAVY_SHARE)
        birth[heavy] = rng.uniform(0, 0.1 * cfg.n_days, size=heavy.size)
        lam[heavy] = rng.uniform(*HEAVY_PURCHASES, size=heavy.size) / (cfg.n_days - birth[heavy])
        p_drop[heavy] = 0.0
    horizon = cfg.n_days - birth
    # BG/NBD's dropout can follow a *repeat* purchase only (the likelihood of a
    # customer with no repeat is exp(-lambda T)): repeats drawn until dropout are
    # Geometric(p) on 1, 2, ...; capped far above what fits in the horizon.
    repeats = rng.geometric(np.clip(p_drop, 1e-12, 1.0))
    if cfg.shape == "one_time_buyers":
        repeats = np.zeros(n, dtype=np.int64)
    mean_in_horizon = lam * horizon
    cap = np.ceil(mean_in_horizon + 8 * np.sqrt(mean_in_horizon) + 8).astype(np.int64)
    repeats = np.minimum(repeats, cap)
    owner = np.repeat(np.arange(n), repeats)
    # Gaps past the period end are clipped (what follows is discarded anyway),
    # which keeps the running sum small enough for exact float arithmetic.
    gaps = np.minimum(rng.exponential(1.0, size=owner.size) / lam[owner], cfg.n_days + 1.0)
    t = birth[owner] + _group_cumsum(gaps, repeats)
    keep = t < cfg.n_days
    # Whether each customer is still alive at the end: all repeats happened
    # within the horizon and the customer did not drop out after the last.
    n_kept = np.bincount(owner[keep], minlength=n)
    died_after_last = n_kept == repeats  # every drawn repeat fits: the dropout followed the last
    death_time = np.full(n, np.inf)
    last_t = birth.copy()
    np.maximum.at(last_t, owner[keep], t[keep])
    death_time[died_after_last] = last_t[died_after_last]

    cust = np.concatenate([np.arange(n), owner[keep]])
    times = np.concatenate([birth, t[keep]])
    # Weekly pattern: move each purchase to a day of its calendar week.
    day = np.floor(times).astype(np.int64)
    start_dow = cfg.start.weekday()
    week_start = day - (day + start_dow) % 7
    new_dow = rng.choice(7, size=day.size, p=np.asarray(WEEKLY_PROFILE) / sum(WEEKLY_PROFILE))
    day = np.clip(week_start + new_dow, 0, cfg.n_days - 1)
    order = np.lexsort((day, cust))
    cust, day = cust[order], day[order]
    value = rng.gamma(gg["p"], 1.0 / nu[cust])
    value = np.maximum(np.round(value, 2), 0.01)
    customers = {
        "lam": lam, "p_drop": p_drop, "nu": nu, "birth": birth,
        "death_time": death_time, "index": np.arange(n) + id_offset,
    }
    return customers, cust, day, value


def _lines(cfg: ShopConfig, rng: np.random.Generator, cat: Catalogue, order_day: np.ndarray, order_value: np.ndarray,
           taste=None):
    """Order lines: products drawn from the day's weights, value spread by list price.

    ``taste`` (a callable from :func:`_taste_step`) replaces the drawn products
    by the customer's choice, from its own random stream, keeping the number of
    lines and their quantities.
    """
    n_orders = order_day.size
    n_lines = np.minimum(1 + rng.poisson(0.7, size=n_orders), 5)
    line_order = np.repeat(np.arange(n_orders), n_lines)
    line_day = order_day[line_order]
    product = np.empty(line_order.size, dtype=np.int64)
    sort = np.argsort(line_day, kind="stable")
    days_sorted = line_day[sort]
    bounds = np.searchsorted(days_sorted, np.arange(cfg.n_days + 1))
    for d in range(cfg.n_days):
        lo, hi = bounds[d], bounds[d + 1]
        if hi > lo:
            w = cat.weights[d]
            product[sort[lo:hi]] = rng.choice(w.size, size=hi - lo, p=w / w.sum())
    if taste is not None:
        product = taste(line_order, line_day, product)
    quantity = 1 + rng.poisson(0.3, size=line_order.size)
    # One line per product and order: a product drawn twice adds to the quantity.
    key = line_order * cat.list_price.size + product
    key, inverse = np.unique(key, return_inverse=True)
    quantity = np.bincount(inverse, weights=quantity).astype(np.int64)
    line_order, product = key // cat.list_price.size, key % cat.list_price.size
    n_lines = np.bincount(line_order, minlength=n_orders)
    line_day = order_day[line_order]
    on_promo = cat.promo[line_day, product]
    gross_list = quantity * cat.list_price[product]
    share = gross_list / np.bincount(line_order, weights=gross_list)[line_order]
    amount = np.round(order_value[line_order] * share, 2)
    # Put the rounding remainder on each order's first line, so lines add up exactly.
    first = np.concatenate([[0], np.cumsum(n_lines)[:-1]])
    amount[first] += np.round(order_value - np.bincount(line_order, weights=amount), 2)
    discount = np.where(on_promo, np.round(amount * 0.25, 2), 0.0)
    # Rounded up to 1/10000, so the recomputed discount below is never negative.
    unit_price = np.ceil((amount + discount) / quantity * 10_000 - 1e-6) / 10_000
    # Recompute the discount so that quantity * unit_price - discount == amount to the cent.
    discount = np.round(quantity * unit_price - amount, 4)
    return line_order, product, quantity, unit_price, discount


def _sessions(cfg: ShopConfig, rng: np.random.Generator, cust_info: dict, order_cust: np.ndarray, order_sec: np.ndarray, base_sec: int):
    """Browsing sessions: purchase sessions, pre-purchase browsing, background browsing."""
    n = cust_info["lam"].size
    end_sec = cfg.n_days * 86400
    # 1. purchase sessions start 2-30 minutes before the order.
    p_start = order_sec - rng.integers(120, 1800, size=order_sec.size)
    p_kind = np.full(order_sec.size, 2)
    # 2. pre-purchase browsing: Poisson(k) sessions, an exponential lead before each purchase.
    k = rng.poisson(cfg.pre_purchase_sessions, size=order_sec.size)
    pre_owner = np.repeat(np.arange(order_sec.size), k)
    lead_days = rng.exponential(cfg.pre_purchase_lead_days, size=pre_owner.size)
    pre_start = order_sec[pre_owner] - (lead_days * 86400).astype(np.int64) - 3600
    pre_cust = order_cust[pre_owner]
    # 3. background browsing while alive, fading after dropout.
    birth_sec = (cust_info["birth"] * 86400).astype(np.int64)
    death = cust_info["death_time"]
    fade = cfg.browse_fade_days
    alive_days = np.minimum(death, cfg.n_days) - cust_info["birth"]
    faded_days = np.where(np.isfinite(death), np.minimum(fade, np.maximum(cfg.n_days - death, 0)), 0.0)
    rate = cfg.browse_rate * (0.5 + rng.exponential(1.0, size=n))
    n_alive = rng.poisson(rate * np.maximum(alive_days, 0))
    # Fading intensity rate * exp(-s / fade): expected count rate * fade * (1 - e^{-D/fade}).
    n_fade = rng.poisson(rate * fade * (1 - np.exp(-faded_days / fade)))
    bg_owner = np.repeat(np.arange(n), n_alive)
    bg_start = birth_sec[bg_owner] + (rng.uniform(0, 1, bg_owner.size) * alive_days[bg_owner] * 86400).astype(np.int64)
    fd_owner = np.repeat(np.arange(n), n_fade)
    u = rng.uniform(0, 1, fd_owner.size)
    span = faded_days[fd_owner]
    s = -fade * np.log(1 - u * (1 - np.exp(-span / fade)))  # truncated exponential
    fd_start = (np.where(np.isfinite(death[fd_owner]), death[fd_owner], 0) * 86400 + s * 86400).astype(np.int64)

    cust = np.concatenate([order_cust, pre_cust, bg_owner, fd_owner])
    start = np.concatenate([p_start, pre_start, bg_start, fd_start])
    kind = np.concatenate([p_kind, np.ones(pre_owner.size, int), np.zeros(bg_owner.size + fd_owner.size, int)])
    keep = (start >= 0) & (start < end_sec)
    cust, start, kind = cust[keep], start[keep], kind[keep]
    # Pre-purchase sessions are more engaged than background ones.
    n_views = np.where(kind == 2, 1 + rng.poisson(2.0, cust.size), rng.poisson(np.where(kind == 1, 3.0, 1.5)))
    n_pages = 1 + rng.poisson(1.0, cust.size)
    n_cart = np.where(kind == 2, 1 + rng.poisson(0.3, cust.size), rng.binomial(1, np.where(kind == 1, 0.35, 0.05)))
    n_checkout = np.where(kind == 2, 1, rng.binomial(1, 0.2, cust.size) * (n_cart > 0))
    n_purchase = (kind == 2).astype(int)
    anonymous = rng.uniform(size=cust.size) < cfg.anonymous_session_share
    anonymous &= kind != 2  # checkout sessions are logged in
    return {
        "cust": cust, "start": start, "anonymous": anonymous,
        "counts": np.stack([n_pages, n_views, n_cart, n_checkout, n_purchase], axis=1),
    }


EVENT_TYPES = ("page_view", "product_view", "add_to_cart", "checkout", "purchase")


def _events(rng: np.random.Generator, sess: dict, cat: Catalogue, base_sec: int, cust_ids: np.ndarray, session_offset: int, event_offset: int):
    counts = sess["counts"]
    n_sess = counts.shape[0]
    per_session = counts.sum(axis=1)
    owner = np.repeat(np.arange(n_sess), per_session)
    # Event type: within a session, the types in funnel order.
    etype = _funnel_types(counts)
    step = rng.integers(10, 240, size=owner.size)
    offset = _group_cumsum(step.astype(float), per_session).astype(np.int64)
    occurred = base_sec + sess["start"][owner] + offset
    product = rng.integers(0, cat.list_price.size, size=owner.size)
    has_product = (etype == 1) | (etype == 2)
    customer = cust_ids[sess["cust"][owner]].astype(object)
    customer[sess["anonymous"][owner]] = None
    return {
        "event_id": np.arange(owner.size, dtype=np.int64) + event_offset,
        "occurred_at": occurred,
        "customer_id": customer,
        "session_id": owner.astype(np.int64) + session_offset,
        "event_type": np.asarray(EVENT_TYPES, dtype=object)[etype],
        "product_id": np.where(has_product, _ids("P", product + 1, 5), None),
    }


def _funnel_types(counts: np.ndarray) -> np.ndarray:
    """Event types per session in funnel order, vectorised over sessions."""
    flat = counts.ravel()
    types = np.tile(np.arange(5), counts.shape[0])
    return np.repeat(types, flat)


# ---------------------------------------------------------------- dirty rows


def _dirty_orders(cfg: ShopConfig, rng: np.random.Generator, orders: pd.DataFrame, base_sec: int) -> tuple[pd.DataFrame, dict]:
    n = len(orders)
    k = int(round(cfg.dirty_rate * n))
    if k == 0:
        return orders.iloc[0:0], {}
    kinds = {}
    parts = []

    def pick(m):
        return orders.iloc[rng.integers(0, n, size=m)].copy()

    dup = pick(k)
    kinds["duplicate_row"] = k
    parts.append(dup)
    m = max(1, k // 4)
    null_order = pick(m)
    null_order["order_id"] = None
    kinds["order_id_null"] = m
    parts.append(null_order)
    null_customer = pick(m)
    null_customer["order_id"] = _ids("X", np.arange(m), 9)
    null_customer["customer_id"] = None
    kinds["customer_id_null"] = m
    parts.append(null_customer)
    bad_total = pick(m)
    bad_total["order_id"] = _ids("N", np.arange(m), 9)
    bad_total["order_total"] = np.where(rng.uniform(size=m) < 0.5, 0.0, -np.round(rng.uniform(1, 50, m), 2))
    kinds["order_total_not_positive"] = m
    parts.append(bad_total)
    bad_status = pick(m)
    bad_status["order_id"] = _ids("S", np.arange(m), 9)
    bad_status["status"] = "pending"
    kinds["status_unknown"] = m
    parts.append(bad_status)
    bad_ts = pick(m)
    bad_ts["order_id"] = _ids("T", np.arange(m), 9)
    bad_ts["ordered_at"] = "not a timestamp"
    kinds["ordered_at_invalid"] = m
    parts.append(bad_ts)
    future = pick(m)
    future["order_id"] = _ids("F", np.arange(m), 9)
    future_sec = base_sec + (cfg.n_days + rng.integers(3650, 7300, size=m)) * 86400
    future["ordered_at"] = _iso_utc(future_sec).to_numpy(zero_copy_only=False)
    kinds["ordered_at_in_future"] = m
    parts.append(future)
    for status in ("cancelled", "returned"):
        rows = pick(k)
        rows["order_id"] = _ids(status[0].upper(), np.arange(k), 9)
        rows["status"] = status
        kinds[f"{status}_orders"] = k
        parts.append(rows)
    return pd.concat(parts, ignore_index=True), kinds


# ---------------------------------------------------------------- the shop


def _chunk(cfg: ShopConfig, cat: Catalogue, rng: np.random.Generator, n: int, id_offset: int, order_offset: int, session_offset: int, event_offset: int,
           tastes: tuple | None = None):
    base_sec = _seconds_since_epoch(cfg.start)
    info, o_cust, o_day, o_value = _purchases(cfg, rng, n, id_offset)
    cust_ids = _ids("C", info["index"] + 1, 8)
    taste_group, taste_step = None, None
    if tastes is not None:  # (Tastes, seed of this chunk's taste stream)
        taste_group, taste_step = _taste_step(tastes[0], np.random.default_rng(tastes[1]), cat, n, o_cust)
    o_sec_rel = o_day * 86400 + _day_seconds(rng, o_day.size)
    order_ids = _ids("O", np.arange(o_day.size) + order_offset + 1, 10)
    # Mixed representations of valid timestamps: Z, naive (UTC), or local + offset.
    style = rng.choice(3, size=o_day.size, p=[0.6, 0.2, 0.2])
    o_abs = base_sec + o_sec_rel
    text = np.asarray(_iso_utc(o_abs, "Z").to_numpy(zero_copy_only=False), dtype=object)
    naive = np.asarray(_iso_utc(o_abs, "naive").to_numpy(zero_copy_only=False), dtype=object)
    offs = np.asarray(OFFSETS_MINUTES)[rng.integers(0, len(OFFSETS_MINUTES), size=o_day.size)]
    local = np.asarray(_iso_with_offsets(o_abs, offs).to_numpy(zero_copy_only=False), dtype=object)
    text = np.where(style == 1, naive, np.where(style == 2, local, text))
    orders = pd.DataFrame(
        {
            "order_id": order_ids,
            "customer_id": cust_ids[o_cust],
            "ordered_at": text,
            "order_total": o_value,
            "status": "completed",
            "currency": "EUR",
        }
    )
    l_order, l_product, l_qty, l_price, l_disc = _lines(cfg, rng, cat, o_day, o_value, taste_step)
    items = pd.DataFrame(
        {
            "order_id": order_ids[l_order],
            "product_id": _ids("P", l_product + 1, 5),
            "quantity": l_qty.astype(np.int64),
            "unit_price": l_price,
            "discount": l_disc,
        }
    )
    # Customers: everyone who bought, plus some who only signed up.
    n_signup_only = int(round(cfg.signup_only_share * n))
    signup_rel = np.concatenate(
        [
            info["birth"] * 86400 - rng.exponential(20, size=n) * 86400,
            rng.uniform(0, cfg.n_days, size=n_signup_only) * 86400,
        ]
    ).astype(np.int64)
    extra_ids = _ids("C", np.arange(n_signup_only) + 50_000_000 + id_offset + 1, 8)
    all_ids = np.concatenate([cust_ids, extra_ids])
    customers = pd.DataFrame(
        {
            "customer_id": all_ids,
            "email": np.char.add(np.char.lower(all_ids.astype(str)), "@example.com").astype(object),
            "signed_up_at": np.asarray(_iso_utc(base_sec + signup_rel).to_numpy(zero_copy_only=False), dtype=object),
            "country": np.asarray(COUNTRIES, dtype=object)[
                rng.choice(len(COUNTRIES), size=all_ids.size, p=COUNTRY_WEIGHTS)
            ],
        }
    )
    events = None
    if cfg.events:
        sess = _sessions(cfg, rng, info, o_cust, o_sec_rel, base_sec)
        events = _events(rng, sess, cat, base_sec, cust_ids, session_offset, event_offset)
    truth = {
        "n_customers_buying": int(n),
        "n_orders_completed": int(o_day.size),
        "alive_at_end": int(np.isinf(info["death_time"]).sum()),
    }
    if taste_group is not None:
        truth["customer_group"] = dict(zip(cust_ids.tolist(), taste_group.tolist(), strict=True))
    return orders, items, customers, events, truth


def _events_table(ev: dict, csv: bool) -> pa.Table:
    occurred = _ts_array(ev["occurred_at"])
    return pa.table(
        {
            "event_id": pa.array(ev["event_id"], pa.int64()),
            "occurred_at": pc.strftime(occurred, format="%Y-%m-%dT%H:%M:%SZ") if csv else occurred,
            "customer_id": pa.array(ev["customer_id"], pa.string()),
            "session_id": pa.array(ev["session_id"], pa.int64()),
            "event_type": pa.array(ev["event_type"], pa.string()),
            "product_id": pa.array(ev["product_id"], pa.string()),
        }
    )


def _dirty_events(cfg: ShopConfig, rng: np.random.Generator, ev: dict) -> tuple[dict, dict]:
    n = ev["event_id"].size
    k = int(round(cfg.dirty_rate * n))
    if k == 0 or n == 0:
        return ev, {}
    dup = rng.integers(0, n, size=k)
    unknown = rng.integers(0, n, size=max(1, k // 4))
    badtype = rng.integers(0, n, size=max(1, k // 4))
    parts = {key: [val] for key, val in ev.items()}
    for key, val in ev.items():
        parts[key].append(val[dup])
    next_id = ev["event_id"].max() + 1 + np.arange(unknown.size + badtype.size)
    for key, val in ev.items():
        block = val[np.concatenate([unknown, badtype])].copy()
        if key == "event_id":
            block = next_id
        if key == "customer_id":
            block[: unknown.size] = "C9" + "9" * 7
        if key == "event_type":
            block[unknown.size :] = "hover"
        parts[key].append(block)
    out = {key: np.concatenate(val) for key, val in parts.items()}
    return out, {"duplicate_row": int(k), "unknown_customer": int(unknown.size), "event_type_unknown": int(badtype.size)}


def iter_shop(cfg: ShopConfig):
    """Yield the shop as ``(table_name, pyarrow.Table)`` pieces, chunk by chunk.

    The final item is ``("ground_truth", dict)``.
    """
    root = np.random.SeedSequence(cfg.seed)
    cat_seed, dirt_seed, *chunk_seeds = root.spawn(2 + math.ceil(cfg.n_customers / cfg.chunk_customers))
    cat = _catalogue(cfg, np.random.default_rng(cat_seed))
    dirt = np.random.default_rng(dirt_seed)
    # Tastes draw from a stream of their own, so that they change which
    # products go on the lines and nothing else.
    tastes, taste_seeds, taste_labels = None, [None] * len(chunk_seeds), {}
    if cfg.tastes:
        group_seed, *taste_seeds = root.spawn(1)[0].spawn(1 + len(chunk_seeds))
        tastes = _taste_groups(cfg, cat, np.random.default_rng(group_seed))
    yield "products", cat.products
    csv = False
    counts = {"n_customers_buying": 0, "n_orders_completed": 0, "alive_at_end": 0}
    dirty = {t: {} for t in TABLES}
    base_sec = _seconds_since_epoch(cfg.start)
    order_offset = session_offset = event_offset = 0
    for i, seed in enumerate(chunk_seeds):
        n = min(cfg.chunk_customers, cfg.n_customers - i * cfg.chunk_customers)
        if n <= 0:
            break
        rng = np.random.default_rng(seed)
        orders, items, customers, events, truth = _chunk(
            cfg, cat, rng, n, i * cfg.chunk_customers, order_offset, session_offset, event_offset,
            None if tastes is None else (tastes, taste_seeds[i]),
        )
        taste_labels.update(truth.get("customer_group", {}))
        order_offset += len(orders)
        for key in counts:
            counts[key] += truth[key]
        if cfg.dirty_rate > 0:
            extra, kinds = _dirty_orders(cfg, dirt, orders, base_sec)
            # Lines of the extra orders: copy a real order's lines under the new id
            # (orphans when the order itself is rejected), plus duplicate lines.
            # (duplicated orders keep their id and get no new lines).
            new_ids = extra["order_id"][extra["order_id"].notna() & ~extra["order_id"].isin(orders["order_id"])]
            src = items.groupby("order_id", sort=False).head(1)
            extra_lines = src.sample(n=len(new_ids), replace=True, random_state=int(dirt.integers(2**31))).copy()
            extra_lines["order_id"] = new_ids.to_numpy()
            orders = pd.concat([orders, extra], ignore_index=True)
            k = int(round(cfg.dirty_rate * len(items)))
            dup_lines = items.iloc[dirt.integers(0, len(items), size=k)]
            bad_qty = items.iloc[dirt.integers(0, len(items), size=max(1, k // 4))].copy()
            bad_qty["quantity"] = 0
            items = pd.concat([items, extra_lines, dup_lines, bad_qty], ignore_index=True)
            cust_dup = customers.iloc[dirt.integers(0, len(customers), size=int(round(cfg.dirty_rate * len(customers))))]
            customers = pd.concat([customers, cust_dup], ignore_index=True)
            _add(dirty["orders"], kinds)
            _add(dirty["order_items"], {"duplicate_row": k, "quantity_not_positive": len(bad_qty), "lines_of_extra_orders": len(extra_lines)})
            _add(dirty["customers"], {"duplicate_row": len(cust_dup)})
        yield "orders", pa.Table.from_pandas(orders, preserve_index=False)
        yield "order_items", pa.Table.from_pandas(items, preserve_index=False)
        yield "customers", pa.Table.from_pandas(customers, preserve_index=False)
        if events is not None:
            session_offset = int(events["session_id"].max()) + 1 if events["session_id"].size else session_offset
            event_offset = int(events["event_id"].max()) + 1 if events["event_id"].size else event_offset
            if cfg.dirty_rate > 0:
                events, kinds = _dirty_events(cfg, dirt, events)
                event_offset = int(events["event_id"].max()) + 1
                _add(dirty["events"], kinds)
            yield "events", _events_table(events, csv)
    bg, gg = cfg.bgnbd, cfg.gamma_gamma
    truth = {
        "generator": "shoplens.datagen",
        "config": {k: v for k, v in asdict(cfg).items()},
        "start_date": cfg.start.isoformat(),
        "end_date": cfg.end.isoformat(),
        "export_date": cfg.end.isoformat(),
        "calibration_end_date": (cfg.end - dt.timedelta(days=cfg.holdout_days)).isoformat(),
        "time_unit": "days",
        "bgnbd": dict(bg),
        "gamma_gamma": dict(gg),
        "gamma_gamma_mean_order_value": gg["p"] * gg["v"] / (gg["q"] - 1) if gg["q"] > 1 else None,
        "counts": counts,
        "dirty_rows": dirty,
        "demand": cat.truth,
        "tastes": tastes.truth(CATEGORIES, taste_labels) if tastes is not None else {"enabled": False},
    }
    yield "ground_truth", truth


def _add(target: dict, more: dict) -> None:
    for k, v in more.items():
        target[k] = target.get(k, 0) + int(v)


def generate_shop(
    n_customers: int = 2000,
    n_days: int = 730,
    n_products: int = 120,
    seed: int = 42,
    dirty_rate: float = 0.0,
    start_date: str = "2024-01-01",
    bgnbd: dict | None = None,
    gamma_gamma: dict | None = None,
    events: bool = True,
    holdout_days: int = 0,
    **kwargs,
) -> dict:
    """Generate a shop in memory: ``{table: pandas.DataFrame, "ground_truth": dict}``.

    BG/NBD rates are per day (``alpha`` in days). ``holdout_days`` only records
    ``calibration_end_date = end_date - holdout_days`` in the ground truth, a
    suggested ``as_of_date`` that leaves a holdout.
    """
    cfg = ShopConfig(
        n_customers=n_customers, n_days=n_days, n_products=n_products, seed=seed,
        dirty_rate=dirty_rate, start_date=start_date,
        bgnbd=dict(bgnbd or ShopConfig().bgnbd), gamma_gamma=dict(gamma_gamma or ShopConfig().gamma_gamma),
        events=events, holdout_days=holdout_days, **kwargs,
    )
    pieces: dict[str, list] = {t: [] for t in TABLES}
    out: dict = {}
    for name, piece in iter_shop(cfg):
        if name == "ground_truth":
            out[name] = piece
        else:
            pieces[name].append(piece)
    for name, parts in pieces.items():
        if parts:
            out[name] = pa.concat_tables(parts, promote_options="permissive").to_pandas()
    return out


def write_shop(tables: dict, out_dir: str | Path, fmt: str = "parquet") -> Path:
    """Write tables from :func:`generate_shop` (plus ground_truth.json) to ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        if name == "ground_truth":
            (out / "ground_truth.json").write_text(json.dumps(frame, indent=2, default=str))
            continue
        table = pa.Table.from_pandas(frame, preserve_index=False)
        _write(table, out / f"{name}.{fmt}", fmt)
    return out


def _write(table: pa.Table, path: Path, fmt: str) -> None:
    if fmt == "parquet":
        pq.write_table(table, path, compression="zstd")
    elif fmt == "csv":
        pacsv.write_csv(table, path)
    else:
        raise ValueError(f"format must be parquet or csv, got {fmt!r}")


def write_shop_streaming(cfg: ShopConfig, out_dir: str | Path, fmt: str = "parquet") -> dict:
    """Generate and write a shop chunk by chunk (bounded memory); returns the ground truth."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    writers: dict[str, object] = {}
    truth: dict = {}
    try:
        for name, piece in iter_shop(cfg):
            if name == "ground_truth":
                truth = piece
                continue
            if fmt == "csv" and name == "events":
                piece = piece.set_column(1, "occurred_at", pc.strftime(piece["occurred_at"], format="%Y-%m-%dT%H:%M:%SZ"))
            path = out / f"{name}.{fmt}"
            if name not in writers:
                if fmt == "parquet":
                    writers[name] = pq.ParquetWriter(path, piece.schema, compression="zstd")
                else:
                    writers[name] = pacsv.CSVWriter(path, piece.schema)
            writer = writers[name]
            if fmt == "parquet" and piece.schema != writer.schema:  # type: ignore[attr-defined]
                piece = piece.cast(writer.schema)  # type: ignore[attr-defined]
            writer.write_table(piece)  # type: ignore[attr-defined]
    finally:
        for w in writers.values():
            w.close()  # type: ignore[attr-defined]
    (out / "ground_truth.json").write_text(json.dumps(truth, indent=2, default=str))
    return truth


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="shoplens-datagen", description=__doc__.split("\n")[0])
    ap.add_argument("--customers", type=int, default=2000)
    ap.add_argument("--days", type=int, default=730)
    ap.add_argument("--products", type=int, default=120)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--start-date", default="2024-01-01")
    ap.add_argument("--dirty-rate", type=float, default=0.0)
    ap.add_argument("--holdout-days", type=int, default=0)
    ap.add_argument("--no-events", action="store_true", help="orders only, as many shops have")
    ap.add_argument("--format", choices=("parquet", "csv"), default="parquet")
    ap.add_argument("--chunk-customers", type=int, default=100_000)
    ap.add_argument("--browse-rate", type=float, default=ShopConfig.browse_rate,
                    help="background browsing sessions per day of an alive customer")
    ap.add_argument("--pre-purchase-sessions", type=float, default=ShopConfig.pre_purchase_sessions,
                    help="mean browsing sessions before a purchase")
    ap.add_argument("--pre-purchase-lead-days", type=float, default=ShopConfig.pre_purchase_lead_days,
                    help="mean days between those sessions and the purchase")
    ap.add_argument("--no-tastes", action="store_true",
                    help="no customer tastes: every line from the day's demand weights alone")
    ap.add_argument("--taste-groups", type=int, default=ShopConfig.n_taste_groups,
                    help="number of customer taste groups")
    ap.add_argument("--r", type=float, default=0.25, help="BG/NBD r")
    ap.add_argument("--alpha", type=float, default=30.0, help="BG/NBD alpha (days)")
    ap.add_argument("--a", type=float, default=0.8, help="BG/NBD a")
    ap.add_argument("--b", type=float, default=2.5, help="BG/NBD b")
    ap.add_argument("--gg-p", type=float, default=6.0, help="Gamma-Gamma p")
    ap.add_argument("--gg-q", type=float, default=4.0, help="Gamma-Gamma q")
    ap.add_argument("--gg-v", type=float, default=20.0, help="Gamma-Gamma v")
    ap.add_argument("--shape", choices=SHAPES, default="standard",
                    help="purchase pattern: standard BG/NBD, or a valid shop that breaks models")
    ap.add_argument("--out", required=True, help="output folder")
    args = ap.parse_args(argv)
    cfg = ShopConfig(
        n_customers=args.customers, n_days=args.days, n_products=args.products, seed=args.seed,
        dirty_rate=args.dirty_rate, start_date=args.start_date, events=not args.no_events,
        holdout_days=args.holdout_days, chunk_customers=args.chunk_customers,
        browse_rate=args.browse_rate, pre_purchase_sessions=args.pre_purchase_sessions,
        pre_purchase_lead_days=args.pre_purchase_lead_days,
        tastes=not args.no_tastes, n_taste_groups=args.taste_groups,
        bgnbd={"r": args.r, "alpha": args.alpha, "a": args.a, "b": args.b},
        gamma_gamma={"p": args.gg_p, "q": args.gg_q, "v": args.gg_v},
        shape=args.shape,
    )
    t0 = time.perf_counter()
    truth = write_shop_streaming(cfg, args.out, args.format)
    print(
        f"wrote {args.out}: {truth['counts']['n_orders_completed']} completed orders of "
        f"{truth['counts']['n_customers_buying']} customers, {args.format}, "
        f"{time.perf_counter() - t0:.1f}s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
