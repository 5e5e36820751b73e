"""Customer profiles: truncated SVD of each customer's purchase mix, then k-means.

Features per customer (purchase lines up to ``as_of_date``, weighted by line
amount): the share of spend in each category, in each price band (a
product's band is the tercile of its list price within its category:
budget, mid, premium) and on discounted lines. The embedding keeps the
fewest right singular vectors of that matrix that hold ``energy`` of its sum
of squares (at most ``max_components``). k-means (k-means++, seeded) runs
for k = 2..``max_profiles`` on a seeded sample, and the k with the best
silhouette is kept; every customer is then assigned to the nearest centre.
Each profile is named from its first two ranked traits, and its traits text
lists the same ranking (:func:`name_profile`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from shoplens.recommend.config import ProfileConfig

PRICE_BANDS = ("budget", "mid", "premium")
FIT_SAMPLE = 50_000


def product_bands(products: pd.DataFrame, lines: pd.DataFrame) -> pd.Series:
    """Price band per product id: list-price tercile within its category (equal prices
    in the same band; one price for the whole category: every product 'mid').

    Products without a list price (or missing from ``products``) take their
    median unit price in the lines and the category 'uncategorised' unless
    the lines name one.
    """
    known = products[["product_id", "category", "list_price"]].copy() if len(products) else pd.DataFrame(
        columns=["product_id", "category", "list_price"])
    known["product_id"] = known["product_id"].astype(str)
    seen = lines.groupby("product_id", observed=True).agg(
        category_seen=("category", "first") if "category" in lines else ("product_id", lambda s: "uncategorised"),
        price_seen=("unit_price", "median") if "unit_price" in lines else ("product_id", lambda s: np.nan),
    )
    allp = seen.join(known.set_index("product_id"), how="outer")
    allp["category"] = allp["category"].fillna(allp["category_seen"]).fillna("uncategorised")
    allp["price"] = pd.to_numeric(allp["list_price"], errors="coerce").fillna(allp["price_seen"]).fillna(0.0)
    # tied prices share a rank (their mean position), so a band never splits equal prices by
    # row order, and a category of one price is all 'mid' (an export without prices: 1.00 each)
    rank = allp.groupby("category")["price"].rank(method="average")
    size = allp.groupby("category")["price"].transform("size")
    band = np.minimum((3 * (rank - 1) // size).astype(int), 2)
    band = np.where(allp.groupby("category")["price"].transform("nunique") <= 1, 1, band)
    return pd.Series(np.asarray(PRICE_BANDS)[band], index=allp.index, name="price_band")


@dataclass
class Features:
    customers: np.ndarray  # ids, row order
    shares: np.ndarray  # (n, d) spend shares: categories, price bands, discount
    names: list[str]  # d feature names
    counts: np.ndarray  # (n, d - 1) purchase lines per category and band
    line_pairs: np.ndarray  # (d - 1, d - 1) sum over lines of their own one-hot outer product
    revenue: np.ndarray  # (n,) spend in the shop's currency


def _labels(values: pd.Series, clean=None) -> tuple[np.ndarray, np.ndarray]:
    """(sorted distinct labels, each row's position in them), as ``np.unique(..., return_inverse=True)``
    of ``clean(values)``. A categorical column (read_lines' ids and categories) is worked out on
    its categories and codes: at 1M customers that avoids sorting 4M Python strings and three
    row-length object arrays. ``clean`` maps a Series of labels to their final text."""
    clean = clean or (lambda names: names)
    if isinstance(values.dtype, pd.CategoricalDtype):
        codes = values.cat.codes.to_numpy()
        # one name per category, plus the name a null (code -1, the last entry) takes
        names = clean(pd.Series(np.append(np.asarray(values.cat.categories, dtype=object), None))).to_numpy()
        used = np.unique(codes)
        labels, inverse = np.unique(names[used], return_inverse=True)
        position = np.full(len(names), -1, dtype=np.int64)
        position[used] = inverse.reshape(-1)
        return labels, position[codes]
    labels, inverse = np.unique(clean(values).to_numpy(), return_inverse=True)
    return labels, inverse.reshape(-1)


def feature_matrix(lines: pd.DataFrame, bands: pd.Series) -> Features:
    """Per-customer category / price band / discount mix from purchase lines."""
    amount = lines["line_amount"].astype(float).clip(lower=0) if "line_amount" in lines else pd.Series(1.0, index=lines.index)
    amount = amount.where(amount > 0, 1e-6).to_numpy()
    category = lines["category"] if "category" in lines else pd.Series("uncategorised", index=lines.index)
    cats, col_cat = _labels(category, lambda names: names.astype(object).fillna("uncategorised").astype(str))
    products, product_row = _labels(lines["product_id"])
    band_of_product = pd.Index(PRICE_BANDS).get_indexer(bands.reindex(products).fillna("mid").to_numpy())
    customers, row = _labels(lines["customer_id"])
    col_band = len(cats) + band_of_product[product_row]
    d = len(cats) + len(PRICE_BANDS)
    n = len(customers)
    counts = np.zeros((n, d))
    spend = np.zeros((n, d))
    np.add.at(counts, (row, col_cat), 1.0)
    np.add.at(counts, (row, col_band), 1.0)
    np.add.at(spend, (row, col_cat), amount)
    np.add.at(spend, (row, col_band), amount)
    discounted = (lines["discount"].fillna(0).astype(float) > 0).to_numpy() if "discount" in lines else np.zeros(len(lines), bool)
    disc = np.bincount(row, weights=amount * discounted, minlength=n)
    revenue = np.bincount(row, weights=amount, minlength=n)
    shares = np.hstack([spend / revenue[:, None], (disc / revenue)[:, None]])
    line_pairs = np.zeros((d, d))
    np.add.at(line_pairs, (col_cat, col_cat), 1.0)
    np.add.at(line_pairs, (col_band, col_band), 1.0)
    np.add.at(line_pairs, (col_cat, col_band), 1.0)
    np.add.at(line_pairs, (col_band, col_cat), 1.0)
    names = [f"category={c}" for c in cats] + [f"price={b}" for b in PRICE_BANDS] + ["discount"]
    return Features(customers, shares, names, counts, line_pairs, revenue)


def co_purchase_mix(f: Features) -> np.ndarray:
    """Each customer's mix smoothed by the shop's co-purchases.

    ``P[a, b]``: among pairs of *different* lines of the same customer, the
    share whose second line has category (or band) ``b`` given that the first
    has ``a`` (one distribution over categories and one over bands). A
    customer's row is their line mix times ``P``: the expected mix of
    another line they buy. A customer with one line thus lands with the
    customers whose baskets hold that line's category together with others.
    """
    n_cat = f.counts.shape[1] - len(PRICE_BANDS)
    pairs = f.counts.T @ f.counts - f.line_pairs
    blocks = [slice(0, n_cat), slice(n_cat, None)]
    p = np.zeros_like(pairs)
    for b in blocks:
        total = pairs[:, b].sum(axis=1, keepdims=True)
        p[:, b] = np.where(total > 0, pairs[:, b] / np.maximum(total, 1e-12), 0.0)
    mix = np.zeros_like(f.counts)
    for b in blocks:
        part = f.counts[:, b]
        mix[:, b] = part / np.maximum(part.sum(axis=1, keepdims=True), 1e-12)
    return mix @ p / len(blocks)


@dataclass
class ProfileFit:
    customers: np.ndarray
    embedding: np.ndarray  # (n, r)
    labels: np.ndarray  # (n,)
    names: list[str]  # per profile
    traits: list[str]  # per profile
    n_components: int
    n_profiles: int
    silhouette: float
    silhouette_by_k: dict
    explained_energy: float


def svd_embedding(x: np.ndarray, energy: float, max_components: int) -> tuple[np.ndarray, float]:
    """Rows projected on the fewest right singular vectors holding ``energy`` of ||X||^2."""
    x = x - x.mean(axis=0)
    gram = x.T @ x
    vals, vecs = np.linalg.eigh(gram)
    order = np.argsort(vals)[::-1]
    vals, vecs = np.clip(vals[order], 0, None), vecs[:, order]
    # A fixed sign per component (largest loading positive) keeps runs identical.
    signs = np.sign(vecs[np.abs(vecs).argmax(axis=0), np.arange(vecs.shape[1])])
    vecs = vecs * np.where(signs == 0, 1, signs)
    share = np.cumsum(vals) / max(vals.sum(), 1e-12)
    r = int(min(np.searchsorted(share, energy - 1e-12) + 1, max_components, x.shape[1]))
    return x @ vecs[:, :r], float(share[r - 1])


MIN_TRAIT_SHARE, MIN_TRAIT_LIFT, NAME_TRAITS, SHOWN_TRAITS = 0.10, 1.2, 2, 4


def ranked_traits(center: np.ndarray, overall: np.ndarray) -> list[int]:
    """Feature indexes of a profile's distinctive traits, most distinctive first.

    A trait is distinctive when its share in the profile is >= MIN_TRAIT_SHARE
    and >= MIN_TRAIT_LIFT times the shop's. Traits are ranked by their part of
    the profile's divergence from the shop, ``share * ln(share / shop share)``:
    a large share a little above the shop's outranks a rare trait that is
    many times the shop's but touches few lines. Ties go to the lower index.
    """
    lift = center / np.maximum(overall, 1e-9)
    keep = [i for i in range(len(center)) if center[i] >= MIN_TRAIT_SHARE and lift[i] >= MIN_TRAIT_LIFT]
    score = {i: center[i] * np.log(lift[i]) for i in keep}
    return sorted(keep, key=lambda i: (-score[i], i))


def _word(feature: str) -> str:
    return "discount-driven" if feature == "discount" else feature.split("=", 1)[1]


def name_profile(center: np.ndarray, overall: np.ndarray, names: list[str]) -> tuple[str, str]:
    """``(profile name, traits)``, both from the same ranked traits (:func:`ranked_traits`).

    The name is made of the first NAME_TRAITS ranked traits, no other:
    "discount-driven" first, then a price band, then categories joined by
    "&", then "buyers" (e.g. "premium beauty buyers"); a profile without a
    distinctive trait is "mixed-basket buyers". The traits text lists the
    first SHOWN_TRAITS ranked traits in rank order, with the profile's share
    and its ratio to the shop's, so the name's traits are always the first
    ones shown.
    """
    lift = center / np.maximum(overall, 1e-9)
    ranked = ranked_traits(center, overall)
    if not ranked:
        return "mixed-basket buyers", ""
    named = ranked[:NAME_TRAITS]
    order = {"discount": 0, "price": 1, "category": 2}
    words = sorted(named, key=lambda i: (order[names[i].split("=")[0]], named.index(i)))
    cats = [_word(names[i]) for i in words if names[i].startswith("category=")]
    parts = [_word(names[i]) for i in words if not names[i].startswith("category=")]
    if cats:
        parts.append(" & ".join(cats))
    traits = "; ".join(f"{names[i]} {center[i]:.0%} (x{lift[i]:.1f})" for i in ranked[:SHOWN_TRAITS])
    return " ".join(parts) + " buyers", traits


def fit_profiles(customers: np.ndarray, z: np.ndarray, x: np.ndarray, feature_names: list[str],
                 cfg: ProfileConfig) -> ProfileFit:
    """Embed ``z``, cluster with the silhouette-best k, name the clusters from ``x``'s traits."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        return _fit_profiles(customers, z, x, feature_names, cfg)


def _fit_profiles(customers: np.ndarray, z: np.ndarray, x: np.ndarray, feature_names: list[str],
                  cfg: ProfileConfig) -> ProfileFit:
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    emb, energy = svd_embedding(z, cfg.energy, cfg.max_components)
    rng = np.random.default_rng(cfg.seed)
    n = len(customers)
    fit_rows = np.sort(rng.choice(n, size=min(n, FIT_SAMPLE), replace=False))
    sil_rows = np.sort(rng.choice(n, size=min(n, cfg.silhouette_sample), replace=False))
    scores, models = {}, {}
    n_distinct = len(np.unique(np.round(emb[fit_rows], 9), axis=0))
    for k in range(2, min(cfg.max_profiles, n_distinct) + 1):
        km = KMeans(n_clusters=k, n_init=cfg.n_init, random_state=cfg.seed).fit(emb[fit_rows])
        labels = km.predict(emb[sil_rows])
        # a silhouette needs 2 .. n - 1 labels: k customers in k profiles have none (an export
        # of a few store accounts turned the build red here)
        if not 2 <= len(np.unique(labels)) <= len(sil_rows) - 1:
            continue
        scores[k] = float(silhouette_score(emb[sil_rows], labels))
        models[k] = km
    if not scores:
        labels = np.zeros(n, dtype=np.int64)
        best, sil = 1, 0.0
    else:
        best = max(scores, key=lambda k: (scores[k], -k))
        sil = scores[best]
        labels = models[best].predict(emb).astype(np.int64)
    # Profiles numbered by size (1 = largest), so ids are stable run to run.
    sizes = np.bincount(labels, minlength=best)
    order = np.lexsort((np.arange(best), -sizes))
    relabel = np.empty(best, dtype=np.int64)
    relabel[order] = np.arange(best)
    labels = relabel[labels]
    overall = x.mean(axis=0)
    names, traits = [], []
    for p in range(best):
        label, trait = name_profile(x[labels == p].mean(axis=0), overall, feature_names)
        if label in names:
            label = f"{label} ({p + 1})"
        names.append(label)
        traits.append(trait)
    return ProfileFit(customers, emb, labels, names, traits, emb.shape[1], best, sil, scores, energy)
