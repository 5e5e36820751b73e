"""Dirty rows, added from a separate random stream."""

from __future__ import annotations

import numpy as np
import pandas as pd

from shoplens.datagen.config import ShopConfig
from shoplens.datagen.helpers import _ids, _iso_utc


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
    # negative only: a 0.00 order (free sample, full discount) is a valid purchase
    bad_total["order_total"] = -np.round(rng.uniform(0.01, 50, m), 2)
    kinds["order_total_negative"] = m
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
