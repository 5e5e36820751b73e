"""An export shaped like the public Brazilian "Olist" e-commerce dataset, in shoplens' raw contract.

Olist publishes about 100,000 marketplace orders from 2016-09 to 2018-10 as
separate tables (orders, customers, order items, products). The shape here is
about a quarter of it (24,891 orders by default). What makes it hard for the
models, reproduced here:

* almost everyone buys once (3.4% of the persons buy again), so the repeat
  purchase models have little to learn from; a person has a new
  ``customer_id`` with every order and one ``customer_unique_id``;
* a thin start (4 orders in 2016-09, 81 in 2016-10, none in 2016-11, 1 in
  2016-12) and a truncated end: volume stops on 2018-08-29, then 16 orders in
  September and 4 in October 2018, mostly ``canceled``: the last order of any
  status is weeks after the last real day of sales; a Black Friday three
  times a normal November day;
* eight order statuses of Olist's own (delivered, shipped, canceled,
  unavailable, invoiced, processing, created, approved), none of them the
  project's; ``unavailable`` and most ``canceled`` orders have no items;
* one order-items row per unit (``order_item_id`` 1, 2, 3 ...), the same
  product sometimes twice in an order, a freight value per line; 8,200
  products over 73 Portuguese category names with underscores, about 2% with
  no category; a customers file with a row for every person, including those
  whose first order is after any ``as_of_date`` one picks.

:func:`olist_tables` draws the export (vectorised, seeded; sizes as
arguments) as Olist's own tables and :func:`write_olist` converts it to the
raw contract as one user would (``variant``):

``careful``
    ``customer_id`` = ``customer_unique_id``; one line per (order, product)
    with ``quantity`` = the unit rows; ``order_total`` = the sum of price and
    freight, rounded to cents (0.00 for an order without items); country 'BR';
    the statuses as exported (map them with :data:`VARS`).
``naive``
    ``customer_id`` = the per-order ``customer_id`` (every order a new
    customer), one order line per unit row (quantity 1, so the same
    (order, product) repeats), ``order_total`` an unrounded float sum,
    country 'Brazil'.
``offset``
    as careful, but ``ordered_at`` carries the Sao Paulo offset
    ('2017-11-24T21:10:00-03:00').
``comma``
    as careful, but written by a Brazilian spreadsheet: ';' delimiter and a
    decimal comma in the money columns.

:data:`VARS` are the dbt vars a careful user passes with any variant: the
``order_status_map`` that names Olist's statuses (:func:`dbt_vars`).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd

VARIANTS = ("careful", "naive", "offset", "comma")

# every Olist status named: delivered, shipped and the steps before shipping are purchases
ORDER_STATUS_MAP = {
    "delivered": "completed", "shipped": "completed", "invoiced": "completed",
    "processing": "completed", "approved": "completed", "created": "completed",
    "canceled": "cancelled", "unavailable": "cancelled",
}
VARS = {"order_status_map": ORDER_STATUS_MAP}

# orders per month in the public file divided by about 4; the thin ends kept close to the real counts
MONTHLY = {
    "2016-09": 4, "2016-10": 81, "2016-11": 0, "2016-12": 1,
    "2017-01": 200, "2017-02": 445, "2017-03": 670, "2017-04": 600, "2017-05": 925,
    "2017-06": 811, "2017-07": 1006, "2017-08": 1083, "2017-09": 1071, "2017-10": 1158,
    "2017-11": 1886, "2017-12": 1418, "2018-01": 1817, "2018-02": 1682, "2018-03": 1803,
    "2018-04": 1735, "2018-05": 1718, "2018-06": 1542, "2018-07": 1573, "2018-08": 1628,
    "2018-09": 16, "2018-10": 4,
}
THIN_MONTHS = ("2016-09", "2016-10", "2016-11", "2016-12", "2018-09", "2018-10")
LAST_DAY = {"2018-08": "2018-08-29", "2018-10": "2018-10-17"}  # deliveries stop on 29 August
BLACK_FRIDAY = pd.Timestamp("2017-11-24")
STATUSES = {"delivered": 0.9702, "shipped": 0.0111, "canceled": 0.0063, "unavailable": 0.0061,
            "invoiced": 0.0032, "processing": 0.0030, "created": 0.00005, "approved": 0.00002}
REPEAT_ORDER_SHARE = 0.034  # orders by a person who bought before
STATES = {"SP": 0.42, "RJ": 0.13, "MG": 0.117, "RS": 0.055, "PR": 0.05, "SC": 0.036, "BA": 0.034,
          "DF": 0.022, "ES": 0.02, "GO": 0.02, "PE": 0.017, "CE": 0.013}
CITIES = {"SP": "sao paulo", "RJ": "rio de janeiro", "MG": "belo horizonte", "RS": "porto alegre",
          "PR": "curitiba", "SC": "florianopolis", "BA": "salvador", "DF": "brasilia",
          "ES": "vitoria", "GO": "goiania", "PE": "recife", "CE": "fortaleza"}
CATEGORIES = [
    "cama_mesa_banho", "beleza_saude", "esporte_lazer", "moveis_decoracao",
    "informatica_acessorios", "utilidades_domesticas", "relogios_presentes", "telefonia",
    "ferramentas_jardim", "automotivo", "brinquedos", "cool_stuff", "perfumaria", "bebes",
    "eletronicos", "papelaria", "fashion_bolsas_e_acessorios", "pet_shop", "moveis_escritorio",
    "consoles_games", "malas_acessorios", "construcao_ferramentas_construcao", "eletrodomesticos",
    "instrumentos_musicais", "eletroportateis", "casa_construcao", "livros_interesse_geral",
    "alimentos", "moveis_sala", "casa_conforto", "bebidas", "audio", "market_place",
    "construcao_ferramentas_iluminacao", "climatizacao",
    "moveis_cozinha_area_de_servico_jantar_e_jardim", "alimentos_bebidas",
    "industria_comercio_e_negocios", "livros_tecnicos", "telefonia_fixa", "fashion_calcados",
    "eletrodomesticos_2", "construcao_ferramentas_jardim", "agro_industria_e_comercio", "artes",
    "pcs", "sinalizacao_e_seguranca", "construcao_ferramentas_seguranca", "artigos_de_natal",
    "fashion_roupa_masculina", "moveis_colchao_e_estofado", "artes_e_artesanato",
    "fashion_underwear_e_moda_praia", "dvds_blu_ray", "musica", "fraldas_higiene",
    "seguros_e_servicos", "portateis_cozinha_e_preparadores_de_alimentos", "pc_gamer",
    "cds_dvds_musicais", "la_cuisine", "fashion_esporte", "flores", "casa_conforto_2",
    "portateis_casa_forno_e_cafe", "tablets_impressao_imagem", "fashion_roupa_feminina",
    "fashion_roupa_infanto_juvenil", "livros_importados", "moveis_quarto", "artigos_de_festas",
    "cine_foto", "construcao_ferramentas_ferramentas",
]
NO_CATEGORY_SHARE = 610 / 32951  # products without a category name in the public file
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def dbt_vars(variant: str) -> dict:
    """The dbt vars the user of ``variant`` passes: :data:`VARS`, whatever the conversion."""
    if variant not in VARIANTS:
        raise ValueError(f"variant {variant!r} is none of {', '.join(VARIANTS)}")
    return dict(VARS)


def _hex_ids(prefix: str, n: int, seed: int) -> np.ndarray:
    """Olist's 32-hex-digit ids: an md5 of the prefix, the seed and the row number."""
    return np.array([hashlib.md5(f"{prefix}-{seed}-{i}".encode()).hexdigest() for i in range(n)])


def _month_counts(n_orders: int) -> dict[str, int]:
    """Orders per month for ``n_orders``: the busy months scaled, the thin ends as they are."""
    busy = {m: n for m, n in MONTHLY.items() if m not in THIN_MONTHS}
    thin = sum(n for m, n in MONTHLY.items() if m in THIN_MONTHS)
    scale = max(n_orders - thin, 0) / sum(busy.values())
    return {m: (n if m in THIN_MONTHS else int(round(n * scale))) for m, n in MONTHLY.items()}


def _order_times(rng: np.random.Generator, n_orders: int) -> pd.Series:
    """Purchase timestamps, sorted: each month's orders spread over its days (weekends at
    0.75), Black Friday 3 and the day after 1.6 times a normal day, then topped up to three
    times the November daily mean."""
    parts = []
    for month, n in _month_counts(n_orders).items():
        if n == 0:
            continue
        start = pd.Timestamp(month + "-01")
        end = pd.Timestamp(LAST_DAY[month]) if month in LAST_DAY else (
            start + pd.offsets.MonthEnd(0))
        days = pd.date_range(start, end, freq="D")
        w = np.where(days.dayofweek >= 5, 0.75, 1.0)
        w[days == BLACK_FRIDAY] = 3.0
        w[days == BLACK_FRIDAY + pd.Timedelta(days=1)] = 1.6
        parts.append(rng.choice(days, n, p=w / w.sum())
                     + pd.to_timedelta(rng.integers(0, 86400, n), unit="s"))
    ts = pd.Series(np.concatenate(parts))
    november = _month_counts(n_orders)["2017-11"] / 30
    extra = int(round(3 * november - (ts.dt.normalize() == BLACK_FRIDAY).sum()))
    if extra > 0:
        ts = pd.concat([ts, pd.Series(BLACK_FRIDAY + pd.to_timedelta(
            rng.integers(0, 86400, extra), unit="s"))])
    return ts.sort_values(ignore_index=True)


def _statuses(rng: np.random.Generator, ts: pd.Series) -> np.ndarray:
    """Olist's statuses: 97% delivered; the September-October 2018 tail mostly canceled, the
    first two weeks of 2016-09 all canceled; each rare status at least once."""
    n = len(ts)
    p = np.array(list(STATUSES.values()))
    status = rng.choice(list(STATUSES), n, p=p / p.sum()).astype(object)
    tail = (ts >= "2018-09-01").to_numpy()
    status[tail] = rng.choice(["canceled", "canceled", "canceled", "delivered", "shipped"],
                              tail.sum())
    status[(ts < "2016-09-15").to_numpy()] = "canceled"
    rare = np.flatnonzero(~tail & (ts >= "2017-01-01").to_numpy())
    for i, name in enumerate(["created", "approved", "created"]):
        status[rare[(i + 1) * len(rare) // 4]] = name
    return status


def _persons(rng: np.random.Generator, n_orders: int) -> np.ndarray:
    """The person of each order (orders in time order): 96.6% of the orders are a person's
    first, a repeat order goes to one of the 4,000 persons who started last before it."""
    n_persons = int(n_orders * (1 - REPEAT_ORDER_SHARE))
    firsts = np.sort(rng.choice(n_orders, n_persons, replace=False))
    person = np.full(n_orders, -1)
    person[firsts] = np.arange(n_persons)
    repeat = np.flatnonzero(person < 0)
    before = np.searchsorted(firsts, repeat)  # persons started before the repeat order
    low = np.maximum(before - 4000, 0)
    person[repeat] = np.where(before > 0, rng.integers(low, np.maximum(before, 1)), 0)
    return person


def _products(rng: np.random.Generator, n_products: int, seed: int) -> pd.DataFrame:
    weights = 1.0 / np.arange(1, len(CATEGORIES) + 1) ** 1.1
    category = rng.choice(CATEGORIES, n_products, p=weights / weights.sum()).astype(object)
    category[rng.random(n_products) < NO_CATEGORY_SHARE] = None
    return pd.DataFrame({
        "product_id": _hex_ids("product", n_products, seed),
        "product_category_name": category,
        "product_name_lenght": rng.integers(5, 76, n_products),  # sic, as Olist spells it
        "product_description_lenght": rng.integers(4, 3992, n_products),
        "product_photos_qty": rng.integers(1, 8, n_products),
        "product_weight_g": rng.integers(50, 30000, n_products),
        "product_length_cm": rng.integers(7, 105, n_products),
        "product_height_cm": rng.integers(2, 105, n_products),
        "product_width_cm": rng.integers(6, 118, n_products),
    })


def _items(rng: np.random.Generator, orders: pd.DataFrame, n_products: int, n_sellers: int,
           ts: pd.Series, seed: int) -> pd.DataFrame:
    """One row per unit: 90% of the orders with items hold one product, the rest 2-3 (drawn
    with replacement, so a product can come twice); 93% of the lines one unit, else 2-5;
    Zipf-like popularity; a log-normal base price per product and a freight per line."""
    status = orders["order_status"].to_numpy()
    has_items = (status != "unavailable") & ~((status == "canceled") & (rng.random(len(orders)) < 0.7))
    which = np.flatnonzero(has_items)
    n_lines = np.where(rng.random(len(which)) < 0.9, 1, rng.integers(2, 4, len(which)))
    order_pos = np.repeat(which, n_lines)
    popularity = rng.permutation(1.0 / np.arange(1, n_products + 1) ** 0.9)
    product = rng.choice(n_products, len(order_pos), p=popularity / popularity.sum())
    units = np.where(rng.random(len(order_pos)) < 0.93, 1, rng.integers(2, 6, len(order_pos)))
    freight = np.round(np.exp(rng.normal(np.log(17), 0.5, len(order_pos))), 2)
    base_price = np.round(np.exp(rng.normal(np.log(75), 0.9, n_products)), 2).clip(0.85, 6700)
    row = np.repeat(np.arange(len(order_pos)), units)
    items = pd.DataFrame({"order_pos": order_pos[row], "product": product[row]})
    item_no = items.groupby("order_pos").cumcount().to_numpy() + 1
    product_ids = _hex_ids("product", n_products, seed)
    sellers = _hex_ids("seller", n_sellers, seed)
    limit = (ts.to_numpy()[items["order_pos"]] + np.timedelta64(6, "D"))
    return pd.DataFrame({
        "order_id": orders["order_id"].to_numpy()[items["order_pos"]],
        "order_item_id": item_no,
        "product_id": product_ids[items["product"]],
        "seller_id": sellers[items["product"].to_numpy() % n_sellers],
        "shipping_limit_date": pd.Series(limit).dt.strftime(TIME_FORMAT).to_numpy(),
        "price": base_price[items["product"]],
        "freight_value": freight[row],
    })


def olist_tables(n_orders: int = 24_877, n_products: int = 8200, n_sellers: int = 1500,
                 seed: int = 20161004) -> dict[str, pd.DataFrame]:
    """The export as Olist's own tables, all text as the public CSV files hold them:
    ``orders`` (order_id, customer_id, order_status, order_purchase_timestamp,
    order_approved_at, order_delivered_customer_date), ``customers`` (one row per
    order's customer_id, with customer_unique_id, zip prefix, city, state),
    ``order_items`` (one row per unit) and ``products``. ``n_orders`` counts the orders
    before the Black Friday top-up (the default gives the probe's 24,891 orders)."""
    if n_orders < 200 or n_products < 10 or n_sellers < 1:
        raise ValueError("olist_tables needs n_orders >= 200, n_products >= 10 and n_sellers >= 1")
    rng = np.random.default_rng(seed)
    ts = _order_times(rng, n_orders)
    n = len(ts)
    status = _statuses(rng, ts)
    person = _persons(rng, n)
    n_persons = person.max() + 1
    approved = ts + pd.to_timedelta(rng.integers(600, 86400, n), unit="s")
    delivered = approved + pd.to_timedelta(rng.integers(2, 25, n), unit="D")
    customer_ids = _hex_ids("cust", n, seed)  # a new id with every order
    orders = pd.DataFrame({
        "order_id": _hex_ids("order", n, seed), "customer_id": customer_ids,
        "order_status": status,
        "order_purchase_timestamp": ts.dt.strftime(TIME_FORMAT),
        "order_approved_at": approved.dt.strftime(TIME_FORMAT),
        "order_delivered_customer_date": delivered.dt.strftime(TIME_FORMAT),
    })
    orders.loc[status != "delivered", "order_delivered_customer_date"] = ""
    no_approval = np.isin(status, ["created", "canceled"]) & (rng.random(n) < 0.5)
    orders.loc[no_approval, "order_approved_at"] = ""
    shares = np.array(list(STATES.values()))
    state = rng.choice(list(STATES), n_persons, p=shares / shares.sum())
    zip_prefix = rng.integers(1000, 99990, n_persons)
    customers = pd.DataFrame({
        "customer_id": customer_ids,
        "customer_unique_id": _hex_ids("person", n_persons, seed)[person],
        "customer_zip_code_prefix": pd.Series(zip_prefix[person]).map("{:05d}".format),
        "customer_city": pd.Series(state[person]).map(CITIES),
        "customer_state": state[person],
    })
    products = _products(rng, n_products, seed)
    items = _items(rng, orders, n_products, n_sellers, ts, seed)
    return {"orders": orders, "customers": customers, "order_items": items,
            "products": products}


def raw_contract_tables(tables: dict[str, pd.DataFrame],
                        variant: str = "careful") -> dict[str, pd.DataFrame]:
    """``tables`` converted to the raw contract's orders, order_items, products and
    customers as ``variant`` does (module docstring), before writing."""
    if variant not in VARIANTS:
        raise ValueError(f"variant {variant!r} is none of {', '.join(VARIANTS)}")
    naive = variant == "naive"
    orders, customers, items = tables["orders"], tables["customers"], tables["order_items"]
    line = (items["price"] + items["freight_value"]).groupby(items["order_id"]).sum()
    total = orders["order_id"].map(line).fillna(0.0)
    person = dict(zip(customers["customer_id"], customers["customer_unique_id"], strict=True))
    out_orders = pd.DataFrame({
        "order_id": orders["order_id"],
        "customer_id": orders["customer_id"] if naive else orders["customer_id"].map(person),
        "ordered_at": orders["order_purchase_timestamp"],
        "order_total": total if naive else total.round(2),
        "status": orders["order_status"], "currency": "BRL",
    })
    if naive:
        out_items = pd.DataFrame({"order_id": items["order_id"], "product_id": items["product_id"],
                                  "quantity": 1, "unit_price": items["price"]})
        out_customers = pd.DataFrame({"customer_id": customers["customer_id"], "country": "Brazil"})
    else:
        out_items = (items.groupby(["order_id", "product_id"], sort=False)
                     .agg(quantity=("price", "size"), unit_price=("price", "first")).reset_index())
        persons = customers.drop_duplicates("customer_unique_id")
        out_customers = pd.DataFrame({"customer_id": persons["customer_unique_id"],
                                      "country": "BR"})
    if variant == "offset":
        out_orders["ordered_at"] = pd.to_datetime(out_orders["ordered_at"]).dt.strftime(
            "%Y-%m-%dT%H:%M:%S-03:00")
    products = tables["products"]
    out_products = pd.DataFrame({"product_id": products["product_id"],
                                 "category": products["product_category_name"]})
    return {"orders": out_orders, "order_items": out_items, "products": out_products,
            "customers": out_customers}


def write_olist(tables: dict[str, pd.DataFrame], folder: str | Path,
                variant: str = "careful") -> Path:
    """Write ``tables`` (:func:`olist_tables`) into ``folder`` as converted by ``variant``
    (module docstring): ``orders``, ``order_items``, ``products`` and ``customers`` CSV.
    Returns the folder. Build it with :data:`VARS`."""
    out = raw_contract_tables(tables, variant)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    options = {"sep": ";", "decimal": ","} if variant == "comma" else {}
    for name, frame in out.items():
        frame.to_csv(folder / f"{name}.csv", index=False, **options)
    return folder
