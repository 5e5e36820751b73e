"""Customer taste groups: which products go on a customer's order lines."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from shoplens.datagen.catalogue import Catalogue
from shoplens.datagen.config import ShopConfig

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
    else the product the day's weights alone gave. Product views and
    add-to-cart events follow the same taste (:func:`_taste_browse`), drawn
    after the order lines from the same stream, so the lines do not change.
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
    browse_order_share: float = 0.5

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
            "browse_order_share": self.browse_order_share,
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

    def browse(event_cust: np.ndarray, event_order: np.ndarray, line_order: np.ndarray,
               line_product: np.ndarray) -> np.ndarray:
        """Products of product-view and add-to-cart events (see :func:`_taste_browse`)."""
        return _taste_browse(tastes, rng, (group, repeat, favourites, mean_weight), event_cust, event_order,
                             line_order, line_product)

    return group, step, browse


def _taste_browse(tastes: Tastes, rng: np.random.Generator, people: tuple, event_cust: np.ndarray,
                  event_order: np.ndarray, line_order: np.ndarray, line_product: np.ndarray) -> np.ndarray:
    """Which product each product event shows, from the browsing customer's taste.

    In a session that leads to an order (the purchase session and the
    pre-purchase browsing before it), an event shows one of that order's
    products with probability ``browse_order_share``. Otherwise it is a
    favourite with the customer's repeat rate, else (probability
    ``strength``) a product drawn from the group's taste times the mean
    demand weights, else any product. ``line_order`` is sorted.
    """
    group, repeat, favourites, mean_weight = people
    n_p, n = mean_weight.size, event_cust.size
    out = rng.integers(0, n_p, size=n)
    u = rng.uniform(size=n)
    lo = np.searchsorted(line_order, np.maximum(event_order, 0), side="left")
    hi = np.searchsorted(line_order, np.maximum(event_order, 0), side="right")
    from_order = (event_order >= 0) & (hi > lo) & (u < tastes.browse_order_share)
    pick = lo + (rng.uniform(size=n) * (hi - lo)).astype(np.int64)
    out[from_order] = line_product[np.minimum(pick, line_product.size - 1)[from_order]]
    rho = repeat[event_cust]
    v = rng.uniform(size=n)
    fav = ~from_order & (v < rho)
    out[fav] = favourites[event_cust[fav], rng.integers(0, tastes.n_favourites, fav.sum())]
    drawn = ~from_order & ~fav & (v < rho + (1 - rho) * tastes.strength)
    for g in range(tastes.group_share.size):
        members = np.nonzero(drawn & (group[event_cust] == g))[0]
        w = mean_weight * tastes.weight[g]
        out[members] = rng.choice(n_p, size=members.size, p=w / w.sum())
    return out
