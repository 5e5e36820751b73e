"""Customers, purchases (BG/NBD + Gamma-Gamma), order lines, sessions and events."""

from __future__ import annotations

import numpy as np

from shoplens.datagen.catalogue import Catalogue
from shoplens.datagen.config import HEAVY_PURCHASES, HEAVY_SHARE, WEEKLY_PROFILE, ShopConfig
from shoplens.datagen.helpers import _group_cumsum, _ids


def _inside_period(week_start: np.ndarray, dow: np.ndarray, profile: np.ndarray, n_days: int,
                   rng: np.random.Generator) -> np.ndarray:
    """``week_start + dow``, with the days that fall outside ``[0, n_days)`` drawn again.

    A purchase in a calendar week cut by the period's start or end is moved
    to one of that week's days inside the period, with the weekly profile's
    weights over those days (a purchase drawn outside is drawn again from the
    days inside, so each kept day gets its profile share renormalised). The
    redraws come from a child stream (``rng.spawn``), so the customers,
    purchase counts, times of day and order values are those the clipping
    drew; the order lines' products are not (their draws run day by day and,
    with tastes, over all of a chunk's lines in order, so one moved order
    shifts the draws after it). Clipping them to the first or last day
    instead piled up to six days' purchases on the period's last day (with a
    period ending on a Tuesday: about 1.7 days' worth on the Tuesday and 0.3
    on the Monday), a spike no shop's data has.
    """
    # spawned whether or not a week is cut, so the child's index never depends on the data
    redraw = rng.spawn(1)[0]
    day = week_start + dow
    outside = np.flatnonzero((day < 0) | (day >= n_days))
    if not outside.size:
        return day
    lo = np.maximum(-week_start[outside], 0)
    hi = np.minimum(n_days - 1 - week_start[outside], 6)
    for first, last in sorted(set(zip(lo.tolist(), hi.tolist(), strict=True))):
        rows = outside[(lo == first) & (hi == last)]
        weights = profile[first : last + 1] / profile[first : last + 1].sum()
        day[rows] = week_start[rows] + first + redraw.choice(last - first + 1, size=rows.size, p=weights)
    return day


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
    profile = np.asarray(WEEKLY_PROFILE) / sum(WEEKLY_PROFILE)
    new_dow = rng.choice(7, size=day.size, p=profile)
    day = _inside_period(week_start, new_dow, profile, cfg.n_days, rng)
    order = np.lexsort((day, cust))
    cust, day = cust[order], day[order]
    value = rng.gamma(gg["p"], 1.0 / nu[cust])
    value = np.maximum(np.round(value, 2), 0.01)
    customers = {
        "lam": lam, "p_drop": p_drop, "nu": nu, "birth": birth,
        "death_time": death_time, "index": np.arange(n) + id_offset,
        # per purchase, not per customer (aligned with the returned ``cust`` and ``day``): the
        # time drawn before the weekly move, read by ``latent_purchases`` only
        "purchase_time": times[order],
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
    # The order a purchase or pre-purchase session leads to (-1: background browsing).
    order = np.concatenate([np.arange(order_sec.size), pre_owner, np.full(bg_owner.size + fd_owner.size, -1)])
    keep = (start >= 0) & (start < end_sec)
    cust, start, kind, order = cust[keep], start[keep], kind[keep], order[keep]
    # Pre-purchase sessions are more engaged than background ones.
    n_views = np.where(kind == 2, 1 + rng.poisson(2.0, cust.size), rng.poisson(np.where(kind == 1, 3.0, 1.5)))
    n_pages = 1 + rng.poisson(1.0, cust.size)
    n_cart = np.where(kind == 2, 1 + rng.poisson(0.3, cust.size), rng.binomial(1, np.where(kind == 1, 0.35, 0.05)))
    n_checkout = np.where(kind == 2, 1, rng.binomial(1, 0.2, cust.size) * (n_cart > 0))
    n_purchase = (kind == 2).astype(int)
    anonymous = rng.uniform(size=cust.size) < cfg.anonymous_session_share
    anonymous &= kind != 2  # checkout sessions are logged in
    return {
        "cust": cust, "start": start, "anonymous": anonymous, "order": order,
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
