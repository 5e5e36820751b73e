"""Memory of building the recommendation lists' frame at 1M customers (by hand, no record).

Usage: python bench/bench_recommend_frame.py old|new

Builds a frame shaped like ``ml_product_recommendations`` (1,050,000
customers x 10 lists, the same column types) from synthetic arrays, either as
the code did before 69bfe97 (``pd.DataFrame(columns)[RECOMMENDATION_COLUMNS]``:
a consolidating copy and a reordering copy) or as it does now
(``pd.DataFrame(columns, copy=False)`` with the index arrays dropped first),
and prints this process's peak resident set size above the inputs. Run each
mode in its own process: the peak is per process.
"""

from __future__ import annotations

import resource
import sys

import numpy as np
import pandas as pd


def rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def main(mode: str) -> None:
    n_customers, k = 1_050_000, 10
    rng = np.random.default_rng(0)
    items = rng.integers(0, 300, (n_customers, k))
    scores = rng.random((n_customers, k)).astype(np.float32)
    customers = np.array([f"C{i:08d}" for i in range(n_customers)], dtype=object)
    products = np.array([f"P{i:05d}" for i in range(300)], dtype=object)
    n_orders = rng.integers(0, 5, n_customers)
    code = rng.integers(-1, 2, n_customers).astype(np.int8)
    base = rss_gib()
    r, c = np.nonzero(items >= 0)
    chosen = items[r, c]
    n = len(r)
    is_fallback = code[r] >= 0
    columns = {
        "customer_id": pd.Categorical.from_codes(r.astype(np.int32), customers),
        "recommendation_rank": (c + 1).astype(np.int32),
        "product_id": pd.Categorical.from_codes(chosen.astype(np.int32), products),
        "score": scores[r, c].astype(np.float64),
        "served_model": pd.Categorical.from_codes(is_fallback.astype(np.int8), ["als", "popularity"]),
        "is_fallback": is_fallback,
        "fallback_reason": pd.Categorical.from_codes(code[r] + 1, ["a", "b", "c"]),
        "is_previously_bought": np.zeros(n, bool),
        "n_purchase_orders": n_orders[r].astype(np.int32),
        "as_of_date": np.full(n, np.datetime64("2025-01-01", "D")),
    }
    if mode == "old":
        frame = pd.DataFrame(columns)[list(columns)]
    else:
        del r, c, chosen, is_fallback
        frame = pd.DataFrame(columns, copy=False)
    print(f"{mode}: inputs {base:.2f} GiB, peak {rss_gib():.2f} GiB ({rss_gib() - base:.2f} above),"
          f" frame {frame.memory_usage(deep=False).sum() / 2**30:.2f} GiB")


if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in ("old", "new"):
        sys.exit(__doc__.split("\n\n")[1])
    main(sys.argv[1])
