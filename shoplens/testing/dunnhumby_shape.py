"""An export shaped like dunnhumby's "The Complete Journey", in shoplens' raw contract.

The Complete Journey is two years of the grocery purchases of 2,500
households: ``transaction_data`` (one row per basket line: household_key,
BASKET_ID, DAY, PRODUCT_ID, QUANTITY, SALES_VALUE, STORE_ID, RETAIL_DISC,
TRANS_TIME, WEEK_NO, COUPON_DISC, COUPON_MATCH_DISC), ``product`` and
``hh_demographic`` (801 of the households). The shape here has 1,500
households by default. What makes it hard, reproduced here:

* ``DAY`` is a day number (1 to 711) and ``TRANS_TIME`` an HHMM number: no
  date anywhere; ``WEEK_NO`` counts weeks;
* households buy about weekly (a hundred baskets and more in two years),
  enter the panel over its first year, and few drop out;
* ``SALES_VALUE`` is what the shop received, after ``RETAIL_DISC`` (0 or
  negative, a handful of tiny positive ones) and ``COUPON_MATCH_DISC``;
  multi-buy offers (3 for $5) and weighed produce make it no multiple of a
  unit price;
* lines of ``QUANTITY`` 0 that carry money, lines of ``SALES_VALUE`` 0, the
  same product scanned twice in a basket as two identical lines (2% of the
  baskets), and fuel (``KIOSK-GAS``) whose ``QUANTITY`` is a volume count in
  the thousands;
* blank (' ') or 'NO COMMODITY DESCRIPTION' commodities.

:func:`dunnhumby_tables` draws the export (vectorised, seeded; sizes as
arguments) as its three tables. :func:`raw_contract_tables` converts it as a
careful user does after README.md "Bring your own data": ``DAY`` 1 mapped to
:data:`DAY_ONE` (and ``TRANS_TIME`` to the time of day); one order per basket,
``order_total`` its SALES_VALUE summed and rounded to cents; one line per
basket and product with repeated scans summed into ``quantity``, a
quantity-0 line as 1 and fuel as 1; ``unit_price`` the shelf price before
discounts (4 decimals) and ``discount`` the positive money off
(``-RETAIL_DISC - COUPON_MATCH_DISC``, absorbing the rounding, so that
``quantity * unit_price - discount`` is the line's SALES_VALUE);
COMMODITY_DESC as ``category`` (else the department); every household in
``customers``. :func:`write_dunnhumby` writes it and returns the vars the
careful user passes (:func:`dbt_vars`: an ``as_of_date`` ten weeks before the
last day, RFM frequency breakpoints from the households' basket counts, a
7-day propensity window).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from shoplens.testing import write_csv_tables

DAY_ONE = pd.Timestamp("2022-01-01")  # the date a careful user gives DAY 1
HOLDOUT_DAYS = 70
PROPENSITY_WINDOW_DAYS = 7
DEPARTMENTS = {  # share of the products, commodities
    "GROCERY": (0.40, ["SOFT DRINKS", "BAG SNACKS", "CHEESE", "FLUID MILK PRODUCTS",
                       "BAKED BREAD/BUNS/ROLLS", "COLD CEREAL", "FRZN MEAT/MEAT DINNERS",
                       "BEERS/ALES", "CANNED JUICES", "SOUP", "EGGS", "YOGURT", "COOKIES/CONES",
                       "CANDY - PACKAGED", "PASTA", "COFFEE", "FROZEN PIZZA",
                       "ICE CREAM/MILK/SHERBTS", "CRACKERS/MISC BKD FD",
                       "WATER - CARBONATED/FLVRD"]),
    "DRUG GM": (0.18, ["CIGARETTES", "VITAMINS", "HAIR CARE PRODUCTS", "ORAL HYGIENE PRODUCTS",
                       "COLD AND FLU", "GREETING CARDS/WRAP/PARTY SPLY", "MAGAZINE",
                       "DIAPERS & DISPOSABLES"]),
    "PRODUCE": (0.08, ["TROPICAL FRUIT", "VEGETABLES - ALL OTHERS", "APPLES", "POTATOES",
                       "SALAD MIX", "BERRIES"]),
    "MEAT": (0.05, ["BEEF", "CHICKEN", "PORK", "SMOKED MEATS"]),
    "MEAT-PCKGD": (0.05, ["LUNCHMEAT", "HOT DOGS", "BACON", "BREAKFAST SAUSAGE/SANDWICHES"]),
    "DELI": (0.04, ["DELI MEATS", "CHEESES", "SANDWICHES"]),
    "PASTRY": (0.03, ["BREAKFAST SWEETS", "CAKES", "BREAD"]),
    "NUTRITION": (0.03, ["NATURAL HBC", "HEALTH FOODS"]),
    "SEAFOOD-PCKGD": (0.01, ["SEAFOOD - FROZEN", "SEAFOOD - SHELF STABLE"]),
    "MISC SALES TRAN": (0.005, ["LOTTERY"]),
    "COUPON/MISC ITEMS": (0.005, ["COUPON/MISC ITEMS"]),
    " ": (0.005, [" ", "NO COMMODITY DESCRIPTION"]),
}
WEIGHED = ("PRODUCE", "MEAT", "DELI")  # half their products sold by weight
FUEL = {6534178: "GASOLINE-REG UNLEADED", 6533889: "GASOLINE-REG UNLEADED",
        6544236: "GASOLINE-PREMIUM UNLEADED"}  # 6534178 the file's most frequent product
SIZES = ["12 OZ", "16 OZ", "1 LB", "2 LTR", "6 PK", "1 GA", "5 OZ", " ", " ", " "]
WEEKDAY = [1.0, 0.85, 0.85, 0.9, 1.0, 1.3, 1.25]  # basket rate by DAY modulo 7
FAVOURITES = 40  # products a household buys half of its lines from
QUANTITY_ZERO_SHARE = 0.006
SALES_ZERO_SHARE = 0.004
SCANNED_TWICE_SHARE = 0.02  # baskets with one line twice
DEMOGRAPHIC_SHARE = 801 / 2500
TRANSACTION_COLUMNS = ["household_key", "BASKET_ID", "DAY", "PRODUCT_ID", "QUANTITY",
                       "SALES_VALUE", "STORE_ID", "RETAIL_DISC", "TRANS_TIME", "WEEK_NO",
                       "COUPON_DISC", "COUPON_MATCH_DISC"]


def _products(rng: np.random.Generator, n_products: int) -> pd.DataFrame:
    """The product table: departments and commodities (a few blank), a brand, a size,
    and the three fuel products."""
    names = list(DEPARTMENTS)
    p = np.array([DEPARTMENTS[d][0] for d in names])
    department = rng.choice(names, n_products, p=p / p.sum())
    commodity = np.array([rng.choice(DEPARTMENTS[d][1]) for d in department], dtype=object)
    commodity[rng.random(n_products) < 0.004] = " "
    sub = np.where(commodity != " ", commodity + " SUB "
                   + rng.integers(1, 6, n_products).astype(str), " ")
    ids = np.sort(rng.choice(np.arange(25671, 18_000_000), n_products, replace=False))
    products = pd.DataFrame({
        "PRODUCT_ID": ids, "MANUFACTURER": rng.integers(1, 6500, n_products),
        "DEPARTMENT": department,
        "BRAND": np.where(rng.random(n_products) < 0.7, "National", "Private"),
        "COMMODITY_DESC": commodity, "SUB_COMMODITY_DESC": sub,
        "CURR_SIZE_OF_PRODUCT": rng.choice(SIZES, n_products),
    })
    fuel = pd.DataFrame({"PRODUCT_ID": list(FUEL), "MANUFACTURER": 69, "DEPARTMENT": "KIOSK-GAS",
                         "BRAND": "Private", "COMMODITY_DESC": "COUPON/MISC ITEMS",
                         "SUB_COMMODITY_DESC": list(FUEL.values()), "CURR_SIZE_OF_PRODUCT": " "})
    products = products[~products["PRODUCT_ID"].isin(list(FUEL))]
    return pd.concat([products, fuel]).sort_values("PRODUCT_ID", ignore_index=True)


def _baskets(rng: np.random.Generator, n_households: int, n_days: int) -> pd.DataFrame:
    """Baskets: a gamma rate per household (about one a week), by weekday and season
    (December 25% up), from an entry day (35% enter in the first 300 days) to a churn
    day (10%); ids increasing with time; a home store for 90% of the baskets."""
    rate = np.minimum(rng.gamma(1.3, 0.155 / 1.3, n_households), 1.3)
    late = rng.random(n_households) < 0.35
    entry = np.where(late, rng.integers(1, 300, n_households), rng.integers(1, 21, n_households))
    churn = np.where(rng.random(n_households) < 0.10,
                     rng.integers(150, n_days + 1, n_households), n_days + 1)
    days = np.arange(1, n_days + 1)
    season = (1 + 0.12 * np.sin(2 * np.pi * (days - 300) / 365.25)
              + np.where(np.isin((days - 1) % 365, range(325, 360)), 0.25, 0))
    active = (days[None, :] >= entry[:, None]) & (days[None, :] < churn[:, None])
    lam = rate[:, None] * np.array(WEEKDAY)[(days - 1) % 7][None, :] * season[None, :] * active
    counts = rng.poisson(lam)
    h, d = np.nonzero(counts)
    household = np.repeat(h, counts[h, d])
    day = np.repeat(days[d], counts[h, d])
    order = np.lexsort((rng.random(len(day)), day))
    household, day = household[order], day[order]
    n = len(day)
    stores = rng.choice(np.arange(286, 34_000), 400, replace=False)
    home = rng.choice(stores, n_households)
    hour = np.clip(rng.normal(15, 3.5, n), 0, 23.99).astype(int)
    return pd.DataFrame({
        "household": household, "day": day,
        "basket_id": 26984851472 + np.cumsum(rng.integers(1, 120_000, n)),
        "trans_time": hour * 100 + rng.integers(0, 60, n),
        "store": np.where(rng.random(n) < 0.9, home[household], rng.choice(stores, n)),
        "spend_scale": (rng.gamma(4.0, 1.0, n_households) / 4.0)[household],
    })


def _grocery_lines(rng: np.random.Generator, baskets: pd.DataFrame,
                   products: pd.DataFrame) -> pd.DataFrame:
    """Lines: 1 + Poisson lines a basket, half from the household's 40 favourites; 80%
    one unit; weighed products at a price per weight; 28% on promotion, 6% multi-buys
    (2 for $3, 3 for $5, 6 for $10); coupon matches; the quantity-0 and sales-0 lines."""
    grocery = products[products["DEPARTMENT"] != "KIOSK-GAS"].reset_index(drop=True)
    n_products = len(grocery)
    shelf = np.clip(np.round(np.exp(rng.normal(1.0, 0.6, n_products)), 1) - 0.01, 0.29, 39.99)
    weighed = grocery["DEPARTMENT"].isin(WEIGHED).to_numpy() & (rng.random(n_products) < 0.5)
    popularity = rng.permutation(1.0 / np.arange(1, n_products + 1) ** 0.9)
    popularity /= popularity.sum()
    n_households = int(baskets["household"].max()) + 1
    favourites = rng.choice(n_products, (n_households, FAVOURITES), p=popularity)
    n_lines = 1 + rng.poisson(np.clip(1.3 * baskets["spend_scale"].to_numpy(), 0.3, 5))
    b = np.repeat(np.arange(len(baskets)), n_lines)
    n = len(b)
    household = baskets["household"].to_numpy()[b]
    product = np.where(rng.random(n) < 0.55,
                       favourites[household, rng.integers(0, FAVOURITES, n)],
                       rng.choice(n_products, n, p=popularity))
    price, by_weight = shelf[product], weighed[product]
    quantity = np.where(by_weight | (rng.random(n) < 0.8), 1, rng.integers(2, 5, n))
    gross = np.where(by_weight, np.round(price * rng.uniform(0.3, 3.0, n), 2),
                     np.round(price * quantity, 2))
    retail = np.where(rng.random(n) < 0.28, -np.round(gross * rng.uniform(0.1, 0.4, n), 2), 0.0)
    multibuy = (rng.random(n) < 0.06) & ~by_weight
    units = rng.choice([2, 3, 3, 6], n)
    offer = np.select([units == 2, units == 3], [3.0, 5.0], 10.0)
    quantity = np.where(multibuy, units, quantity)
    retail = np.where(multibuy, -np.maximum(np.round(price * units - offer, 2), 0), retail)
    gross = np.where(multibuy, np.round(np.maximum(price * units, offer), 2), gross)
    match = np.where(rng.random(n) < 0.005, -np.round(rng.uniform(0.25, 1.0, n), 2), 0.0)
    match = np.where(gross + retail + match < 0, 0.0, match)
    sales = np.round(gross + retail + match, 2)
    zero_quantity = rng.random(n) < QUANTITY_ZERO_SHARE
    zero_sales = (rng.random(n) < SALES_ZERO_SHARE) & ~zero_quantity
    positive = rng.random(n) < 0.0002
    return pd.DataFrame({
        "b": b, "PRODUCT_ID": grocery["PRODUCT_ID"].to_numpy()[product],
        "QUANTITY": np.where(zero_quantity, 0, quantity),
        "SALES_VALUE": np.where(zero_sales, 0.0, sales),
        "RETAIL_DISC": np.where(positive, np.round(rng.uniform(0.01, 0.5, n), 2),
                                np.where(zero_sales, 0.0, retail)),
        "COUPON_DISC": np.where(rng.random(n) < 0.012,
                                -np.round(rng.uniform(0.3, 3.0, n), 2), 0.0),
        "COUPON_MATCH_DISC": np.where(zero_sales, 0.0, match),
    })


def _fuel_lines(rng: np.random.Generator, baskets: pd.DataFrame) -> pd.DataFrame:
    """Fuel in 5% of the baskets of a third of the households: 4-22 gallons at
    $2.80-3.90, QUANTITY a volume count in the thousands (up to about 90,000)."""
    fuel_households = rng.random(int(baskets["household"].max()) + 1) < 0.35
    b = np.flatnonzero(fuel_households[baskets["household"].to_numpy()]
                       & (rng.random(len(baskets)) < 0.05))
    n = len(b)
    gallons = rng.uniform(4, 22, n)
    return pd.DataFrame({
        "b": b, "PRODUCT_ID": rng.choice([6534178, 6534178, 6534178, 6533889, 6544236], n),
        "QUANTITY": np.where(rng.random(n) < 0.8, rng.integers(1000, 25000, n),
                             rng.integers(25000, 90000, n)),
        "SALES_VALUE": np.round(gallons * rng.uniform(2.8, 3.9, n), 2),
        "RETAIL_DISC": np.where(rng.random(n) < 0.3, -np.round(gallons * 0.1, 2), 0.0),
        "COUPON_DISC": 0.0, "COUPON_MATCH_DISC": 0.0,
    })


def dunnhumby_tables(n_households: int = 1500, n_products: int = 3000, n_days: int = 711,
                     seed: int = 20240611) -> dict[str, pd.DataFrame]:
    """The export as ``transaction_data`` (the public columns, money as floats with 2
    decimals), ``product`` (blank descriptions as ' ') and ``hh_demographic`` (a third
    of the households)."""
    if n_households < 10 or n_products < 50 or n_days < 2 * HOLDOUT_DAYS:
        raise ValueError("dunnhumby_tables needs n_households >= 10, n_products >= 50 and "
                         f"n_days >= {2 * HOLDOUT_DAYS}")
    rng = np.random.default_rng(seed)
    products = _products(rng, n_products)
    baskets = _baskets(rng, n_households, n_days)
    lines = _grocery_lines(rng, baskets, products)
    twice = rng.choice(len(baskets), int(len(baskets) * SCANNED_TWICE_SHARE), replace=False)
    scanned_twice = lines[lines["b"].isin(twice)].groupby("b").head(1)
    lines = pd.concat([lines, _fuel_lines(rng, baskets), scanned_twice], ignore_index=True)
    lines = lines.sort_values("b", kind="stable", ignore_index=True)
    basket = baskets.iloc[lines["b"].to_numpy()].reset_index(drop=True)
    transactions = lines.drop(columns="b").assign(
        household_key=basket["household"] + 1, BASKET_ID=basket["basket_id"],
        DAY=basket["day"], STORE_ID=basket["store"], TRANS_TIME=basket["trans_time"],
        WEEK_NO=(basket["day"] - 1) // 7 + 1)
    keys = np.sort(rng.choice(np.arange(1, n_households + 1),
                              int(round(DEMOGRAPHIC_SHARE * n_households)), replace=False))
    n = len(keys)
    demographic = pd.DataFrame({
        "AGE_DESC": rng.choice(["19-24", "25-34", "35-44", "45-54", "55-64", "65+"], n),
        "MARITAL_STATUS_CODE": rng.choice(["A", "B", "U"], n),
        "INCOME_DESC": rng.choice(["Under 15K", "15-24K", "25-34K", "35-49K", "50-74K",
                                   "75-99K", "100-124K", "125-149K", "150-174K", "175-199K",
                                   "200-249K", "250K+"], n),
        "HOMEOWNER_DESC": rng.choice(["Homeowner", "Renter", "Unknown", "Probable Owner",
                                      "Probable Renter"], n),
        "HOUSEHOLD_SIZE_DESC": rng.choice(["1", "2", "3", "4", "5+"], n),
        "household_key": keys,
    })
    return {"transaction_data": transactions[TRANSACTION_COLUMNS], "product": products,
            "hh_demographic": demographic}


def _dates(day: pd.Series, trans_time: pd.Series) -> pd.Series:
    """DAY and TRANS_TIME as the timestamp a careful user writes (DAY 1 = DAY_ONE)."""
    return (DAY_ONE + pd.to_timedelta(day - 1, unit="D")
            + pd.to_timedelta(trans_time // 100, unit="h")
            + pd.to_timedelta(trans_time % 100, unit="m"))


def raw_contract_tables(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """``tables`` (:func:`dunnhumby_tables`) converted as the careful user does (module
    docstring): orders, order_items, products and customers, before writing."""
    tx, products = tables["transaction_data"], tables["product"]
    fuel = tx["PRODUCT_ID"].isin(products.loc[products["DEPARTMENT"] == "KIOSK-GAS",
                                              "PRODUCT_ID"])
    quantity = tx["QUANTITY"].where(~fuel & (tx["QUANTITY"] > 0), 1)
    money_off = -(tx["RETAIL_DISC"].clip(upper=0) + tx["COUPON_MATCH_DISC"])
    lines = tx.assign(quantity=quantity, money_off=money_off).groupby(
        ["BASKET_ID", "PRODUCT_ID"], as_index=False).agg(
        quantity=("quantity", "sum"), sales=("SALES_VALUE", "sum"), money_off=("money_off", "sum"))
    unit_price = ((lines["sales"] + lines["money_off"]).round(2) / lines["quantity"]).round(4)
    gross = lines["quantity"] * unit_price
    order_items = pd.DataFrame({
        "order_id": lines["BASKET_ID"], "product_id": lines["PRODUCT_ID"],
        "quantity": lines["quantity"], "unit_price": unit_price,
        "discount": np.clip(gross - lines["sales"], 0, gross).round(4),
    })
    heads = tx.groupby("BASKET_ID").agg(household=("household_key", "first"),
                                        day=("DAY", "first"), time=("TRANS_TIME", "first"),
                                        total=("SALES_VALUE", "sum"))
    orders = pd.DataFrame({
        "order_id": heads.index, "customer_id": heads["household"].to_numpy(),
        "ordered_at": _dates(heads["day"], heads["time"]).dt.strftime(
            "%Y-%m-%dT%H:%M:%S").to_numpy(),
        "order_total": heads["total"].round(2).to_numpy(), "status": "completed",
        "currency": "USD",
    })
    commodity = products["COMMODITY_DESC"].str.strip()
    category = commodity.where(~commodity.isin(["", "NO COMMODITY DESCRIPTION"]),
                               products["DEPARTMENT"].str.strip())
    out_products = pd.DataFrame({
        "product_id": products["PRODUCT_ID"], "category": category.where(category != "",
                                                                         "UNKNOWN"),
        "product_name": products["SUB_COMMODITY_DESC"].str.strip(),
    })
    customers = pd.DataFrame({"customer_id": np.sort(tx["household_key"].unique()),
                              "country": "US"})
    return {"orders": orders, "order_items": order_items, "products": out_products,
            "customers": customers}


def dbt_vars(tables: dict[str, pd.DataFrame]) -> dict:
    """The vars the careful user passes for ``tables``: ``as_of_date`` HOLDOUT_DAYS before
    the last day; ``rfm_frequency_breakpoints`` at the 20/40/60/80% quantiles of the
    households' basket counts up to it; a PROPENSITY_WINDOW_DAYS propensity window."""
    tx = tables["transaction_data"]
    last = int(tx["DAY"].max()) - HOLDOUT_DAYS
    as_of = DAY_ONE + pd.Timedelta(days=last - 1)
    seen = tx[tx["DAY"] <= last].groupby("household_key")["BASKET_ID"].nunique()
    cuts = np.quantile(seen, [0.2, 0.4, 0.6, 0.8]).round().astype(int)
    breakpoints = [max(int(cuts[0]), 2)]
    for cut in cuts[1:]:
        breakpoints.append(max(int(cut), breakpoints[-1] + 1))  # strictly increasing
    return {"as_of_date": as_of.strftime("%Y-%m-%d"),
            "rfm_frequency_breakpoints": breakpoints,
            "propensity_window_days": PROPENSITY_WINDOW_DAYS}


def write_dunnhumby(tables: dict[str, pd.DataFrame], folder: str | Path) -> dict:
    """Write the careful conversion of ``tables`` into ``folder`` (``orders``,
    ``order_items``, ``products``, ``customers`` CSV) and return the vars the careful
    user builds with: ``raw_data_dir`` and :func:`dbt_vars`."""
    folder = write_csv_tables(raw_contract_tables(tables), folder)
    return {"raw_data_dir": str(folder), **dbt_vars(tables)}
