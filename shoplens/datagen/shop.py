"""The shop, chunk by chunk: every table of one batch of customers."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import asdict

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from shoplens.datagen.catalogue import Catalogue, _catalogue
from shoplens.datagen.config import (
    CATEGORIES,
    COUNTRIES,
    COUNTRY_WEIGHTS,
    OFFSETS_MINUTES,
    TABLES,
    ShopConfig,
)
from shoplens.datagen.customers import _events, _lines, _purchases, _sessions
from shoplens.datagen.dirty import _dirty_events, _dirty_orders
from shoplens.datagen.helpers import (
    _day_seconds,
    _ids,
    _iso_utc,
    _iso_with_offsets,
    _seconds_since_epoch,
    _ts_array,
)
from shoplens.datagen.tastes import _taste_groups, _taste_step


def _chunk(cfg: ShopConfig, cat: Catalogue, rng: np.random.Generator, n: int, id_offset: int, order_offset: int, session_offset: int, event_offset: int,
           tastes: tuple | None = None):
    base_sec = _seconds_since_epoch(cfg.start)
    info, o_cust, o_day, o_value = _purchases(cfg, rng, n, id_offset)
    cust_ids = _ids("C", info["index"] + 1, 8)
    taste_group, taste_step, taste_browse = None, None, None
    if tastes is not None:  # (Tastes, seed of this chunk's taste stream)
        taste_group, taste_step, taste_browse = _taste_step(tastes[0], np.random.default_rng(tastes[1]), cat, n, o_cust)
    o_sec_rel = o_day * 86400 + _day_seconds(rng, o_day.size)
    order_ids = _ids("O", np.arange(o_day.size) + order_offset + 1, 10)
    orders = _orders_frame(rng, order_ids, cust_ids[o_cust], base_sec + o_sec_rel, o_value)
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
    customers = _customers_frame(cfg, rng, info, cust_ids, id_offset, base_sec)
    events = None
    if cfg.events:
        sess = _sessions(cfg, rng, info, o_cust, o_sec_rel, base_sec)
        events = _events(rng, sess, cat, base_sec, cust_ids, session_offset, event_offset)
        if taste_browse is not None:
            _browse_with_tastes(events, sess, taste_browse, session_offset, l_order, l_product)
    truth = {
        "n_customers_buying": int(n),
        "n_orders_completed": int(o_day.size),
        "alive_at_end": int(np.isinf(info["death_time"]).sum()),
    }
    if taste_group is not None:
        truth["customer_group"] = dict(zip(cust_ids.tolist(), taste_group.tolist(), strict=True))
    return orders, items, customers, events, truth



def _orders_frame(
    rng: np.random.Generator, order_ids: np.ndarray, customer_ids: np.ndarray, o_abs: np.ndarray, o_value: np.ndarray
) -> pd.DataFrame:
    """Completed orders, their valid timestamps written in mixed styles: Z, naive (UTC), or local + offset."""
    style = rng.choice(3, size=o_abs.size, p=[0.6, 0.2, 0.2])
    text = np.asarray(_iso_utc(o_abs, "Z").to_numpy(zero_copy_only=False), dtype=object)
    naive = np.asarray(_iso_utc(o_abs, "naive").to_numpy(zero_copy_only=False), dtype=object)
    offs = np.asarray(OFFSETS_MINUTES)[rng.integers(0, len(OFFSETS_MINUTES), size=o_abs.size)]
    local = np.asarray(_iso_with_offsets(o_abs, offs).to_numpy(zero_copy_only=False), dtype=object)
    text = np.where(style == 1, naive, np.where(style == 2, local, text))
    return pd.DataFrame(
        {
            "order_id": order_ids,
            "customer_id": customer_ids,
            "ordered_at": text,
            "order_total": o_value,
            "status": "completed",
            "currency": "EUR",
        }
    )


def _customers_frame(
    cfg: ShopConfig, rng: np.random.Generator, info: dict, cust_ids: np.ndarray, id_offset: int, base_sec: int
) -> pd.DataFrame:
    """Everyone who bought, plus some who only signed up."""
    n = cust_ids.size
    n_signup_only = int(round(cfg.signup_only_share * n))
    signup_rel = np.concatenate(
        [
            info["birth"] * 86400 - rng.exponential(20, size=n) * 86400,
            rng.uniform(0, cfg.n_days, size=n_signup_only) * 86400,
        ]
    ).astype(np.int64)
    extra_ids = _ids("C", np.arange(n_signup_only) + 50_000_000 + id_offset + 1, 8)
    all_ids = np.concatenate([cust_ids, extra_ids])
    return pd.DataFrame(
        {
            "customer_id": all_ids,
            "email": np.char.add(np.char.lower(all_ids.astype(str)), "@example.com").astype(object),
            "signed_up_at": np.asarray(_iso_utc(base_sec + signup_rel).to_numpy(zero_copy_only=False), dtype=object),
            "country": np.asarray(COUNTRIES, dtype=object)[
                rng.choice(len(COUNTRIES), size=all_ids.size, p=COUNTRY_WEIGHTS)
            ],
        }
    )

def _browse_with_tastes(events: dict, sess: dict, browse, session_offset: int, line_order: np.ndarray,
                        line_product: np.ndarray) -> None:
    """Put the owners' tastes on the product ids of product-view and add-to-cart events (in place)."""
    shown = np.nonzero(np.isin(events["event_type"], ("product_view", "add_to_cart")))[0]
    owner = events["session_id"][shown] - session_offset
    product = browse(sess["cust"][owner], sess["order"][owner], line_order, line_product)
    events["product_id"][shown] = _ids("P", product + 1, 5)


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
            orders, items, customers = _dirty_chunk(cfg, dirt, orders, items, customers, base_sec, dirty)
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
    yield "ground_truth", _ground_truth(cfg, cat, counts, dirty, tastes, taste_labels)



def latent_purchases(cfg: ShopConfig) -> dict[str, np.ndarray]:
    """The purchase process behind the shop ``cfg`` generates, as it was drawn.

    Per customer (row = customer index): ``lam``, ``p_drop``, ``nu``, ``birth``
    (days since the start) and ``death_time`` (inf: alive at the end). Per
    purchase: ``customer``, ``time`` (days, before the weekly move) and ``day``
    (the day it is recorded on). These are the same draws as :func:`iter_shop`'s
    (each chunk's stream starts with them), so the purchases are the shop's
    completed orders, one for one. For benchmarks that ask how well a forecaster
    who knew the customers could do (``bench/bench_forecast_oracle.py``).
    """
    root = np.random.SeedSequence(cfg.seed)
    _, _, *chunk_seeds = root.spawn(2 + math.ceil(cfg.n_customers / cfg.chunk_customers))
    parts = []
    for i, seed in enumerate(chunk_seeds):
        n = min(cfg.chunk_customers, cfg.n_customers - i * cfg.chunk_customers)
        if n <= 0:
            break
        info, cust, day, _ = _purchases(cfg, np.random.default_rng(seed), n, i * cfg.chunk_customers)
        parts.append((info, cust + i * cfg.chunk_customers, day))
    out = {key: np.concatenate([p[0][key] for p in parts])
           for key in ("lam", "p_drop", "nu", "birth", "death_time")}
    out["customer"] = np.concatenate([p[1] for p in parts])
    out["time"] = np.concatenate([p[0]["purchase_time"] for p in parts])
    out["day"] = np.concatenate([p[2] for p in parts])
    return out


def _dirty_chunk(cfg: ShopConfig, dirt: np.random.Generator, orders, items, customers, base_sec: int, dirty: dict):
    """Add this chunk's broken rows (counted in ``dirty``); returns (orders, items, customers)."""
    extra, kinds = _dirty_orders(cfg, dirt, orders, base_sec)
    # Lines of the extra orders: copy a real order's lines under the new id
    # (orphans when the order itself is rejected), plus duplicate lines.
    # (duplicated orders keep their id and get no new lines).
    new_ids = extra["order_id"][extra["order_id"].notna() & ~extra["order_id"].isin(orders["order_id"])]
    src = items.groupby("order_id", sort=False).head(1)
    extra_lines = src.sample(n=len(new_ids), replace=True, random_state=int(dirt.integers(2**31))).copy()
    extra_lines["order_id"] = new_ids.to_numpy()
    # the orders without a customer are guest orders, which count in the shop's
    # totals: they get no lines, so the dirt adds no demand (same draws as before)
    extra_lines = extra_lines[extra_lines["order_id"].isin(extra.loc[extra["customer_id"].notna(), "order_id"])]
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
    return orders, items, customers


def _ground_truth(cfg: ShopConfig, cat: Catalogue, counts: dict, dirty: dict, tastes, taste_labels: dict) -> dict:
    """What the generator knows and a model should recover."""
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
    return truth

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
