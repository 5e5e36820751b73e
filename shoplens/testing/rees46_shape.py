"""An export shaped like REES46's "eCommerce behavior data from multi category store", in shoplens' raw contract.

REES46 publishes the event log of a large multi-category online store, one
file a month (2019-Oct.csv ... 2020-Apr.csv), one row per event with the
columns ``event_time`` ('2019-10-01 00:00:07 UTC'), ``event_type`` (view,
cart, remove_from_cart, purchase), ``product_id``, ``category_id`` (19
digits), ``category_code`` (dotted, 'electronics.smartphone'), ``brand``,
``price``, ``user_id`` and ``user_session`` (a UUID). The shape here is
6,000 visitors over the seven months by default. What makes it hard, reproduced
here:

* no orders file: a purchase is one ``purchase`` event per product bought,
  a basket is several of them in one session (the same product bought twice
  is two rows, sometimes with the same second), and nothing gives an event or
  order id;
* rows repeated verbatim (0.5%), which ids of one's own making would turn
  into second events and extra purchases;
* nine events in ten are views; few visitors buy, most in one session;
  traffic up in the second half of November, down in early January;
* a third of the categories without a ``category_code`` and 40% of the
  products without a ``brand``; prices up 3% from February 2020 (a product
  at two prices); 1% of the products at price 0.0; a few events without a
  ``user_session``.

:func:`rees46_tables` draws the export (vectorised, seeded; sizes as
arguments) as ``events``, the rows as the public CSV holds them.
:func:`raw_contract_tables` converts it as a careful user does after
README.md "Bring your own data": verbatim repeats dropped first; one order
per ``user_session`` and ``user_id`` (``order_id`` '<user_session>:<user_id>';
the purchases without a session one order per user and day), ``ordered_at``
its first purchase event, ``order_total`` the prices summed and rounded to
cents; one line per order and product with ``quantity`` its purchase events;
every event with an ``event_id`` of its own (the row number) and ISO-8601
UTC timestamps; every ``user_id`` in ``customers``; ``category_code`` as
``category`` (empty: uncategorised). :func:`write_rees46` writes it and
returns the vars the careful user passes (:data:`VARS`: ``event_type_map``
for the file's event names and an ``as_of_date`` leaving April 2020 as the
holdout).
"""

from __future__ import annotations

import uuid
from pathlib import Path

import numpy as np
import pandas as pd

from shoplens.testing import write_csv_tables

START = pd.Timestamp("2019-10-01")
END = pd.Timestamp("2020-05-01")  # exclusive
PRICE_RISE = pd.Timestamp("2020-02-01")  # prices 3% up from here
VARS = {
    "as_of_date": "2020-03-31",
    "event_type_map": {"view": "product_view", "cart": "add_to_cart",
                       "remove_from_cart": "ignore"},
}
CODES = [
    "electronics.smartphone", "electronics.audio.headphone", "electronics.video.tv",
    "electronics.clocks", "electronics.tablet", "computers.notebook", "computers.desktop",
    "computers.peripherals.printer", "appliances.kitchen.washer",
    "appliances.kitchen.refrigerators", "appliances.environment.vacuum",
    "appliances.kitchen.blender", "apparel.shoes", "apparel.shoes.keds",
    "furniture.living_room.sofa", "furniture.bedroom.bed", "kids.toys",
    "auto.accessories.player", "construction.tools.drill", "sport.bicycle", "accessories.bag",
    "country_yard.cultivator", "medicine.tools.tonometer", "stationery.cartrige",
]
BRANDS = ["samsung", "apple", "xiaomi", "huawei", "lucente", "bosch", "lg", "sony", "acer",
          "lenovo", "hp", "cordiant", "elenberg", "indesit", "respect", "casio", "pulser",
          "vitek", "philips", "redmond", "oppo", "artel"]
N_CATEGORIES = 120
NO_CODE_SHARE = 0.33
NO_BRAND_SHARE = 0.4
FREE_SHARE = 0.01  # products at price 0.0
NO_SESSION_SHARE = 0.0005
REPEATED_ROW_SHARE = 0.005
TWICE_SHARE = 0.07  # a product bought twice in one purchase (two rows)
COLUMNS = ["event_time", "event_type", "product_id", "category_id", "category_code", "brand",
           "price", "user_id", "user_session"]


def _products(rng: np.random.Generator, n_products: int) -> pd.DataFrame:
    """Products in 120 categories (19-digit ids, a third without a code): a log-normal
    price around the category's, an empty brand for 40%, Pareto popularity."""
    category_id = rng.integers(2053013552226107603, 2232732116498514828, N_CATEGORIES,
                               dtype=np.int64)
    code = np.where(rng.random(N_CATEGORIES) < NO_CODE_SHARE, "",
                    np.array(CODES)[np.arange(N_CATEGORIES) % len(CODES)])
    base = np.exp(rng.normal(4.5, 1.1, N_CATEGORIES))
    category = rng.integers(0, N_CATEGORIES, n_products)
    half = n_products // 2
    ids = np.concatenate([rng.choice(np.arange(1000000, 1900000), half, replace=False),
                          rng.choice(np.arange(100000000, 100200000), n_products - half,
                                     replace=False)])
    price = np.round(base[category] * np.exp(rng.normal(0, 0.5, n_products)), 2)
    price[rng.random(n_products) < FREE_SHARE] = 0.0
    popularity = rng.pareto(1.2, n_products) + 0.05
    return pd.DataFrame({
        "product_id": ids, "category_id": category_id[category], "category_code": code[category],
        "brand": np.where(rng.random(n_products) < NO_BRAND_SHARE, "",
                          rng.choice(BRANDS, n_products)),
        "price": price, "popularity": popularity / popularity.sum(),
    })


def _sessions(rng: np.random.Generator, n_users: int) -> pd.DataFrame:
    """Sessions: each visitor arrives on a day weighted by the season (Black Friday
    weeks 1.8, early January 0.7), comes back 1 + NB(1, 0.35) times about 20 days
    apart, and buys in a session with a beta(0.25, 6)-distributed rate times 3."""
    n_days = (END - START).days
    dates = START + pd.to_timedelta(np.arange(n_days), unit="D")
    w = np.ones(n_days)
    w[(dates >= "2019-11-15") & (dates <= "2019-11-30")] *= 1.8
    w[(dates >= "2020-01-01") & (dates <= "2020-01-15")] *= 0.7
    user_ids = rng.choice(np.arange(410000000, 620000000), n_users, replace=False)
    first_day = rng.choice(n_days, n_users, p=w / w.sum()).astype(float)
    buyer = rng.beta(0.25, 6.0, n_users)
    n_sessions = 1 + rng.negative_binomial(1, 0.35, n_users)
    user = np.repeat(np.arange(n_users), n_sessions)
    gap = rng.exponential(20, len(user))
    gap[np.r_[0, np.cumsum(n_sessions)[:-1]]] = 0.0
    day = first_day[user] + pd.Series(gap).groupby(user).cumsum().to_numpy()
    keep = day < n_days
    user, day = user[keep], day[keep]
    n = len(user)
    session_id = np.array([str(uuid.UUID(bytes=rng.bytes(16), version=4)) for _ in range(n)],
                          dtype=object)
    session_id[rng.random(n) < NO_SESSION_SHARE] = ""
    return pd.DataFrame({
        "user": user, "user_id": user_ids[user], "user_session": session_id,
        "start": np.floor(day * 86400 + rng.uniform(0, 86400, n)),
        "buyer": buyer[user], "buys": rng.random(n) < buyer[user] * 3,
    })


def _browsing(rng: np.random.Generator, sessions: pd.DataFrame,
              products: pd.DataFrame) -> pd.DataFrame:
    """Views (1 + geometric(0.18) a session, about 45 s apart), a cart after a view at
    rate 0.06 + the visitor's buyer rate, a remove 5 s after 15% of the carts."""
    n_views = 1 + rng.geometric(0.18, len(sessions))
    s = np.repeat(np.arange(len(sessions)), n_views)
    step = np.floor(rng.exponential(45, len(s))) + 1
    t = sessions["start"].to_numpy()[s] + pd.Series(step).groupby(s).cumsum().to_numpy()
    product = rng.choice(len(products), len(s), p=products["popularity"].to_numpy())
    views = pd.DataFrame({"s": s, "t": t, "event_type": "view", "product": product})
    carted = rng.random(len(s)) < 0.06 + sessions["buyer"].to_numpy()[s]
    carts = views[carted].assign(event_type="cart")
    carts["t"] += np.floor(rng.exponential(20, len(carts))) + 1
    removes = carts[rng.random(len(carts)) < 0.15].assign(event_type="remove_from_cart")
    removes["t"] += 5
    return pd.concat([views, carts, removes], ignore_index=True)


def _purchases(rng: np.random.Generator, sessions: pd.DataFrame,
               browsing: pd.DataFrame) -> pd.DataFrame:
    """Purchases of the buying sessions, 2 minutes or so after their last event: the
    first 1 + binomial(2, 0.2) carted products (the first view without a cart), 7% of
    them bought twice (two rows, half of them in the same second)."""
    buying = np.flatnonzero(sessions["buys"].to_numpy())
    last = browsing.groupby("s")["t"].max().reindex(buying).to_numpy()
    at = pd.Series(last + np.floor(rng.exponential(120, len(buying))) + 10, index=buying)
    kind = browsing["event_type"]
    carts = browsing[(kind == "cart") & browsing["s"].isin(buying)]
    carts = carts.drop_duplicates(["s", "product"])
    k = pd.Series(1 + rng.binomial(2, 0.2, len(buying)), index=buying)
    carts = carts[carts.groupby("s").cumcount().to_numpy() < carts["s"].map(k).to_numpy()]
    no_cart = np.setdiff1d(buying, carts["s"])
    views = browsing[(kind == "view") & browsing["s"].isin(no_cart)].drop_duplicates("s")
    bought = pd.concat([carts, views], ignore_index=True)[["s", "product"]]
    bought["t"] = bought["s"].map(at).to_numpy()
    again = bought[rng.random(len(bought)) < TWICE_SHARE].copy()
    again["t"] += rng.integers(0, 2, len(again))
    return pd.concat([bought, again], ignore_index=True).assign(event_type="purchase")


def rees46_tables(n_users: int = 6000, n_products: int = 2000,
                  seed: int = 46) -> dict[str, pd.DataFrame]:
    """The export as ``events``: the public file's columns, ``event_time`` as its text
    ('2019-10-01 00:00:07 UTC'), empty ``category_code``, ``brand`` and
    ``user_session`` as empty strings, rows in time order, 0.5% repeated verbatim."""
    if n_users < 10 or n_products < 10:
        raise ValueError("rees46_tables needs n_users >= 10 and n_products >= 10")
    rng = np.random.default_rng(seed)
    products = _products(rng, n_products)
    sessions = _sessions(rng, n_users)
    browsing = _browsing(rng, sessions, products)
    rows = pd.concat([browsing, _purchases(rng, sessions, browsing)], ignore_index=True)
    at = START + pd.to_timedelta(rows["t"], unit="s")
    rows = rows[(at < END).to_numpy()].assign(at=at[at < END])
    product = products.iloc[rows["product"].to_numpy()].reset_index(drop=True)
    session = sessions.iloc[rows["s"].to_numpy()].reset_index(drop=True)
    price = product["price"].to_numpy()
    price = np.where(rows["at"].to_numpy() >= PRICE_RISE, np.round(price * 1.03, 2), price)
    events = pd.DataFrame({
        "at": rows["at"].to_numpy(), "event_type": rows["event_type"].to_numpy(),
        "product_id": product["product_id"], "category_id": product["category_id"],
        "category_code": product["category_code"], "brand": product["brand"], "price": price,
        "user_id": session["user_id"], "user_session": session["user_session"],
    })
    events = pd.concat([events, events.sample(frac=REPEATED_ROW_SHARE, random_state=rng)])
    events = events.sort_values("at", kind="stable", ignore_index=True)
    events["event_time"] = events["at"].dt.strftime("%Y-%m-%d %H:%M:%S UTC")
    return {"events": events[COLUMNS]}


def _iso(ts: pd.Series) -> pd.Series:
    return ts.dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def raw_contract_tables(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """``tables`` (:func:`rees46_tables`) converted as the careful user does (module
    docstring): orders, order_items, products, customers and events, before writing."""
    rows = tables["events"].drop_duplicates(ignore_index=True)
    at = pd.to_datetime(rows["event_time"], format="%Y-%m-%d %H:%M:%S UTC")
    bought = rows[rows["event_type"] == "purchase"].assign(at=at)
    session = bought["user_session"].where(bought["user_session"] != "",
                                           "nosession-" + bought["at"].dt.strftime("%Y%m%d"))
    bought = bought.assign(order_id=session + ":" + bought["user_id"].astype(str))
    heads = bought.groupby("order_id").agg(customer_id=("user_id", "first"),
                                           ordered_at=("at", "min"), order_total=("price", "sum"))
    orders = pd.DataFrame({
        "order_id": heads.index, "customer_id": heads["customer_id"].to_numpy(),
        "ordered_at": _iso(heads["ordered_at"]).to_numpy(),
        "order_total": heads["order_total"].round(2).to_numpy(),
        "status": "completed", "currency": "USD",
    })
    lines = bought.groupby(["order_id", "product_id"]).agg(
        quantity=("price", "size"), amount=("price", "sum")).reset_index()
    order_items = pd.DataFrame({
        "order_id": lines["order_id"], "product_id": lines["product_id"],
        "quantity": lines["quantity"],
        "unit_price": (lines["amount"] / lines["quantity"]).round(4),
    })
    latest = rows.drop_duplicates("product_id", keep="last")
    products = pd.DataFrame({
        "product_id": latest["product_id"], "category": latest["category_code"],
        "product_name": latest["brand"], "list_price": latest["price"],
    })
    customers = pd.DataFrame({"customer_id": rows["user_id"].drop_duplicates()})
    events = pd.DataFrame({
        "event_id": np.arange(1, len(rows) + 1), "occurred_at": _iso(at),
        "event_type": rows["event_type"], "customer_id": rows["user_id"],
        "session_id": rows["user_session"], "product_id": rows["product_id"],
    })
    return {"orders": orders, "order_items": order_items, "products": products,
            "customers": customers, "events": events}


def write_rees46(tables: dict[str, pd.DataFrame], folder: str | Path) -> dict:
    """Write the careful conversion of ``tables`` into ``folder`` (``orders``,
    ``order_items``, ``products``, ``customers``, ``events`` CSV) and return the vars
    the careful user builds with: ``raw_data_dir`` and :data:`VARS`."""
    folder = write_csv_tables(raw_contract_tables(tables), folder)
    return {"raw_data_dir": str(folder), **VARS}
