"""The product catalogue."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from shoplens.datagen.config import CATEGORIES, CATEGORY_SEASON_PEAK, WEEKLY_PROFILE, ShopConfig
from shoplens.datagen.helpers import _ids


@dataclass
class Catalogue:
    products: pa.Table
    category_of: np.ndarray  # product index -> category index
    list_price: np.ndarray
    weights: np.ndarray  # (n_days, n_products) demand weight per day
    promo: np.ndarray  # (n_days, n_products) bool: product on promotion
    truth: dict


def _catalogue(cfg: ShopConfig, rng: np.random.Generator) -> Catalogue:
    n_cat = min(len(CATEGORIES), max(1, cfg.n_products // 6))
    n_p = cfg.n_products
    category_of = np.sort(rng.integers(0, n_cat, size=n_p))
    category_of[:n_cat] = np.arange(n_cat)  # every category has a product
    category_of = np.sort(category_of)
    price_scale = np.exp(rng.normal(3.0, 0.5, size=n_cat))
    list_price = np.round(price_scale[category_of] * np.exp(rng.normal(0, 0.35, n_p)), 2)
    list_price = np.maximum(list_price, 1.0)
    popularity = np.exp(rng.normal(0, 1.0, n_p))
    cat_trend = rng.normal(0.15, 0.25, n_cat)  # relative change per year
    cat_amp = rng.uniform(0.15, 0.6, n_cat)
    cat_peak = np.asarray(CATEGORY_SEASON_PEAK[:n_cat], dtype=float)
    cat_weekly = 1.0 + rng.normal(0, 0.08, size=(n_cat, 7))

    days = np.arange(cfg.n_days)
    dates = pd.date_range(cfg.start, periods=cfg.n_days, freq="D")
    doy = dates.dayofyear.to_numpy()
    dow = dates.dayofweek.to_numpy()
    years = days / 365.0
    trend = np.clip(1.0 + np.outer(years, cat_trend), 0.2, None)
    season = 1.0 + cat_amp[None, :] * np.cos(2 * np.pi * (doy[:, None] - cat_peak[None, :]) / 365.25)
    weekly = cat_weekly[:, dow].T
    cat_factor = trend * season * weekly  # (days, categories)

    # Promotions: a few windows per product, 20-40% off, demand x (1.8-3).
    promo = np.zeros((cfg.n_days, n_p), dtype=bool)
    n_promos = rng.poisson(cfg.n_days / 180.0, size=n_p)
    for j in np.nonzero(n_promos)[0]:
        for _ in range(n_promos[j]):
            s = rng.integers(0, max(1, cfg.n_days - 7))
            promo[s : s + rng.integers(5, 15), j] = True
    lift = rng.uniform(1.8, 3.0, n_p)
    weights = popularity[None, :] * cat_factor[:, category_of] * np.where(promo, lift[None, :], 1.0)

    names = np.char.add(
        np.char.add(np.asarray(CATEGORIES)[category_of].astype(str), " item "),
        np.arange(1, n_p + 1).astype(str),
    )
    products = pa.table(
        {
            "product_id": pa.array(_ids("P", np.arange(1, n_p + 1), 5), pa.string()),
            "product_name": pa.array(names.astype(object), pa.string()),
            "category": pa.array(np.asarray(CATEGORIES)[category_of].astype(object), pa.string()),
            "list_price": pa.array(list_price, pa.float64()),
        }
    )
    truth = {
        "categories": list(CATEGORIES[:n_cat]),
        "category_trend_per_year": dict(zip(CATEGORIES[:n_cat], cat_trend.round(4).tolist(), strict=True)),
        "category_season_amplitude": dict(zip(CATEGORIES[:n_cat], cat_amp.round(4).tolist(), strict=True)),
        "category_season_peak_doy": dict(zip(CATEGORIES[:n_cat], cat_peak.tolist(), strict=True)),
        "order_weekly_profile_mon_first": list(WEEKLY_PROFILE),
        "promotion_share_of_product_days": float(promo.mean().round(4)),
    }
    return Catalogue(products, category_of, list_price, weights, promo, truth)
