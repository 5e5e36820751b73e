"""An export shaped like the public UCI "Online Retail II" file, in shoplens' raw contract.

Online Retail II holds every invoice line of a UK gift wholesaler from
2009-12-01 to 2011-12-09. What makes it hard for the models, reproduced here:

* cancellations are invoices of their own ('C' + an invoice number) with
  some lines of an earlier invoice; about a fifth of the orders are guest
  orders without a customer id;
* the shop is closed on Saturdays and from 23 December to 4 January, busy in
  November; a tenth of the customers are wholesalers (lines of up to 2,400
  units, and the file's two famous orders of 80,995 and 74,215 units, each
  cancelled minutes later); prices with up to 4 decimals (1.695);
* exact duplicate lines (a line scanned twice), the same product twice in an
  invoice with another quantity, lower-case variants of stock codes, products
  whose name changed (two rows for one stock code), customers who moved (two
  rows, two countries), non-product codes (POST, DOT, M, BANK CHARGES, ...),
  bad-debt adjustments with negative totals, countries by name.

:func:`online_retail_tables` draws the export (vectorised, seeded; sizes as
arguments) and :func:`write_online_retail` writes it as one user would have
converted the public file (``variant``):

``careful``
    cancellations are ``status`` cancelled with positive quantities and
    totals; guests have a NULL ``customer_id``; timestamps ISO-8601.
``naive``
    as careful, but the cancellations keep the file's negative quantities
    and totals.
``us_dates``
    as careful, but ``orders.ordered_at`` is written as the file shows it in
    a spreadsheet, 'M/D/YYYY H:MM' (12/1/2009 7:45).
``parquet_float_ids``
    as careful, but ``orders.parquet`` written by pandas from a frame whose
    ``customer_id`` is float64 (NaN for guests), as pandas reads the file.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd

START = dt.date(2009, 12, 1)
END = dt.date(2011, 12, 9)
VARIANTS = ("careful", "naive", "us_dates", "parquet_float_ids")

GUEST_SHARE = 0.22  # orders without a customer id
CANCEL_SHARE = 0.03  # customer invoices that are later (partly) cancelled
WHOLESALE_SHARE = 0.10
DUPLICATE_LINE_SHARE = 0.012  # a line scanned twice
REPEAT_PRODUCT_SHARE = 0.004  # the same product again in the invoice, another quantity
RENAMED_SHARE = 0.03  # products with a second name
LOWER_CASE_SHARE = 0.15  # lines of a lettered code written in lower case

CATEGORY_WORDS = {
    "bags": ["JUMBO BAG", "LUNCH BAG", "SHOPPER BAG", "CHARLOTTE BAG", "TOTE BAG"],
    "candles": ["CANDLE", "T-LIGHT HOLDER", "TEA LIGHTS", "CANDLE HOLDER"],
    "christmas": ["CHRISTMAS DECORATION", "XMAS TREE", "CHRISTMAS BAUBLE", "ADVENT CALENDAR",
                  "CHRISTMAS STOCKING"],
    "kitchen": ["CAKE CASES", "TEA TOWEL", "MUG", "LUNCH BOX", "BAKING SET", "JAM MAKING SET",
                "CAKESTAND"],
    "cards": ["GREETING CARD", "WRAP", "GIFT TAG", "BIRTHDAY CARD"],
    "other": ["HEART OF WICKER", "METAL SIGN", "DOORMAT", "CLOCK", "PHOTO FRAME", "NIGHT LIGHT",
              "HOT WATER BOTTLE", "PARASOL", "BUNTING"],
}
CATEGORY_SHARES = [0.14, 0.10, 0.14, 0.22, 0.12, 0.28]
ADJECTIVES = ["WHITE HANGING", "RED RETROSPOT", "REGENCY", "VINTAGE", "PINK POLKADOT",
              "PAISLEY PARK", "WOODLAND", "SPACEBOY", "DOLLY GIRL", "GLASS STAR", "JUMBO",
              "SET OF 3", "SWEETHEART", "ZINC", "ASSORTED COLOUR", "FELTCRAFT"]
# stock codes that are not products (postage, manual entries, fees, bad debt)
SERVICE_CODES = {"POST": "POSTAGE", "DOT": "DOTCOM POSTAGE", "M": "Manual",
                 "BANK CHARGES": "Bank Charges", "AMAZONFEE": "AMAZON FEE",
                 "B": "Adjust bad debt", "C2": "CARRIAGE"}
COUNTRIES = {"United Kingdom": 0.90, "Germany": 0.02, "France": 0.018, "EIRE": 0.012,
             "Netherlands": 0.008, "Spain": 0.008, "Belgium": 0.007, "Switzerland": 0.005,
             "Unspecified": 0.004, "European Community": 0.002, "RSA": 0.002,
             "Channel Islands": 0.004, "Australia": 0.005, "Portugal": 0.005}
RETAIL_QUANTITIES = ([1, 2, 3, 4, 6, 8, 10, 12, 24],
                     [.18, .12, .08, .08, .14, .05, .05, .2, .1])
WHOLESALE_QUANTITIES = ([12, 24, 36, 48, 72, 96, 144, 200, 288, 480, 960, 1200, 2400],
                        [.15, .2, .08, .12, .1, .08, .08, .04, .05, .04, .03, .02, .01])
GUEST_QUANTITIES = [1, 1, 1, 2, 2, 3, 4, 6]
ODD_PRICES = [0.001, 0.125, 1.695, 0.665]  # more than 2 decimals, as in the file
# the file's two largest lines, each cancelled minutes later: (invoice, customer, time,
# stock code, name, category, units, price)
FAMOUS_ORDERS = [
    ("581483", 16446, "2011-12-09 09:15:00", "23843", "PAPER CRAFT , LITTLE BIRDIE", "other",
     80995, 2.08),
    ("541431", 12346, "2011-01-18 10:01:00", "23166", "MEDIUM CERAMIC TOP STORAGE JAR",
     "kitchen", 74215, 1.04),
]
ORDER_COLUMNS = ["order_id", "customer_id", "ordered_at", "order_total", "status", "currency"]
LINE_COLUMNS = ["order_id", "product_id", "quantity", "unit_price"]


def is_closed(dates: pd.DatetimeIndex) -> np.ndarray:
    """True on the shop's closed days: Saturdays and 23 December to 4 January."""
    christmas = ((dates.month == 12) & (dates.day >= 23)) | ((dates.month == 1) & (dates.day <= 4))
    return np.asarray((dates.dayofweek == 5) | christmas)


def _calendar() -> tuple[pd.DatetimeIndex, np.ndarray]:
    """Every day of the file and its relative traffic (0 when closed): a November peak
    (2.5 times summer), busy early December, weekday profile, 8% growth a year."""
    days = pd.date_range(START, END, freq="D")
    doy = days.dayofyear.to_numpy()
    season = (1 + 1.5 * np.exp(-(((doy - 320) / 38.0) ** 2))
              + 0.4 * np.exp(-(((doy - 345) / 8.0) ** 2)))
    weekday = np.array([1.0, 1.1, 1.1, 1.2, 0.9, 0.0, 0.6])[days.dayofweek.to_numpy()]
    growth = 1 + 0.08 * np.arange(len(days)) / 365
    return days, season * weekday * growth * ~is_closed(days)


def _products(rng: np.random.Generator, n_products: int, n_days: int) -> pd.DataFrame:
    """Stock codes (5 digits, some with a letter), names, categories, prices, popularity and
    the day range each is on sale (a third launched later, 15% discontinued)."""
    numbers = np.concatenate([np.arange(20600, 23700), np.arange(84000, 90200)])
    numbers = numbers[~np.isin(numbers, [23843, 23166])]
    base = rng.choice(numbers, n_products, replace=False)
    letters = np.array(list("ABCDEFGLNS"))
    suffix = np.where(rng.random(n_products) < 0.3, rng.choice(letters, n_products), "")
    category = rng.choice(list(CATEGORY_WORDS), n_products, p=CATEGORY_SHARES)
    nouns = np.array([rng.choice(CATEGORY_WORDS[c]) for c in category])
    price = np.round(np.clip(rng.lognormal(np.log(2.2), 0.8, n_products), 0.19, 40), 1) - 0.05
    launch = np.where(rng.random(n_products) < 0.35, rng.integers(0, n_days - 60, n_products), 0)
    stop = np.where(rng.random(n_products) < 0.15,
                    np.minimum(launch + rng.integers(60, 700, n_products), n_days), n_days)
    popularity = np.minimum(rng.zipf(1.6, n_products), 400) * rng.uniform(0.5, 1.5, n_products)
    return pd.DataFrame({
        "product_id": np.char.add(base.astype(str), suffix),
        "product_name": np.char.add(np.char.add(rng.choice(ADJECTIVES, n_products), " "), nouns),
        "category": category,
        "price": np.clip(price, 0.1, None).round(2),
        "popularity": popularity,
        "launch": launch,
        "stop": stop,
    })


def _customers(rng: np.random.Generator, n_customers: int, weights: np.ndarray) -> pd.DataFrame:
    """Five-digit ids from 12346 up (the two famous buyers included), country names,
    wholesalers, a purchase intensity and the day range of each customer's life."""
    pool = np.setdiff1d(np.arange(12346, 12346 + max(5942, 2 * n_customers)), [12346, 16446])
    ids = np.sort(np.concatenate([[12346, 16446], rng.choice(pool, n_customers - 2,
                                                             replace=False)]))
    shares = np.array(list(COUNTRIES.values()))
    country = rng.choice(list(COUNTRIES), n_customers, p=shares / shares.sum())
    country[np.isin(ids, [12346, 16446])] = "United Kingdom"
    wholesale = rng.random(n_customers) < WHOLESALE_SHARE
    rate = rng.lognormal(0, 1.1, n_customers) * np.where(wholesale, 3.0, 1.0)
    n_days = len(weights)
    first = np.where(rng.random(n_customers) < 0.35, 0,
                     rng.choice(n_days, n_customers, p=weights / weights.sum()))
    last = np.minimum(first + rng.exponential(500, n_customers).astype(int) + 30, n_days)
    return pd.DataFrame({"customer_id": ids, "country": country, "wholesale": wholesale,
                         "rate": rate, "first": first, "last": last})


def _draw_days(rng: np.random.Generator, cum: np.ndarray, first: np.ndarray,
               last: np.ndarray) -> np.ndarray:
    """One day per row in [first, last), in proportion to the traffic (never a closed day)."""
    low, high = cum[first], cum[last]
    empty = high <= low
    low, high = np.where(empty, 0.0, low), np.where(empty, cum[-1], high)
    u = low + rng.random(len(first)) * (high - low)
    return np.clip(np.searchsorted(cum, u, side="right") - 1, 0, len(cum) - 2)


def _invoices(rng: np.random.Generator, customers: pd.DataFrame, n_invoices: int,
              days: pd.DatetimeIndex, weights: np.ndarray) -> pd.DataFrame:
    """Invoice heads: every customer buys at least once, the rest in proportion to intensity
    times traffic over their life; guests on top; numbered from 489434 in time order."""
    cum = np.concatenate([[0.0], np.cumsum(weights)])
    n_guest = int(round(GUEST_SHARE * n_invoices))
    n_known = max(n_invoices - n_guest, len(customers))
    exposure = (cum[customers["last"]] - cum[customers["first"]]) / cum[-1]
    lam = customers["rate"].to_numpy() * np.maximum(exposure, 1e-6)
    extra = rng.multinomial(n_known - len(customers), lam / lam.sum())
    who = np.repeat(np.arange(len(customers)), 1 + extra)
    known_day = _draw_days(rng, cum, customers["first"].to_numpy()[who],
                           customers["last"].to_numpy()[who])
    guest_day = _draw_days(rng, cum, np.zeros(n_guest, int), np.full(n_guest, len(days)))
    day = np.concatenate([known_day, guest_day])
    row = np.concatenate([who, np.full(n_guest, -1)])
    minute = rng.integers(7 * 60 + 30, 19 * 60 + 30, len(day))
    heads = pd.DataFrame({"ordered_at": days[day] + pd.to_timedelta(minute, unit="m"),
                          "day": day, "customer_row": row})
    heads = heads.sort_values("ordered_at", kind="stable").reset_index(drop=True)
    heads.insert(0, "order_id", (489434 + np.arange(len(heads))).astype(str))
    return heads


def _product_weights(products: pd.DataFrame, days: pd.DatetimeIndex) -> dict[int, np.ndarray]:
    """Each month's product probabilities: on sale mid-month, popularity, Christmas goods
    3.5-4 times as likely in October-November and rare outside September-December."""
    months = (days.year - START.year) * 12 + days.month
    out = {}
    for month in np.unique(months):
        mid = np.flatnonzero(months == month)
        mid = mid[len(mid) // 2]
        on_sale = (products["launch"] <= mid) & (products["stop"] > mid)
        boost = {9: 2.0, 10: 3.5, 11: 4.0, 12: 2.0}.get(days[mid].month, 0.15)
        w = (products["popularity"] * on_sale
             * np.where(products["category"] == "christmas", boost, 1.0)).to_numpy()
        out[month] = w / w.sum()
    return out


def _lines(rng: np.random.Generator, heads: pd.DataFrame, customers: pd.DataFrame,
           products: pd.DataFrame, days: pd.DatetimeIndex) -> pd.DataFrame:
    """Product lines: a negative-binomial number per invoice (guests buy more lines of
    fewer units at twice the price, wholesalers dozens at 85%), one line per product."""
    guest = heads["customer_row"].to_numpy() < 0
    mean_lines = np.where(guest, 30, 17)
    k = np.clip(rng.negative_binomial(1.3, 1.3 / (1.3 + mean_lines)), 1, 540)
    inv = np.repeat(np.arange(len(heads)), k)
    months = ((days.year - START.year) * 12 + days.month).to_numpy()[heads["day"].to_numpy()]
    line_month = months[inv]
    product = np.empty(len(inv), dtype=int)
    for month, p in _product_weights(products, days).items():
        at = np.flatnonzero(line_month == month)
        product[at] = rng.choice(len(products), len(at), p=p)
    lines = pd.DataFrame({"inv": inv, "product": product}).drop_duplicates()
    inv, product = lines["inv"].to_numpy(), lines["product"].to_numpy()
    n = len(lines)
    row = heads["customer_row"].to_numpy()[inv]
    is_guest = row < 0
    is_wholesale = ~is_guest & customers["wholesale"].to_numpy()[np.maximum(row, 0)]
    retail_q = rng.choice(RETAIL_QUANTITIES[0], n, p=RETAIL_QUANTITIES[1])
    wholesale_q = rng.choice(WHOLESALE_QUANTITIES[0], n, p=WHOLESALE_QUANTITIES[1])
    quantity = np.where(is_guest, rng.choice(GUEST_QUANTITIES, n),
                        np.where(is_wholesale, wholesale_q, retail_q))
    base = products["price"].to_numpy()[product]
    price = np.where(is_guest, np.round(base * 2 + 0.01, 2),
                     np.where(is_wholesale, np.round(base * 0.85, 2), base))
    u = rng.random(n)
    price = np.where(u < 0.003, 0.0, price)  # free samples
    odd = (u >= 0.003) & (u < 0.0035)
    price[odd] = rng.choice(ODD_PRICES, odd.sum())
    code = products["product_id"].to_numpy()[product].astype(object)
    lower = np.isin(product, _lower_case_products(products)) & (rng.random(n) < LOWER_CASE_SHARE)
    code[lower] = np.char.lower(code[lower].astype(str))
    return pd.DataFrame({"order_id": heads["order_id"].to_numpy()[inv], "product_id": code,
                         "quantity": quantity.astype("int64"), "unit_price": price})


def _lower_case_products(products: pd.DataFrame) -> np.ndarray:
    """Positions of the lettered stock codes that also appear in lower case (85123a)."""
    lettered = np.flatnonzero(products["product_id"].str[-1].str.isalpha().to_numpy())
    return lettered[: max(1, len(products) // 250)]


def _odd_lines(rng: np.random.Generator, heads: pd.DataFrame, lines: pd.DataFrame,
               customers: pd.DataFrame) -> pd.DataFrame:
    """Duplicates and non-product lines: exact repeats, a product again with another
    quantity, postage for customers abroad, DOTCOM postage for guests, manual lines."""
    u = rng.random(len(lines))
    dup = lines[u < DUPLICATE_LINE_SHARE]
    again = lines[(u >= DUPLICATE_LINE_SHARE) & (u < DUPLICATE_LINE_SHARE + REPEAT_PRODUCT_SHARE)]
    again = again.assign(quantity=again["quantity"] + rng.integers(1, 6, len(again)))
    row = heads["customer_row"].to_numpy()
    abroad = (row >= 0) & (customers["country"].to_numpy()[np.maximum(row, 0)]
                           != "United Kingdom")
    v = rng.random(len(heads))
    parts = [lines, dup, again]
    for code, pick, quantity, price in (
        ("POST", abroad & (v < 0.7), rng.integers(1, 4, len(heads)),
         rng.choice([18.0, 28.0, 40.0], len(heads))),
        ("DOT", (row < 0) & (v < 0.25), np.ones(len(heads), int),
         np.round(rng.uniform(20, 900, len(heads)), 2)),
        ("M", rng.random(len(heads)) < 0.003, np.ones(len(heads), int),
         np.round(rng.uniform(0.5, 300, len(heads)), 2)),
    ):
        parts.append(pd.DataFrame({"order_id": heads["order_id"][pick], "product_id": code,
                                   "quantity": quantity[pick], "unit_price": price[pick]}))
    return pd.concat(parts, ignore_index=True)


def _cancellations(rng: np.random.Generator, heads: pd.DataFrame, lines: pd.DataFrame,
                   n_fees: int, days: pd.DatetimeIndex,
                   weights: np.ndarray) -> tuple[pd.DataFrame, pd.DataFrame]:
    """'C' invoices: 1-3 lines of an earlier customer invoice, part of their units, 5
    minutes to 20 days later on an open day (else within two hours); plus cancelled fee
    and manual lines without a customer. Quantities positive (the careful conversion)."""
    known = heads[heads["customer_row"] >= 0]
    picked = known[rng.random(len(known)) < CANCEL_SHARE]
    later = picked["ordered_at"] + pd.to_timedelta(
        rng.integers(5, 60 * 24 * 20, len(picked)), unit="m")
    soon = picked["ordered_at"] + pd.to_timedelta(rng.integers(5, 120, len(picked)), unit="m")
    bad = is_closed(pd.DatetimeIndex(later.dt.normalize())) | (
        later >= pd.Timestamp(END) + pd.Timedelta(hours=20))
    when = np.where(bad, soon, later)
    number = picked["order_id"].astype(int) + rng.integers(1, 50, len(picked))
    c_heads = pd.DataFrame({"order_id": "C" + number.astype(str),
                            "original": picked["order_id"].to_numpy(),
                            "customer_row": picked["customer_row"].to_numpy(),
                            "ordered_at": when})
    c_heads = c_heads.drop_duplicates("order_id")
    own = lines[lines["product_id"].str.match(r"^\d")].drop_duplicates(["order_id", "product_id"])
    cand = own.merge(c_heads[["order_id", "original"]].rename(
        columns={"order_id": "c_id", "original": "order_id"}), on="order_id")
    keep = pd.Series(rng.integers(1, 4, len(c_heads)), index=c_heads["order_id"].to_numpy())
    cand = cand.assign(r=rng.random(len(cand))).sort_values(["c_id", "r"])
    cand = cand[cand.groupby("c_id").cumcount().to_numpy() < cand["c_id"].map(keep).to_numpy()]
    c_lines = pd.DataFrame({"order_id": cand["c_id"], "product_id": cand["product_id"],
                            "quantity": (1 + np.floor(rng.random(len(cand))
                                                      * cand["quantity"])).astype("int64"),
                            "unit_price": cand["unit_price"]})
    c_heads = c_heads[c_heads["order_id"].isin(c_lines["order_id"])]
    fee_day = rng.choice(len(days), n_fees, p=weights / weights.sum())
    fee_ids = "C" + (490000 + rng.choice(100000, n_fees, replace=False)).astype(str)
    fees = pd.DataFrame({"order_id": fee_ids, "original": None, "customer_row": -1,
                         "ordered_at": days[fee_day] + pd.to_timedelta(
                             rng.integers(600, 1000, n_fees), unit="m")})
    fees = fees[~fees["order_id"].isin(c_heads["order_id"])]
    fee_lines = pd.DataFrame({"order_id": fees["order_id"],
                              "product_id": rng.choice(["AMAZONFEE", "BANK CHARGES", "M"],
                                                       len(fees)),
                              "quantity": 1,
                              "unit_price": np.round(rng.uniform(15, 17000, len(fees)), 2)})
    return (pd.concat([c_heads, fees], ignore_index=True).drop(columns="original"),
            pd.concat([c_lines, fee_lines], ignore_index=True))


def online_retail_tables(n_customers: int = 1500, n_products: int = 600,
                         n_invoices: int = 6000, seed: int = 20111209) -> dict[str, pd.DataFrame]:
    """The export as frames: ``orders`` (``ordered_at`` a naive UTC timestamp,
    ``customer_id`` Int64 with NA for guests, ``status`` completed/cancelled),
    ``order_items`` (cancellation lines with positive quantities), ``products``,
    ``customers``. ``n_invoices`` counts the invoices before cancellations (a fifth of
    them guests'); every customer buys at least once."""
    if n_customers < 2 or n_products < 10 or n_invoices < 10:
        raise ValueError("online_retail_tables needs n_customers >= 2, n_products >= 10 and "
                         "n_invoices >= 10")
    rng = np.random.default_rng(seed)
    days, weights = _calendar()
    products = _products(rng, n_products, len(days))
    customers = _customers(rng, n_customers, weights)
    heads = _invoices(rng, customers, n_invoices, days, weights)
    lines = _odd_lines(rng, heads, _lines(rng, heads, customers, products, days), customers)
    c_heads, c_lines = _cancellations(rng, heads, lines, max(1, n_invoices // 500), days,
                                      weights)
    heads = pd.concat([heads.assign(status="completed"), c_heads.assign(status="cancelled")],
                      ignore_index=True)
    ids = customers["customer_id"].to_numpy()
    row = heads["customer_row"].to_numpy()
    heads["customer_id"] = pd.array(np.where(row >= 0, ids[np.maximum(row, 0)], 0), "Int64")
    heads.loc[row < 0, "customer_id"] = pd.NA
    orders, lines = _with_special_invoices(heads, pd.concat([lines, c_lines], ignore_index=True))
    return {"orders": orders, "order_items": lines,
            "products": _product_rows(rng, products),
            "customers": _customer_rows(rng, customers)}


def _with_special_invoices(heads: pd.DataFrame,
                           lines: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The famous orders and their cancellations, the bad-debt adjustments (one positive,
    two negative invoices without a customer), and the totals (sum of the lines)."""
    extra_heads, extra_lines = [], []
    for order_id, customer, at, code, _name, _cat, units, price in FAMOUS_ORDERS:
        cancel_id = "C" + str(int(order_id) + 2)
        for oid, status, minutes in ((order_id, "completed", 0), (cancel_id, "cancelled", 12)):
            extra_heads.append((oid, customer, pd.Timestamp(at) + pd.Timedelta(minutes=minutes),
                                status))
            extra_lines.append((oid, code, units, price))
    for oid, total, at in (("A563185", 11062.06, "2011-08-12 14:50:00"),
                           ("A563186", -11062.06, "2011-08-12 14:51:00"),
                           ("A563187", -11062.06, "2011-08-12 14:52:00")):
        extra_heads.append((oid, None, pd.Timestamp(at), "completed"))
        extra_lines.append((oid, "B", 1, total))
    special = pd.DataFrame(extra_heads, columns=["order_id", "customer_id", "ordered_at", "status"])
    special["customer_id"] = special["customer_id"].astype("Int64")
    heads = heads[~heads["order_id"].isin(special["order_id"])]
    lines = lines[~lines["order_id"].isin(special["order_id"])]
    orders = pd.concat([heads[special.columns], special], ignore_index=True)
    lines = pd.concat([lines, pd.DataFrame(extra_lines, columns=LINE_COLUMNS)], ignore_index=True)
    total = (lines["quantity"] * lines["unit_price"]).groupby(lines["order_id"]).sum()
    orders["order_total"] = orders["order_id"].map(total).fillna(0.0).round(2)
    orders["currency"] = "GBP"
    orders = orders.sort_values(["ordered_at", "order_id"], kind="stable", ignore_index=True)
    return orders[ORDER_COLUMNS], lines.reset_index(drop=True)[LINE_COLUMNS]


def _product_rows(rng: np.random.Generator, products: pd.DataFrame) -> pd.DataFrame:
    """One row per stock code, plus: lower-case codes, service codes, the famous two, and
    a second row with another name for a few products (a name that changed)."""
    base = products[["product_id", "product_name", "category"]]
    lower = base.iloc[_lower_case_products(products)]
    lower = lower.assign(product_id=lower["product_id"].str.lower())
    service = pd.DataFrame({"product_id": list(SERVICE_CODES), "product_name":
                            list(SERVICE_CODES.values()), "category": "other"})
    famous = pd.DataFrame([(c, n, k) for _, _, _, c, n, k, _, _ in FAMOUS_ORDERS],
                          columns=base.columns)
    renamed = base.iloc[rng.choice(len(base), max(1, int(RENAMED_SHARE * len(base))),
                                   replace=False)]
    renamed = renamed.assign(product_name=renamed["product_name"] + " DESIGN 2")
    return pd.concat([base, lower, service, famous, renamed], ignore_index=True)


def _customer_rows(rng: np.random.Generator, customers: pd.DataFrame) -> pd.DataFrame:
    """``customer_id`` and ``country``; a few customers who moved have a second row."""
    rows = customers[["customer_id", "country"]]
    moved = rows.iloc[rng.choice(len(rows), max(1, len(rows) // 400), replace=False)]
    moved = moved.assign(country=np.where(moved["country"] == "Germany", "France", "Germany"))
    return pd.concat([rows, moved], ignore_index=True)


def _us_time(ts: pd.Series) -> pd.Series:
    """'M/D/YYYY H:MM', as a spreadsheet shows the file's InvoiceDate."""
    return (ts.dt.month.astype(str) + "/" + ts.dt.day.astype(str) + "/"
            + ts.dt.year.astype(str) + " " + ts.dt.hour.astype(str) + ":"
            + ts.dt.strftime("%M"))


def _price_text(values: pd.Series) -> pd.Series:
    """Prices as exported: up to 4 decimals, no trailing zeros."""
    return values.map(lambda v: f"{v:.4f}".rstrip("0").rstrip("."))


def write_online_retail(tables: dict[str, pd.DataFrame], folder: str | Path,
                        variant: str = "careful") -> Path:
    """Write ``tables`` into ``folder`` as converted by ``variant`` (module docstring):
    ``orders``, ``order_items``, ``products`` and ``customers``, CSV (``orders.parquet``
    for ``parquet_float_ids``). Returns the folder."""
    if variant not in VARIANTS:
        raise ValueError(f"variant {variant!r} is none of {', '.join(VARIANTS)}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    orders, lines = tables["orders"].copy(), tables["order_items"].copy()
    if variant == "naive":
        cancelled = orders.loc[orders["status"] == "cancelled", "order_id"]
        flip = lines["order_id"].isin(cancelled)
        lines.loc[flip, "quantity"] = -lines.loc[flip, "quantity"]
        orders.loc[orders["status"] == "cancelled", "order_total"] *= -1
    if variant == "parquet_float_ids":
        orders["customer_id"] = orders["customer_id"].astype("float64")
        orders.to_parquet(folder / "orders.parquet", index=False)
    else:
        orders["ordered_at"] = (_us_time(orders["ordered_at"]) if variant == "us_dates"
                                else orders["ordered_at"].dt.strftime("%Y-%m-%d %H:%M:%S"))
        orders["order_total"] = orders["order_total"].map(lambda v: f"{v:.2f}")
        orders.to_csv(folder / "orders.csv", index=False)
    lines["unit_price"] = _price_text(lines["unit_price"])
    lines.to_csv(folder / "order_items.csv", index=False)
    tables["products"].to_csv(folder / "products.csv", index=False)
    tables["customers"].to_csv(folder / "customers.csv", index=False)
    return folder
