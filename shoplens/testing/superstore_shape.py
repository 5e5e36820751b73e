"""An export shaped like Tableau's "Sample - Superstore", in shoplens' raw contract.

Superstore is one sheet of order lines of a US office-supplies shop from
2014-01-03 to 2017-12-30 (9,994 lines, 5,009 orders, 793 customers) and a
Returns sheet naming the returned orders. The shape here has the same sizes
by default. What makes it hard for the models and for an export, reproduced
here:

* dates as a US spreadsheet shows them ('8/12/2014', M/D/YYYY), which the
  raw contract does not read;
* ``Sales`` is the line after a percentage ``Discount`` (0 to 0.8, by state
  and sub-category), so it has up to 4 decimals ('2119.674' summed): order
  totals summed from it are too precise unless rounded to cents; the list
  price is in no column;
* customers who never drop out (six orders each on average, every year),
  orders growing year by year with September and November-December peaks;
* one line written twice (another ``Row ID``, the rest equal), 32 product
  ids with a second name on some lines, postal codes without their leading
  zero and one city without any, names with accents;
* 5.9% of the orders named in the Returns sheet (``Returned`` 'Yes').

:func:`superstore_tables` draws the export (seeded; sizes as arguments) as
its two sheets, ``orders`` and ``returns``, text and numbers as the public
CSV holds them. :func:`raw_contract_tables` converts it as a careful user
does after README.md "Bring your own data": dates as ISO-8601, one order per
Order ID with ``order_total`` its Sales summed and rounded to cents, one line
per (order, product) (the line written twice summed into ``quantity``),
``unit_price`` the price before the discount (``Sales / (Quantity * (1 -
Discount))``, 4 decimals) and ``discount`` the money off the line, so that
``quantity * unit_price - discount`` is the line's Sales; ``status``
returned for the orders in the Returns sheet, else completed; ``currency``
USD; the Sub-Category as ``category``. :func:`write_superstore` writes it and
returns the vars the careful user passes (:data:`VARS`: an ``as_of_date``
leaving October to December 2017 as the holdout).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from shoplens.testing import write_csv_tables

START = pd.Timestamp("2014-01-03")
END = pd.Timestamp("2017-12-30")
VARS = {"as_of_date": "2017-09-30"}

# (category, sub-category, code, share of lines, products, lowest and highest list price)
SUB_CATEGORIES = [
    ("Furniture", "Bookcases", "BO", .023, 50, 40, 900),
    ("Furniture", "Chairs", "CH", .062, 100, 40, 1100),
    ("Furniture", "Furnishings", "FU", .096, 180, 2, 250),
    ("Furniture", "Tables", "TA", .032, 60, 60, 1200),
    ("Office Supplies", "Appliances", "AP", .047, 100, 5, 1200),
    ("Office Supplies", "Art", "AR", .080, 160, 1, 60),
    ("Office Supplies", "Binders", "BI", .152, 210, 1, 600),
    ("Office Supplies", "Envelopes", "EN", .025, 60, 3, 90),
    ("Office Supplies", "Fasteners", "FA", .022, 45, 1, 30),
    ("Office Supplies", "Labels", "LA", .036, 70, 2, 60),
    ("Office Supplies", "Paper", "PA", .137, 280, 3, 60),
    ("Office Supplies", "Storage", "ST", .085, 170, 5, 800),
    ("Office Supplies", "Supplies", "SU", .019, 45, 2, 600),
    ("Technology", "Accessories", "AC", .078, 150, 4, 700),
    ("Technology", "Copiers", "CO", .007, 12, 300, 3500),
    ("Technology", "Machines", "MA", .012, 110, 20, 4000),
    ("Technology", "Phones", "PH", .089, 190, 4, 1000),
]
BRANDS = ["Eldon", "Avery", "Fellowes", "Global", "Hon", "Bush", "Sauder", "Logitech", "Xerox",
          "Canon", "Cisco", "Belkin", "Acco", "Wilson Jones", "Tenex", "Bretford", "Konftel",
          "Newell", "Staples", "Okidata", "Hewlett-Packard", "Samsung", "Apple", "Plantronics",
          "O'Sullivan", "Safco", "Iceberg", "Hoover", "Holmes", "Kensington"]
ACCENTED = ["Café", "Déluxe", "Executive’s", "Bush® Westfield", "Fellowes® Mesh", "Über-Flex"]
SECOND_NAMES = 32  # product ids with a second name on some lines
FIRST_NAMES = ["Claire", "Darren", "Sean", "Brosina", "Andrew", "Irene", "Harold", "Pete",
               "Alejandro", "Zuschuss", "Ken", "Sandra", "Emily", "Eric", "Tracy", "Matt", "Gene",
               "Steve", "Linda", "Ruby", "Hunter", "Aimee", "Rick", "Maria", "Chloé", "René",
               "Zoë", "José", "Noël"]
LAST_NAMES = ["Gute", "Powers", "O'Donnell", "Hoffman", "Allen", "Maddox", "Pawlan", "Kriz",
              "Grossman", "Donatelli", "Black", "Flanagan", "Grace", "Hoffmann", "Lee", "Abelman",
              "Hale", "Nguyen", "Cazer", "Patel", "Lopez", "Bixby", "Reed", "Bergman", "Brontë",
              "Muñoz", "Lefèvre", "Gómez", "Desrosiers"]
SEGMENTS = {"Consumer": .52, "Corporate": .30, "Home Office": .18}
CITIES = [  # city, state, postal code (None: the file has none), region
    ("New York City", "New York", 10035, "East"), ("Los Angeles", "California", 90036, "West"),
    ("Philadelphia", "Pennsylvania", 19143, "East"), ("San Francisco", "California", 94122, "West"),
    ("Seattle", "Washington", 98103, "West"), ("Houston", "Texas", 77095, "Central"),
    ("Chicago", "Illinois", 60623, "Central"), ("Columbus", "Ohio", 43229, "East"),
    ("San Diego", "California", 92024, "West"), ("Springfield", "Virginia", 22153, "South"),
    ("Dallas", "Texas", 75217, "Central"), ("Jacksonville", "Florida", 32216, "South"),
    ("Detroit", "Michigan", 48234, "Central"), ("Newark", "Delaware", 19711, "East"),
    ("Richmond", "Kentucky", 40475, "South"), ("Boston", "Massachusetts", 2149, "East"),
    ("Burlington", "Vermont", None, "East"), ("Providence", "Rhode Island", 2908, "East"),
    ("Louisville", "Colorado", 80027, "West"), ("Lafayette", "Louisiana", 70506, "South"),
]
# the discount rates a state gives (the public file's discounts depend on the state)
STATE_DISCOUNTS = {"Texas": [0, .2, .3, .6, .8], "Illinois": [0, .2, .3, .6, .8],
                   "Ohio": [0, .2, .4, .7], "Pennsylvania": [0, .2, .3, .7],
                   "Florida": [0, .2, .45], "Colorado": [0, .2, .5, .7],
                   "California": [0, .15, .2], "New York": [0, .1, .2, .4],
                   "Washington": [0, .2], "Michigan": [0, .1]}
OTHER_DISCOUNTS = [0, 0, .2]
ORDERS_PER_YEAR = {2014: 969, 2015: 1038, 2016: 1315, 2017: 1687}
MONTH_WEIGHTS = [.5, .4, .9, .8, .85, .85, .85, .75, 1.6, 1.0, 1.7, 1.75]
SHIP_MODES = {"Standard Class": (.6, 4, 7), "Second Class": (.19, 2, 5),
              "First Class": (.155, 1, 4), "Same Day": (.055, 0, 1)}
RETURNED_SHARE = 296 / 5009
COLUMNS = ["Row ID", "Order ID", "Order Date", "Ship Date", "Ship Mode", "Customer ID",
           "Customer Name", "Segment", "Country", "City", "State", "Postal Code", "Region",
           "Product ID", "Category", "Sub-Category", "Product Name", "Sales", "Quantity",
           "Discount", "Profit"]


def _products(rng: np.random.Generator) -> pd.DataFrame:
    """1,790 products: 'FUR-BO-10001798' ids, a brand and model name, a log-uniform list
    price in the sub-category's range, a sales weight (share of lines, log-normal noise)."""
    parts = []
    for category, sub, code, share, n, low, high in SUB_CATEGORIES:
        number = rng.choice(np.arange(10000000, 10005000), n, replace=False)
        noun = sub[:-3] + "y" if sub.endswith("ies") else sub.removesuffix("s")
        name = (pd.Series(rng.choice(BRANDS, n)) + f" {noun} "
                + pd.Series(rng.integers(100, 9999, n)).astype(str))
        accented = rng.random(n) < 0.02
        name[accented] = (pd.Series(rng.choice(ACCENTED, n)) + f" {sub} "
                          + pd.Series(rng.integers(10, 99, n)).astype(str))[accented]
        parts.append(pd.DataFrame({
            "product_id": [f"{category[:3].upper()}-{code}-{i}" for i in number],
            "category": category, "sub_category": sub, "name": name,
            "price": np.round(np.exp(rng.uniform(np.log(low), np.log(high), n)), 2),
            "weight": share / n * np.exp(rng.normal(0, 0.8, n)),
        }))
    products = pd.concat(parts, ignore_index=True)
    second = rng.choice(len(products), SECOND_NAMES, replace=False)
    products["second_name"] = None
    products.loc[second, "second_name"] = (products["name"][second] + " - "
                                           + rng.choice(["Black", "Blue", "Gray", "Letter"],
                                                        SECOND_NAMES))
    return products


def _customers(rng: np.random.Generator, n_customers: int) -> pd.DataFrame:
    """'CG-12520' ids (initials and a number), a name, a segment and a city."""
    first = rng.choice(FIRST_NAMES, 4 * n_customers)
    last = rng.choice(LAST_NAMES, 4 * n_customers)
    number = rng.integers(2000, 6000, 4 * n_customers) * 5
    frame = pd.DataFrame({"first": first, "last": last, "number": number})
    frame["customer_id"] = (frame["first"].str[0] + frame["last"].str[0] + "-"
                            + frame["number"].astype(str)).str.upper()
    frame["customer_id"] = (frame["customer_id"].str.normalize("NFKD")
                            .str.encode("ascii", "ignore").str.decode("ascii"))
    frame = frame.drop_duplicates("customer_id").head(n_customers).reset_index(drop=True)
    if len(frame) < n_customers:
        raise ValueError(f"superstore_tables draws at most {len(frame)} customer ids")
    return pd.DataFrame({
        "customer_id": frame["customer_id"],
        "customer_name": frame["first"] + " " + frame["last"],
        "segment": rng.choice(list(SEGMENTS), n_customers, p=list(SEGMENTS.values())),
        "city": rng.integers(0, len(CITIES), n_customers),
    })


def _order_heads(rng: np.random.Generator, customers: pd.DataFrame,
                 n_orders: int) -> pd.DataFrame:
    """Orders: dates weighted by year and month, customers by a gamma activity (every
    customer at least once), 'CA-2016-152156' ids, a ship mode and ship date."""
    days = pd.date_range(START, END, freq="D")
    w = (np.array([ORDERS_PER_YEAR[y] for y in days.year]) / 365
         * np.array(MONTH_WEIGHTS)[days.month - 1])
    dates = pd.DatetimeIndex(np.sort(rng.choice(days, n_orders, p=w / w.sum())))
    activity = rng.gamma(4, 1, len(customers))
    who = rng.choice(len(customers), n_orders, p=activity / activity.sum())
    missing = np.setdiff1d(np.arange(len(customers)), who)
    who[rng.choice(n_orders, len(missing), replace=False)] = missing
    modes = rng.choice(list(SHIP_MODES), n_orders, p=[m[0] for m in SHIP_MODES.values()])
    low = np.array([SHIP_MODES[m][1] for m in modes])
    high = np.array([SHIP_MODES[m][2] for m in modes])
    number = rng.choice(np.arange(100000, 170000), n_orders, replace=False)
    prefix = rng.choice(["CA", "US"], n_orders, p=[.8, .2])
    return pd.DataFrame({
        "order_id": [f"{p}-{d.year}-{n}" for p, d, n in zip(prefix, dates, number, strict=True)],
        "date": dates, "ship": dates + pd.to_timedelta(rng.integers(low, high + 1), unit="D"),
        "mode": modes, "customer": who,
    })


def _us_date(ts: pd.Series) -> pd.Series:
    """'M/D/YYYY', as the public file writes its dates."""
    return (ts.dt.month.astype(str) + "/" + ts.dt.day.astype(str) + "/"
            + ts.dt.year.astype(str))


def _lines(rng: np.random.Generator, heads: pd.DataFrame, customers: pd.DataFrame,
           products: pd.DataFrame) -> pd.DataFrame:
    """Order lines: 1-14 distinct products an order (geometric), 1-14 units, a discount
    rate from the state's schedule on 55% of the lines (binders 0.8 in Texas and
    Illinois, tables 0.3-0.5 outside California), Sales and Profit to 4 decimals."""
    n_lines = np.minimum(rng.geometric(0.5, len(heads)), 14)
    order = np.repeat(np.arange(len(heads)), n_lines)
    p = products["weight"].to_numpy()
    lines = pd.DataFrame({"order": order,
                          "product": rng.choice(len(products), len(order), p=p / p.sum())})
    lines = lines.drop_duplicates().reset_index(drop=True)
    n = len(lines)
    cust = customers.iloc[heads["customer"].to_numpy()[lines["order"]]].reset_index(drop=True)
    city = [CITIES[i] for i in cust["city"]]
    state = np.array([c[1] for c in city])
    prod = products.iloc[lines["product"]].reset_index(drop=True)
    rate = np.zeros(n)
    for name in set(state):
        at = state == name
        rate[at] = rng.choice(STATE_DISCOUNTS.get(name, OTHER_DISCOUNTS), at.sum())
    rate[rng.random(n) >= .55] = 0.0
    sub = prod["sub_category"].to_numpy()
    rate[(sub == "Binders") & np.isin(state, ["Texas", "Illinois"]) & (rate > 0)] = .8
    tables = (sub == "Tables") & (rate > 0) & (state != "California")
    rate[tables] = rng.choice([.3, .32, .45, .5], tables.sum())
    quantity = np.minimum(14, 1 + rng.poisson(2.8, n))
    sales = np.round(prod["price"].to_numpy() * quantity * (1 - rate), 4)
    margin = rng.uniform(.05, .45, n) - rate * 1.4
    renamed = prod["second_name"].notna().to_numpy() & (rng.random(n) < .4)
    head = heads.iloc[lines["order"]].reset_index(drop=True)
    return pd.DataFrame({
        "Order ID": head["order_id"], "Order Date": _us_date(head["date"]),
        "Ship Date": _us_date(head["ship"]), "Ship Mode": head["mode"],
        "Customer ID": cust["customer_id"], "Customer Name": cust["customer_name"],
        "Segment": cust["segment"], "Country": "United States",
        "City": [c[0] for c in city], "State": state,
        "Postal Code": pd.array([c[2] for c in city], dtype="Int64"),
        "Region": [c[3] for c in city], "Product ID": prod["product_id"],
        "Category": prod["category"], "Sub-Category": sub,
        "Product Name": np.where(renamed, prod["second_name"], prod["name"]),
        "Sales": sales, "Quantity": quantity, "Discount": rate,
        "Profit": np.round(sales * margin, 4),
    })


def superstore_tables(n_orders: int = 5009, n_customers: int = 793,
                      seed: int = 20161108) -> dict[str, pd.DataFrame]:
    """The export as its two sheets: ``orders`` (the Orders sheet's columns, one row per
    line, dates as 'M/D/YYYY' text, Sales and Profit floats with up to 4 decimals, one
    line written twice) and ``returns`` (``Returned`` 'Yes', ``Order ID``)."""
    if n_orders < 100 or n_customers < 2 or n_customers > n_orders:
        raise ValueError("superstore_tables needs n_orders >= 100 and 2 <= n_customers <= "
                         "n_orders")
    rng = np.random.default_rng(seed)
    products = _products(rng)
    customers = _customers(rng, n_customers)
    heads = _order_heads(rng, customers, n_orders)
    lines = _lines(rng, heads, customers, products)
    twice = int(rng.integers(0, len(lines)))
    lines = pd.concat([lines.iloc[:twice + 1], lines.iloc[[twice]], lines.iloc[twice + 1:]],
                      ignore_index=True)
    lines.insert(0, "Row ID", np.arange(1, len(lines) + 1))
    order_ids = heads["order_id"].to_numpy()
    returned = np.sort(rng.choice(order_ids, int(round(RETURNED_SHARE * len(order_ids))),
                                  replace=False))
    return {"orders": lines[COLUMNS],
            "returns": pd.DataFrame({"Returned": "Yes", "Order ID": returned})}


def raw_contract_tables(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """``tables`` (:func:`superstore_tables`) converted as the careful user does (module
    docstring): orders, order_items, products and customers, before writing."""
    rows = tables["orders"]
    day = pd.to_datetime(rows["Order Date"], format="%m/%d/%Y")
    returned = set(tables["returns"]["Order ID"])
    heads = rows.assign(day=day).groupby("Order ID", sort=False).agg(
        customer_id=("Customer ID", "first"), day=("day", "first"), sales=("Sales", "sum"))
    orders = pd.DataFrame({
        "order_id": heads.index, "customer_id": heads["customer_id"].to_numpy(),
        "ordered_at": heads["day"].dt.strftime("%Y-%m-%d").to_numpy(),
        "order_total": heads["sales"].round(2).to_numpy(),
        "status": np.where(heads.index.isin(returned), "returned", "completed"),
        "currency": "USD",
    })
    unit_price = (rows["Sales"] / (rows["Quantity"] * (1 - rows["Discount"]))).round(4)
    money_off = rows["Quantity"] * unit_price - rows["Sales"]
    lines = rows.assign(unit_price=unit_price, money_off=money_off).groupby(
        ["Order ID", "Product ID"], sort=False).agg(
        quantity=("Quantity", "sum"), unit_price=("unit_price", "first"),
        money_off=("money_off", "sum")).reset_index()
    gross = lines["quantity"] * lines["unit_price"]
    order_items = pd.DataFrame({
        "order_id": lines["Order ID"], "product_id": lines["Product ID"],
        "quantity": lines["quantity"], "unit_price": lines["unit_price"],
        "discount": np.clip(lines["money_off"], 0, gross).round(4),
    })
    first = rows.drop_duplicates("Product ID")
    list_price = order_items.groupby("product_id")["unit_price"].median().round(2)
    products = pd.DataFrame({
        "product_id": first["Product ID"], "category": first["Sub-Category"],
        "product_name": first["Product Name"],
        "list_price": first["Product ID"].map(list_price),
    })
    people = rows.drop_duplicates("Customer ID")
    customers = pd.DataFrame({"customer_id": people["Customer ID"], "country": "US"})
    return {"orders": orders, "order_items": order_items, "products": products,
            "customers": customers}


def write_superstore(tables: dict[str, pd.DataFrame], folder: str | Path) -> dict:
    """Write the careful conversion of ``tables`` into ``folder`` (``orders``,
    ``order_items``, ``products``, ``customers`` CSV) and return the vars the careful
    user builds with: ``raw_data_dir`` and :data:`VARS`."""
    folder = write_csv_tables(raw_contract_tables(tables), folder)
    return {"raw_data_dir": str(folder), **VARS}
