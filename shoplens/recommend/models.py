"""The recommenders: popularity, item-to-item and implicit ALS, with the same verbs.

Each model is fitted on an :class:`~shoplens.recommend.data.Interactions`
matrix and answers ``recommend(rows, k) -> (items, scores)``: two ``(len(rows),
k)`` arrays of product column indexes (best first, -1 past the catalogue's
end) and scores. Lists include products the customer already bought: the
shop sells repeat purchases, and the list is "what this customer is likely to
buy next" (the flag ``is_previously_bought`` lets a CRM keep only new ones).
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from shoplens.recommend.data import on_or_before

#: Scores ranked at once (rows x products): ranking copies its block a few times
#: (argpartition's int64 indexes are twice a float32 block), so whole batches of 20,000
#: customers x 2,000 products on two threads held 1.3 GiB more than blocks of 4M scores.
BATCH_SCORES = 4_000_000


def rows_per_batch(n_columns: int, cap: int = 20_000) -> int:
    """How many rows to rank (or score) at once against ``n_columns`` products (:data:`BATCH_SCORES`)."""
    return int(max(1, min(cap, BATCH_SCORES // max(1, n_columns))))


def top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Indexes and values of the ``k`` largest scores per row, best first (deterministic).

    Rows are ranked in blocks of :func:`rows_per_batch` (each row on its own, so the
    result does not depend on the block)."""
    block = rows_per_batch(scores.shape[1])
    if scores.shape[0] > block:
        parts = [_top_k(scores[lo : lo + block], k) for lo in range(0, scores.shape[0], block)]
        return np.vstack([p[0] for p in parts]), np.vstack([p[1] for p in parts])
    return _top_k(scores, k)


def _top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    n, m = scores.shape
    k_eff = min(k, m)
    part = np.argpartition(-scores, k_eff - 1, axis=1)[:, :k_eff] if k_eff < m else np.tile(np.arange(m), (n, 1))
    vals = np.take_along_axis(scores, part, axis=1)
    order = np.lexsort((part, -vals), axis=1)
    items = np.take_along_axis(part, order, axis=1)
    vals = np.take_along_axis(vals, order, axis=1)
    if k_eff < k:
        items = np.hstack([items, np.full((n, k - k_eff), -1)])
        vals = np.hstack([vals, np.full((n, k - k_eff), np.nan)])
    return items, vals


@dataclass
class Popularity:
    """Products ranked by distinct buyers in the last ``days`` days before ``end``.

    Falls back to all history when that window holds fewer than ``k``
    products; ties go to the lower product id. Score = share of the window's
    buyers who bought the product.
    """

    days: int
    scores: np.ndarray | None = None

    def fit(self, lines: pd.DataFrame, products: np.ndarray, end: dt.date, k: int) -> Popularity:
        start = end - dt.timedelta(days=self.days - 1)
        part = lines.loc[on_or_before(lines["order_date"], end)]
        recent = part.loc[~on_or_before(part["order_date"], start - dt.timedelta(days=1))]
        if recent["product_id"].nunique() < k:
            recent = part
        n_buyers = max(recent["customer_id"].nunique(), 1)
        counts = recent.drop_duplicates(["customer_id", "product_id"]).groupby("product_id", observed=True).size()
        self.scores = counts.reindex(products).fillna(0).to_numpy(np.float64) / n_buyers
        return self

    def ranking(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        assert self.scores is not None, "fit first"
        items, vals = top_k(self.scores[None, :], k)
        return items[0], vals[0]

    def recommend(self, rows: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        items, vals = self.ranking(k)
        return np.tile(items, (len(rows), 1)), np.tile(vals, (len(rows), 1))


def affinity_from_lines(lines: pd.DataFrame, end: dt.date, min_support: int, top_n: int) -> pd.DataFrame:
    """Item-to-item co-occurrence, as the SQL mart ``product_affinity`` defines it.

    For products a and b != a: ``n_customers_both`` = customers who bought
    both by ``end``; kept when >= ``min_support``; ``cosine = n_both /
    sqrt(n_a n_b)``, ``lift = n_both N / (n_a n_b)`` (N = buying customers);
    the ``top_n`` related products per product by cosine (then lift, then id).
    Used by tests and benches; dbt reads the mart.
    """
    cp = lines.loc[on_or_before(lines["order_date"], end), ["customer_id", "product_id"]].drop_duplicates()
    n_total = cp["customer_id"].nunique()
    n_prod = cp.groupby("product_id", observed=True).size()
    pairs = cp.merge(cp, on="customer_id", suffixes=("", "_related"))
    pairs = pairs.loc[pairs["product_id"] != pairs["product_id_related"]]
    both = pairs.groupby(["product_id", "product_id_related"], observed=True).size().rename("n_customers_both").reset_index()
    both = both.loc[both["n_customers_both"] >= min_support].rename(columns={"product_id_related": "related_product_id"})
    # ids as text: a categorical sorts by its codes, whose order follows the order the lines were
    # read in, so ties in cosine and lift would break differently from one build to the next
    both[["product_id", "related_product_id"]] = both[["product_id", "related_product_id"]].astype(str)
    n_a = n_prod.reindex(both["product_id"]).to_numpy(np.float64)
    n_b = n_prod.reindex(both["related_product_id"]).to_numpy(np.float64)
    both["cosine"] = both["n_customers_both"] / np.sqrt(n_a * n_b)
    both["lift"] = both["n_customers_both"] * n_total / (n_a * n_b)
    both = both.sort_values(["product_id", "cosine", "lift", "related_product_id"], ascending=[True, False, False, True])
    both["related_rank"] = both.groupby("product_id", observed=True).cumcount() + 1
    return both.loc[both["related_rank"] <= top_n].reset_index(drop=True)


@dataclass
class ItemToItem:
    """Score = sum over the customer's bought products of their cosine to the candidate.

    Reads the ``product_affinity`` table; lists are padded with the
    popularity ranking when a customer's neighbours give fewer than k
    products.
    """

    similarity: sp.csr_matrix
    popularity: Popularity

    @classmethod
    def from_affinity(cls, affinity: pd.DataFrame, products: np.ndarray, popularity: Popularity) -> ItemToItem:
        index = pd.Index(products)
        a = index.get_indexer(affinity["product_id"].astype(str))
        b = index.get_indexer(affinity["related_product_id"].astype(str))
        keep = (a >= 0) & (b >= 0)
        sim = sp.csr_matrix(
            (affinity["cosine"].to_numpy(np.float64)[keep], (a[keep], b[keep])), shape=(len(products), len(products))
        )
        return cls(sim, popularity)

    def recommend_from(self, user_items: sp.csr_matrix, k: int, batch: int | None = None
                       ) -> tuple[np.ndarray, np.ndarray]:
        batch = batch or rows_per_batch(self.similarity.shape[1])
        pop_items, _ = self.popularity.ranking(k)
        out_i, out_v = [], []
        binary = user_items.copy()
        binary.data[:] = 1.0
        for lo in range(0, binary.shape[0], batch):
            scores = (binary[lo : lo + batch] @ self.similarity).toarray()
            # Popularity breaks in below every neighbour score, in its own order.
            bonus = np.zeros(scores.shape[1])
            valid = pop_items[pop_items >= 0]
            bonus[valid] = 1e-9 * (len(valid) - np.arange(len(valid)))
            items, vals = top_k(scores + bonus[None, :], k)
            out_i.append(items)
            out_v.append(vals)
        return np.vstack(out_i), np.vstack(out_v)


@dataclass
class ALS:
    """Implicit-feedback matrix factorisation (Hu, Koren & Volinsky 2008) with ``implicit``.

    Confidence ``1 + alpha * count``; CPU solver, fixed ``seed`` and
    ``num_threads`` so a fit is reproducible.
    """

    factors: int
    alpha: float
    regularization: float
    iterations: int
    seed: int
    num_threads: int = 1
    model: object = None
    folded_from: int | None = None  # customers the item factors were fitted on, when the rest were folded in

    @property
    def tag(self) -> str:
        return f"als_f{self.factors}_a{self.alpha:g}_r{self.regularization:g}_i{self.iterations}"

    def fit(self, matrix: sp.csr_matrix, item_factors: np.ndarray | None = None) -> ALS:
        """Fit for ``iterations`` from random factors, or from ``item_factors`` (one row per
        column of ``matrix``) with random customer factors (a warm start)."""
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
        from implicit.cpu.als import AlternatingLeastSquares
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1, "blas"):  # implicit warns at construction when BLAS has a thread pool
            self.model = AlternatingLeastSquares(
                factors=self.factors, regularization=self.regularization, alpha=self.alpha,
                iterations=self.iterations, random_state=self.seed, num_threads=self.num_threads,
            )
        if item_factors is not None:
            if item_factors.shape != (matrix.shape[1], self.factors):
                raise ValueError(f"item factors {item_factors.shape} do not fit a {matrix.shape[1]}-column "
                                 f"matrix with {self.factors} factors")
            # implicit draws only the factors it is not given, and updates them in place: a copy
            self.model.item_factors = np.array(item_factors, dtype=np.float32, order="C", copy=True)
        return self._run(matrix, self.iterations)

    @property
    def item_factors(self) -> np.ndarray:
        assert self.model is not None, "fit first"
        return np.asarray(self.model.item_factors, dtype=np.float32)

    def resume(self, matrix: sp.csr_matrix, iterations: int) -> ALS:
        """Continue a fitted model for ``iterations`` more ALS iterations on the same matrix.

        ``implicit`` keeps the factors it has, so ``fit`` for n and then
        ``resume`` for m gives the factors of one fit for n + m iterations.
        """
        assert self.model is not None, "fit first"
        self.iterations += iterations
        return self._run(matrix, iterations)

    def fold_in(self, matrix: sp.csr_matrix, fitted_on: int) -> ALS:
        """Every row's customer factors solved against the fitted item factors (a fold-in).

        The customer half of one ALS iteration on ``matrix`` (the same
        columns as the fit's), with the fit's own solver and steps
        (``implicit``'s conjugate gradient, from zero factors). A row with no
        interactions gets zero factors. ``fitted_on``: how many customers the
        item factors were fitted on (recorded in ``folded_from``).
        """
        from threadpoolctl import threadpool_limits

        assert self.model is not None, "fit first"
        items = np.asarray(self.model.item_factors, dtype=np.float32)
        if matrix.shape[1] != items.shape[0]:
            raise ValueError(f"a {matrix.shape[1]}-column matrix cannot be folded into {items.shape[0]} item factors")
        confidence = matrix.tocsr().astype(np.float32)  # a copy: scaled in place below
        if self.alpha != 1.0:  # as implicit's fit scales its input (float32 products)
            confidence.data *= np.float32(self.alpha)
        users = np.zeros((matrix.shape[0], items.shape[1]), dtype=np.float32)
        with threadpool_limits(1, "blas"):
            self.model.solver(confidence, users, items, self.regularization, num_threads=self.num_threads)
        self.model.user_factors = users
        self.model._user_norms = None  # implicit caches norms of the factors it had
        self.model._XtX = None
        self.folded_from = int(fitted_on)
        return self

    def _run(self, matrix: sp.csr_matrix, iterations: int) -> ALS:
        from threadpoolctl import threadpool_limits

        self.model.iterations = iterations
        with threadpool_limits(1, "blas"):
            self.model.fit(matrix.tocsr().astype(np.float32), show_progress=False)
        return self

    def recommend_from(self, user_items: sp.csr_matrix, rows: np.ndarray, k: int,
                       batch: int = 20_000) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` for the given matrix rows (already-bought products included).

        Scores are the dot products of the fitted factors, ranked in batches
        with NumPy (``user_items`` is unused: nothing is filtered out).
        """
        from concurrent.futures import ThreadPoolExecutor

        from threadpoolctl import threadpool_limits

        users = np.asarray(self.model.user_factors, dtype=np.float32)
        items = np.asarray(self.model.item_factors, dtype=np.float32)

        # written in place: stacking the batches' lists would hold every list twice (1M customers: 0.16 GiB)
        out_idx, out_vals = np.zeros((len(rows), k), np.int64), np.zeros((len(rows), k))

        def one(lo: int) -> None:
            idx, vals = top_k(users[rows[lo : lo + batch]] @ items.T, k)
            out_idx[lo : lo + len(idx)] = idx
            out_vals[lo : lo + len(idx)] = vals

        # NumPy releases the GIL in matmul and argpartition: batches run on num_threads cores.
        # BLAS itself stays on one thread: a multi-threaded sgemm sums in another order and
        # rounding flips near-tied products at the list's end. A generated 10k shop's best
        # validation recall was 0.7477 / 0.7438 in processes started with OPENBLAS_NUM_THREADS
        # 1 / 2 (another verdict); with this limit 0.7476 / 0.7477 (the same verdict: the factors
        # themselves still differ in float32 rounding between the two settings).
        with threadpool_limits(1, "blas"), ThreadPoolExecutor(max_workers=self.num_threads) as pool:
            list(pool.map(one, range(0, len(rows), batch)))
        return out_idx, out_vals
