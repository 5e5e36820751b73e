"""Ranking metrics at k on a time-based holdout (or validation window).

For each evaluated customer, ``truth`` is the set of products bought in the
window (known products only). With ``rec`` the top-k list:

* hit rate: share of customers with at least one bought product in the list;
* recall: |list & truth| / |truth|, averaged over customers;
* NDCG: DCG of the list (gain 1 per bought product, discount log2(rank+1))
  over the ideal DCG of min(|truth|, k) hits, averaged;
* catalogue coverage: distinct products in all evaluated lists / products
  in the catalogue (every product bought by the cut-off).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def per_customer_hits(items: np.ndarray, truth: sp.csr_matrix) -> np.ndarray:
    """(n, k) booleans: whether the product at each rank was bought in the window."""
    n, k = items.shape
    hits = np.zeros((n, k), dtype=bool)
    truth = truth.tocsr()
    for j in range(k):
        col = items[:, j]
        ok = col >= 0
        if not ok.any():
            # no list reaches this rank (a catalogue shorter than k): scipy's empty fancy
            # index returns a sparse matrix, not an array
            continue
        hits[ok, j] = np.asarray(truth[np.nonzero(ok)[0], col[ok]]).ravel() > 0
    return hits


def ranking_metrics(items: np.ndarray, truth: sp.csr_matrix, n_catalogue: int) -> dict[str, object]:
    """Hit rate, recall, NDCG and coverage at k = ``items.shape[1]``; per-customer recall too."""
    n, k = items.shape
    n_true = np.asarray(truth.sum(axis=1)).ravel()
    if n == 0 or (n_true == 0).any():
        raise ValueError("evaluate only customers with at least one bought product in the window")
    hits = per_customer_hits(items, truth)
    n_hits = hits.sum(axis=1)
    discount = 1.0 / np.log2(np.arange(2, k + 2))
    dcg = (hits * discount[None, :]).sum(axis=1)
    ideal = np.cumsum(discount)[np.minimum(n_true, k).astype(int) - 1]
    recall = n_hits / n_true
    shown = np.unique(items[items >= 0])
    return {
        "hit_rate": float((n_hits > 0).mean()),
        "recall": float(recall.mean()),
        "ndcg": float((dcg / ideal).mean()),
        "coverage": float(shown.size / max(n_catalogue, 1)),
        "recall_per_customer": recall,
        "n": int(n),
    }


def paired_margin(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Mean and standard error of the per-customer difference ``a - b``."""
    d = np.asarray(a, float) - np.asarray(b, float)
    if d.size < 2:
        return float(d.mean()) if d.size else 0.0, float("inf")
    return float(d.mean()), float(d.std(ddof=1) / np.sqrt(d.size))
