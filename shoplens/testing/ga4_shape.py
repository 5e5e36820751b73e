"""An export shaped like Google's GA4 "Merchandise Store" sample, in shoplens' raw contract.

The public BigQuery dataset ``ga4_obfuscated_sample_ecommerce`` holds the
events of the Google Merchandise Store from 2020-11 to 2021-01, one row per
event with nested items. The shape here is 8,000 visitors from 2020-09-01 to
2021-01-31 (about 171,000 events), flattened. What makes it hard for the
models, reproduced here:

* 17 GA4 event names, 12 of them of no use to the project (session_start,
  first_visit, user_engagement, scroll, select_item, ...: six rows in ten);
  the project's names are only page_view, add_to_cart and purchase;
  ``view_item`` and ``begin_checkout`` are GA4's spellings of two others;
* ``event_timestamp`` is microseconds since 1970; ``ga_session_id`` is the
  session's start in epoch seconds, unique per visitor only (some ids are
  used by two visitors); ``user_pseudo_id`` looks like a float
  ('1026454.4271112460') and a few visitors also have a ``user_id``;
* 3.4% of the visitors buy; a purchase is one event per item with the
  order's revenue repeated; 6% of the purchases have the transaction id
  '(not set)', and 7% are sent twice (a page reload) seconds apart;
* five months of history, so no yearly seasonality, and very few repeat
  buyers: the CLV and propensity models rest on a few dozen customers.

:func:`ga4_tables` draws the export (vectorised, seeded; sizes as arguments)
as the flattened GA4 rows (``flat``: one row per event and item) and the
product list, and :func:`write_ga4` converts it to the raw contract as one
user would (``variant``):

``careful``
    ISO-8601 UTC timestamps, every GA4 event name kept (named with
    :data:`VARS`' ``event_type_map``, which maps the unused ones to
    ``ignore``), ``session_id`` = ``user_pseudo_id`` joined with
    ``ga_session_id``, orders deduplicated on the transaction id with the
    '(not set)' purchases dropped, every visitor a customer (``signed_up_at``
    = the first event).
``clean_gasid``
    careful with the events filtered beforehand to the five names the
    default map knows, and GA4's ``ga_session_id`` as the session id, as
    exported (shared by visitors); built with the default vars.
``naive``
    GA4's fields as they are: ``occurred_at`` = ``event_timestamp`` (integer
    microseconds), every event name, ``ga_session_id``, one order per
    purchase event (resends and '(not set)' included), ``customer_id`` =
    ``user_id`` or else ``user_pseudo_id``, customers only the buyers, an
    unrounded float ``order_total``; built with the default vars.

:func:`dbt_vars` gives the vars each variant's user passes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from shoplens.testing import write_csv_tables

VARIANTS = ("careful", "clean_gasid", "naive")
START = pd.Timestamp("2020-09-01")
END = pd.Timestamp("2021-01-31 23:59:59")

# the GA4 names the project reads (the default event_type_map knows view_item and begin_checkout)
MAPPABLE = ("page_view", "view_item", "add_to_cart", "begin_checkout", "purchase")
# GA4 names the project has no use for; every one of them is in the export
UNUSED_NAMES = ("session_start", "first_visit", "user_engagement", "scroll", "view_item_list",
                "select_item", "view_promotion", "select_promotion", "add_shipping_info",
                "add_payment_info", "view_search_results", "click")
EVENT_TYPE_MAP = {"view_item": "product_view", "begin_checkout": "checkout",
                  **{name: "ignore" for name in UNUSED_NAMES}}
VARS = {"event_type_map": EVENT_TYPE_MAP}

CATEGORIES = {"Apparel": 30, "Bags": 8, "Drinkware": 10, "Office": 12, "Lifestyle": 10,
              "Stationery": 6, "Electronics Accessories": 5, "Accessories": 9, "": 6,
              "(not set)": 4}
LOGGED_IN_SHARE = 0.03  # visitors with a user_id
BUYER_SHARE = {True: 0.35, False: 0.025}  # logged in or not
NOT_SET_SHARE = 0.06  # purchases with transaction id '(not set)'
RESEND_SHARE = 0.07  # purchases sent twice
SHARED_SESSION_PAIRS = 20  # visitors whose first ga_session_id another visitor also uses
# what one page action is: cumulative probability and the event(s) it sends
PAGE_ACTIONS = [(0.35, "page_view"), (0.50, "user_engagement"), (0.60, "scroll"),
                (0.70, "view_item_list"), (0.85, "select_item"), (0.90, "view_promotion"),
                (0.95, "view_search_results"), (1.00, "click")]
FLAT_COLUMNS = ["event_timestamp", "user_pseudo_id", "user_id", "ga_session_id", "event_name",
                "item_id", "transaction_id", "quantity", "price", "purchase_revenue"]
US = 1_000_000  # microseconds a second


def dbt_vars(variant: str) -> dict:
    """The dbt vars the user of ``variant`` passes: :data:`VARS` for careful, none else."""
    if variant not in VARIANTS:
        raise ValueError(f"variant {variant!r} is none of {', '.join(VARIANTS)}")
    return dict(VARS) if variant == "careful" else {}


def _products(rng: np.random.Generator, n_products: int) -> pd.DataFrame:
    """Item ids 'GGOE' + 4 letters + 6 digits; mostly whole-dollar prices, 30% at .99; a
    tenth without a category or '(not set)'; Dirichlet popularity (a few best sellers)."""
    letters = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
    ids: list[str] = []
    while len(ids) < n_products:
        n = n_products - len(ids)
        word = np.char.add(np.char.add(rng.choice(letters, n), rng.choice(letters, n)),
                           np.char.add(rng.choice(letters, n), rng.choice(letters, n)))
        digits = np.char.zfill(rng.integers(0, 999999, n).astype(str), 6)
        ids = list(dict.fromkeys(ids + list(np.char.add(np.char.add("GGOE", word), digits))))
    shares = np.array(list(CATEGORIES.values()), float)
    category = rng.choice(list(CATEGORIES), n_products, p=shares / shares.sum())
    price = np.round(np.exp(rng.normal(2.7, 0.7, n_products)), 0)
    price = np.round(np.where(rng.random(n_products) < 0.3, price - 0.01, price).clip(0.99), 2)
    names = [f"Google {c or 'Item'} #{i}" for i, c in enumerate(category)]
    return pd.DataFrame({"item_id": ids[:n_products], "item_name": names,
                         "item_category": category, "price": price,
                         "popularity": rng.dirichlet(np.full(n_products, 0.3))})


def _users(rng: np.random.Generator, n_users: int) -> pd.DataFrame:
    """Pseudo ids '<7-10 digits>.<10 digits>', a user_id for 3%, the first visit, planned
    sessions (geometric, 10% with 1-7 more, at most 30) and who buys."""
    ids: list[str] = []
    while len(ids) < n_users:
        n = n_users - len(ids) + 50
        whole = rng.integers(10**6, 2 * 10**9, n).astype(str)
        fraction = np.char.zfill(rng.integers(0, 10**10, n).astype(str), 10)
        ids = list(dict.fromkeys(ids + list(np.char.add(np.char.add(whole, "."), fraction))))
    logged = rng.random(n_users) < LOGGED_IN_SHARE
    user_id = np.where(logged, rng.integers(10**8, 10**9, n_users).astype(str), None)
    span = int((END - START).total_seconds())
    sessions = rng.geometric(0.55, n_users)
    sessions = np.minimum(sessions + (rng.random(n_users) < 0.1) * rng.integers(1, 8, n_users),
                          30)
    return pd.DataFrame({
        "user_pseudo_id": ids[:n_users], "user_id": user_id,
        "first_seen_us": (START.value // 1000 + rng.integers(0, span - 3600, n_users) * US),
        "n_sessions": sessions,
        "buyer": rng.random(n_users) < np.where(logged, BUYER_SHARE[True], BUYER_SHARE[False]),
    })


def _seconds_us(rng: np.random.Generator, mean_seconds: float, n: int) -> np.ndarray:
    """Exponential waits in microseconds (at least 1)."""
    return (rng.exponential(mean_seconds, n) * US).astype("int64") + 1


def _events(rng: np.random.Generator, users: pd.DataFrame,
            products: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every planned session's events with their offset from the session's start
    (``offset``), and the sessions (user, number, start in µs). A session: session_start
    (first_visit in the first), a page_view, 1-11 page actions 40 s apart on average, the
    viewed products carted (12% of the sessions, every buying one), a checkout (30% of the
    carts), the purchase in 1-3 sessions of a buyer, a last user_engagement."""
    n_sessions = users["n_sessions"].to_numpy()
    user = np.repeat(np.arange(len(users)), n_sessions)
    sessions = pd.DataFrame({"user": user})
    sessions["number"] = sessions.groupby("user").cumcount()
    n = len(sessions)
    # the buying sessions: 1-3 (25% two, 8% three) drawn among a buyer's planned sessions
    k = 1 + (rng.random(len(users)) < 0.25) + (rng.random(len(users)) < 0.08)
    rank = pd.Series(rng.random(n)).groupby(user).rank(method="first").to_numpy() - 1
    buy = users["buyer"].to_numpy()[user] & (rank < k[user])
    popularity = products["popularity"].to_numpy()
    sid = np.arange(n)
    parts = [pd.DataFrame({"session": sid, "offset": 0, "event_name": "session_start"}),
             pd.DataFrame({"session": sid[sessions["number"] == 0], "offset": 0,
                           "event_name": "first_visit"}),
             pd.DataFrame({"session": sid, "offset": 0, "event_name": "page_view"})]
    # page actions
    n_pages = rng.integers(1, 12, n)
    page = pd.DataFrame({"session": np.repeat(sid, n_pages)})
    page["offset"] = pd.Series(_seconds_us(rng, 40, len(page))).groupby(page["session"]).cumsum()
    cut = np.searchsorted([p for p, _ in PAGE_ACTIONS], rng.random(len(page)), side="right")
    page["event_name"] = np.array([name for _, name in PAGE_ACTIONS])[np.minimum(cut, 7)]
    page["item"] = -1
    selected = page["event_name"] == "select_item"
    page.loc[selected, "item"] = rng.choice(len(products), selected.sum(), p=popularity)
    promo = page[(page["event_name"] == "view_promotion")]
    promo = promo[rng.random(len(promo)) < 0.2].assign(event_name="select_promotion")
    parts += [page, page[selected].assign(event_name="view_item"), promo]
    pages_end = page.groupby("session")["offset"].max().reindex(sid).to_numpy()
    # carts: every product viewed in the session, one add_to_cart each
    viewed = page.loc[selected, ["session", "item"]].drop_duplicates()
    cart_roll = rng.random(n) < 0.12
    cart = viewed[(cart_roll | buy)[viewed["session"].to_numpy()]].copy()
    cart["offset"] = (pages_end[cart["session"].to_numpy()]
                      + pd.Series(_seconds_us(rng, 20, len(cart)), index=cart.index)
                      .groupby(cart["session"]).cumsum())
    cart["event_name"] = "add_to_cart"
    # a buying session without a viewed product views and carts a best seller
    bare = np.flatnonzero(buy & ~np.isin(sid, viewed["session"]))
    item = rng.choice(len(products), len(bare), p=popularity)
    quick = pd.DataFrame({"session": np.tile(bare, 2), "item": np.tile(item, 2),
                          "offset": np.concatenate([pages_end[bare] + 1000,
                                                    pages_end[bare] + 2000]),
                          "event_name": ["view_item"] * len(bare) + ["add_to_cart"] * len(bare)})
    carted = pd.concat([cart, quick[quick["event_name"] == "add_to_cart"]])
    parts += [cart, quick]
    has_cart = np.isin(sid, carted["session"])
    stage_end = pages_end.copy()
    stage_end[carted["session"].to_numpy()] = np.maximum(
        stage_end[carted["session"].to_numpy()], carted["offset"].to_numpy())
    # checkout: 30% of the carts and every buying session; shipping and payment info in 80%
    checkout = has_cart & ((rng.random(n) < 0.3) | buy)
    info = checkout & ((rng.random(n) < 0.8) | buy)
    for name, pick in (("begin_checkout", checkout), ("add_shipping_info", info),
                       ("add_payment_info", info)):
        stage_end[pick] += _seconds_us(rng, 30, n)[pick]
        parts.append(pd.DataFrame({"session": sid[pick], "offset": stage_end[pick],
                                   "event_name": name}))
    # the purchase: one event per carted product, the order's revenue on each
    stage_end[buy] += _seconds_us(rng, 30, n)[buy]
    tid = np.where(rng.random(n) < NOT_SET_SHARE, "(not set)",
                   rng.integers(10**5, 10**6, n).astype(str))
    lines = carted[buy[carted["session"].to_numpy()]][["session", "item"]].copy()
    lines["quantity"] = rng.choice([1, 1, 1, 2, 3], len(lines))
    lines["price"] = products["price"].to_numpy()[lines["item"]]
    revenue = (lines["quantity"] * lines["price"]).groupby(lines["session"]).sum()
    lines["purchase_revenue"] = lines["session"].map(revenue)
    lines["transaction_id"] = tid[lines["session"]]
    lines["offset"] = stage_end[lines["session"]]
    lines["event_name"] = "purchase"
    resend = buy & (tid != "(not set)") & (rng.random(n) < RESEND_SHARE)
    again = stage_end + rng.integers(1, 90, n) * US
    stage_end[resend] = again[resend]
    parts += [lines, lines[resend[lines["session"]]].assign(
        offset=lambda d: again[d["session"]])]
    end = stage_end + (rng.exponential(60, n) * US).astype("int64")
    parts.append(pd.DataFrame({"session": sid, "offset": end, "event_name": "user_engagement"}))
    events = pd.concat(parts, ignore_index=True)
    # sessions follow each other: the next starts 30 minutes plus 12 days on average after
    gap = end + (rng.exponential(12, n) * 86400 * US).astype("int64") + 1800 * US
    before = pd.Series(gap).groupby(user).cumsum().to_numpy() - gap
    sessions["start_us"] = users["first_seen_us"].to_numpy()[user] + before
    return events, sessions


def ga4_tables(n_users: int = 8000, n_products: int = 320,
               seed: int = 20201204) -> dict[str, pd.DataFrame]:
    """The export: ``flat`` (GA4's fields, one row per event and item, in time order:
    event_timestamp in µs, user_pseudo_id, user_id, ga_session_id, event_name, item_id,
    transaction_id, quantity, price, purchase_revenue) and ``products`` (item_id,
    item_name, item_category, price, popularity). Sessions that would start after
    2021-01-31 and events after it are not in the export."""
    if n_users < 2 * SHARED_SESSION_PAIRS + 10 or n_products < 10:
        raise ValueError(f"ga4_tables needs n_users >= {2 * SHARED_SESSION_PAIRS + 10} "
                         "and n_products >= 10")
    rng = np.random.default_rng(seed)
    products = _products(rng, n_products)
    users = _users(rng, n_users)
    events, sessions = _events(rng, users, products)
    end_us = END.value // 1000
    start = sessions["start_us"].to_numpy()
    events["event_timestamp"] = start[events["session"]] + events["offset"].to_numpy()
    events = events[(start[events["session"]] <= end_us) & (events["event_timestamp"] <= end_us)]
    user = sessions["user"].to_numpy()[events["session"]]
    item = events["item"].fillna(-1).astype(int).to_numpy()
    flat = pd.DataFrame({
        "event_timestamp": events["event_timestamp"].to_numpy(),
        "user_pseudo_id": users["user_pseudo_id"].to_numpy()[user],
        "user_id": users["user_id"].to_numpy()[user],
        "ga_session_id": start[events["session"]] // US,
        "event_name": events["event_name"].to_numpy(),
        "item_id": np.where(item >= 0, products["item_id"].to_numpy()[np.maximum(item, 0)], None),
        "transaction_id": events["transaction_id"].to_numpy(),
        "quantity": events["quantity"].to_numpy(),
        "price": events["price"].to_numpy(),
        "purchase_revenue": events["purchase_revenue"].to_numpy(),
        "order": np.arange(len(events)),
    })
    flat = flat.sort_values(["event_timestamp", "user_pseudo_id", "order"], kind="stable")
    flat = _share_session_ids(rng, flat.drop(columns="order").reset_index(drop=True))
    return {"flat": flat, "products": products}


def _share_session_ids(rng: np.random.Generator, flat: pd.DataFrame) -> pd.DataFrame:
    """Give the first session of 20 visitors the ga_session_id of another visitor's first
    session (epoch seconds: two visitors starting in the same second share it)."""
    firsts = flat[flat["event_name"] == "session_start"].drop_duplicates("user_pseudo_id")
    pick = firsts.iloc[rng.choice(len(firsts), 2 * SHARED_SESSION_PAIRS, replace=False)]
    keep, take = pick.iloc[:SHARED_SESSION_PAIRS], pick.iloc[SHARED_SESSION_PAIRS:]
    for (_, a), (_, b) in zip(keep.iterrows(), take.iterrows(), strict=True):
        own = (flat["user_pseudo_id"] == b["user_pseudo_id"]) & (
            flat["ga_session_id"] == b["ga_session_id"])
        flat.loc[own, "ga_session_id"] = a["ga_session_id"]
    return flat


def _iso(us: pd.Series, fraction: bool = True) -> pd.Series:
    """Microseconds since 1970 as ISO-8601 UTC text with 'Z'."""
    return pd.to_datetime(us, unit="us").dt.strftime(
        "%Y-%m-%dT%H:%M:%S.%fZ" if fraction else "%Y-%m-%dT%H:%M:%SZ")


def raw_contract_tables(tables: dict[str, pd.DataFrame],
                        variant: str = "careful") -> dict[str, pd.DataFrame]:
    """``tables`` converted to the raw contract's orders, order_items, products, customers
    and events as ``variant`` does (module docstring), before writing."""
    dbt_vars(variant)  # checks the name
    flat = tables["flat"]
    # one event row per GA4 event: a purchase's items share one (timestamp, visitor, name)
    events = flat.drop_duplicates(["event_timestamp", "user_pseudo_id", "event_name"])
    purchases = flat[flat["event_name"] == "purchase"]
    products = tables["products"].rename(columns={
        "item_id": "product_id", "item_category": "category", "item_name": "product_name",
        "price": "list_price"}).drop(columns="popularity")
    if variant == "naive":
        return _naive(events, purchases, products)
    out_events = pd.DataFrame({
        "event_id": np.arange(1, len(events) + 1),
        "occurred_at": _iso(events["event_timestamp"]).to_numpy(),
        "event_type": events["event_name"].to_numpy(),
        "customer_id": events["user_pseudo_id"].to_numpy(),
        "session_id": (events["user_pseudo_id"] + "-"
                       + events["ga_session_id"].astype(str)).to_numpy(),
        "product_id": events["item_id"].to_numpy(),
    })
    if variant == "clean_gasid":
        out_events["session_id"] = events["ga_session_id"].to_numpy()
        out_events = out_events[out_events["event_type"].isin(MAPPABLE)]
    # orders: each transaction once, its lines from the first time it was sent
    sent = purchases[purchases["transaction_id"] != "(not set)"]
    sent = sent.drop_duplicates(["transaction_id", "item_id"])  # in time order: the first send
    first = sent.groupby("transaction_id")["event_timestamp"].transform("min")
    sent = sent[sent["event_timestamp"] == first]
    heads = sent.drop_duplicates("transaction_id")
    orders = pd.DataFrame({"order_id": heads["transaction_id"],
                           "customer_id": heads["user_pseudo_id"],
                           "ordered_at": _iso(heads["event_timestamp"]),
                           "order_total": heads["purchase_revenue"].astype(float).round(2),
                           "currency": "USD"})
    items = pd.DataFrame({"order_id": sent["transaction_id"], "product_id": sent["item_id"],
                          "quantity": sent["quantity"].astype(int),
                          "unit_price": sent["price"].astype(float)})
    first_seen = flat.groupby("user_pseudo_id")["event_timestamp"].min()
    customers = pd.DataFrame({"customer_id": first_seen.index,
                              "signed_up_at": _iso(pd.Series(first_seen.to_numpy()),
                                                   fraction=False).to_numpy()})
    return {"orders": orders, "order_items": items, "products": products,
            "customers": customers, "events": out_events}


def _naive(events: pd.DataFrame, purchases: pd.DataFrame,
           products: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """GA4's fields as they are; an order per purchase event; customers only the buyers."""
    def customer(frame: pd.DataFrame) -> np.ndarray:
        return np.where(frame["user_id"].notna(), frame["user_id"], frame["user_pseudo_id"])

    out_events = pd.DataFrame({
        "event_id": np.arange(1, len(events) + 1),
        "event_date": pd.to_datetime(events["event_timestamp"], unit="us")
        .dt.strftime("%Y%m%d").to_numpy(),
        "occurred_at": events["event_timestamp"].to_numpy(),
        "event_type": events["event_name"].to_numpy(),
        "customer_id": customer(events),
        "session_id": events["ga_session_id"].to_numpy(),
        "product_id": events["item_id"].to_numpy(),
    })
    key = ["event_timestamp", "user_pseudo_id"]
    amount = (purchases["quantity"].astype(float) * purchases["price"].astype(float))
    total = amount.groupby([purchases[k] for k in key]).sum()
    heads = purchases.drop_duplicates(key)
    orders = pd.DataFrame({"order_id": heads["transaction_id"].to_numpy(),
                           "customer_id": customer(heads),
                           "ordered_at": _iso(heads["event_timestamp"]).to_numpy(),
                           "order_total": total.reindex(
                               pd.MultiIndex.from_frame(heads[key])).to_numpy()})
    items = pd.DataFrame({"order_id": purchases["transaction_id"],
                          "product_id": purchases["item_id"],
                          "quantity": purchases["quantity"].astype(int),
                          "unit_price": purchases["price"].astype(float)})
    customers = pd.DataFrame({"customer_id": pd.unique(orders["customer_id"])})
    return {"orders": orders, "order_items": items, "products": products,
            "customers": customers, "events": out_events}


def write_ga4(tables: dict[str, pd.DataFrame], folder: str | Path,
              variant: str = "careful") -> Path:
    """Write ``tables`` (:func:`ga4_tables`) into ``folder`` as converted by ``variant``
    (module docstring): ``orders``, ``order_items``, ``products``, ``customers`` and
    ``events`` CSV. Returns the folder. Build it with :func:`dbt_vars` (``variant``)."""
    return write_csv_tables(raw_contract_tables(tables, variant), folder)
