"""Which recommender to serve: ALS candidates against popularity on a validation cut-off before ``as_of_date``.

The rule, on the window ``(as_of - validation_days, as_of]`` only (never the
holdout): every ALS candidate (factors x alpha, screened: see ``_grid``) is
fitted on purchases alone and, when the shop has browsing events before the
cut-off, on purchases plus browsing. For each feedback the candidate picked
is the cheapest one whose validation recall@k is within ``parsimony_se``
standard errors of that feedback's best (:func:`parsimonious`). Browsing is
kept only when its pick's recall beats the purchases-only pick's by more
than ``fallback_z`` standard errors of the paired per-customer difference
(an extra input must earn its place by more than noise). ALS is then served
only if the kept pick beats popularity by the same rule.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
import scipy.sparse as sp

from shoplens import __version__
from shoplens.recommend.config import RecommendConfig, screens, served_iterations
from shoplens.recommend.data import (
    Interactions,
    bought_in_window,
    browsed_by,
    interactions,
    on_or_before,
    sample_rows,
)
from shoplens.recommend.evaluation import paired_margin, ranking_metrics
from shoplens.recommend.models import ALS, Popularity


@dataclass
class Selection:
    """The validation cut-off's verdict: which model to serve, and why."""

    served: str  # "als" or "popularity"
    reason: str  # "" when ALS is served
    factors: int
    alpha: float
    cutoff: dt.date
    window_end: dt.date
    candidates: dict = field(default_factory=dict)  # tag -> validation recall
    popularity_recall: float = float("nan")
    margin: float = float("nan")
    margin_se: float = float("nan")
    n_customers: int = 0
    browsing: bool = False  # ALS fitted on purchases + browsing
    browsing_note: str = ""  # what became of browsing; every verdict of _select_model sets it
    # "purchases" / "browsing" -> (that feedback's pick, the digest of its validation matrix)
    picks: dict = field(default_factory=dict)
    iterations: int | None = None  # of the served ALS (None: the config's iterations)
    pick_note: str = ""  # why this candidate among those of its feedback
    validation_rows: np.ndarray | None = None  # the customers the picks' lists (``Scored.items``) are for
    validation_products: np.ndarray | None = None  # the columns of the picks' item factors

    def als(self, cfg: RecommendConfig, feedback: str | None = None) -> ALS:
        """The served ALS, or the candidate picked among those fitted on ``feedback`` ("purchases" or "browsing")."""
        pick = self.picks.get(feedback)
        factors, alpha, iterations = ((pick[0].factors, pick[0].alpha, pick[0].iterations) if pick else
                                      (self.factors, self.alpha, self.iterations or cfg.iterations))
        return ALS(factors, alpha, cfg.regularization, iterations, cfg.seed, cfg.num_threads)

    def served_fit(self, cfg: RecommendConfig, matrix: sp.csr_matrix, products: np.ndarray) -> ALS:
        """The served ALS fitted on ``matrix`` (columns: ``products``).

        With ``warm_start`` it starts from the item factors of the pick's
        validation fit (a product the validation did not know starts random,
        seeded) and runs :func:`~shoplens.recommend.config.served_iterations`;
        otherwise it is the pick refitted from random factors.

        Above ``served_max_customers`` customers with any interaction, the
        item factors are fitted on a seeded sample of that many of them and
        every customer's factors are then solved against them
        (:meth:`~shoplens.recommend.models.ALS.fold_in`).
        """
        model = self.als(cfg, self.served_feedback)  # the served pick's settings
        init = self.warm_factors(cfg, products)
        if init is not None:
            model.iterations = self.warm_iterations(cfg)
        sample = served_sample(matrix, cfg)
        if sample is None:
            return model.fit(matrix, item_factors=init)
        model.fit(matrix[sample], item_factors=init)
        return model.fold_in(matrix, len(sample))

    @property
    def served_feedback(self) -> str:
        """The feedback of the served ALS: "browsing" (purchases + browsing) or "purchases"."""
        return "browsing" if self.browsing else "purchases"

    def warm_iterations(self, cfg: RecommendConfig) -> int | None:
        """Iterations of the served ALS fit when it is warm-started (None: it is not, or
        popularity is served)."""
        pick = self.picks.get(self.served_feedback)
        if (self.served != "als" or not cfg.warm_start or pick is None or pick[0].item_factors is None
                or self.validation_products is None):
            return None
        return served_iterations(cfg, pick[0].iterations)

    def warm_factors(self, cfg: RecommendConfig, products: np.ndarray) -> np.ndarray | None:
        """The pick's validation item factors in the order of ``products`` (None: no warm start)."""
        if self.warm_iterations(cfg) is None:
            return None
        factors = self.picks[self.served_feedback][0].item_factors
        init = np.random.default_rng(cfg.seed).random((len(products), factors.shape[1]), dtype=np.float32) * 0.01
        pos = pd.Index(self.validation_products).get_indexer(np.asarray(products))
        init[pos >= 0] = factors[pos[pos >= 0]]
        return init

    def tag(self, cfg: RecommendConfig) -> str:
        """The ALS tag, with the browsing weights when browsing is used."""
        return self.als(cfg).tag + (browsing_tag(cfg) if self.browsing else "")

    def top_k(self, cfg: RecommendConfig, feedback: str, matrix: sp.csr_matrix, rows: np.ndarray) -> np.ndarray:
        """Top ``k`` of ``feedback``'s pick for ``rows`` of ``matrix``: the validation's lists when the
        matrix and rows are the validation's own (a backtest on the validation window), else a new fit."""
        known = self.picks.get(feedback)
        if known is not None and known[1] == fingerprint(matrix) and np.array_equal(self.validation_rows, rows) \
                and known[0].items.shape[1] == cfg.top_k:
            return known[0].items.copy()  # the kept verdict's own array stays untouched
        return self.als(cfg, feedback).fit(matrix).recommend_from(matrix, rows, cfg.top_k)[0]


def served_sample(matrix: sp.csr_matrix, cfg: RecommendConfig) -> np.ndarray | None:
    """The rows the served ALS fits its item factors on: a seeded sample of ``served_max_customers``
    of the rows with any interaction, or None (every row) when there are not more of them than that."""
    active = np.flatnonzero(np.diff(matrix.tocsr().indptr) > 0)
    if len(active) <= cfg.served_max_customers:
        return None
    return active[sample_rows(len(active), cfg.served_max_customers, cfg.seed)]


def fingerprint(matrix: sp.csr_matrix) -> str:
    """A digest of a sparse matrix's shape and contents (equal matrices built alike: equal digests)."""
    m = matrix.tocsr()
    h = hashlib.blake2b(digest_size=16)
    h.update(np.asarray(m.shape, np.int64).tobytes())
    for part in (m.indptr, m.indices, m.data):
        h.update(np.ascontiguousarray(part).tobytes())
    return h.hexdigest()


NO_EVENTS = "purchases only: the shop has no browsing events (customer_product_browsing is empty)"


def browsing_tag(cfg: RecommendConfig) -> str:
    return f"+browsing_v{cfg.view_weight:g}_c{cfg.cart_weight:g}"


def warm_with_purchases(inter: Interactions, truth, min_orders: int) -> np.ndarray:
    has = np.asarray(truth.sum(axis=1)).ravel() > 0
    return np.nonzero(has & (inter.n_orders >= min_orders))[0]


@dataclass
class Scored:
    """One ALS candidate scored on the validation window."""

    tag: str  # the ALS tag (with the browsing weights when fitted on browsing)
    factors: int
    alpha: float
    iterations: int
    position: int  # in the factors x alpha grid
    metrics: dict
    items: np.ndarray  # top-k of the validation rows
    item_factors: np.ndarray | None = field(default=None, repr=False)  # kept for the picks only

    @property
    def cost(self) -> int:
        """Relative fit cost: ALS work grows with factors and iterations."""
        return self.factors * self.iterations

    @property
    def recall(self) -> float:
        return self.metrics["recall"]


def _grid(inter: Interactions, rows: np.ndarray, truth, cfg: RecommendConfig, suffix: str) -> list[Scored]:
    """Every scored ALS candidate, in fit order.

    Screening (config): each candidate is fitted for ``screen_iterations``
    and scored; the ``screen_keep`` best (ties: grid order) continue to
    ``iterations`` and are scored again. Each score's tag names its
    iterations; :func:`parsimonious` picks among them.
    """
    grid = [(f, a) for f in cfg.factors_grid for a in cfg.alpha_grid]
    screen = screens(cfg)
    first = cfg.screen_iterations if screen else cfg.iterations
    scored: list[Scored] = []

    def score(model: ALS, pos: int) -> Scored:
        items = model.recommend_from(inter.matrix, rows, cfg.top_k)[0]
        m = ranking_metrics(items, truth[rows], inter.shape[1])
        scored.append(Scored(model.tag + suffix, model.factors, model.alpha, model.iterations, pos, m, items,
                             model.item_factors.copy()))
        return scored[-1]

    kept: list[tuple] = []  # (recall, grid position, model), best first; only the survivors' models
    for pos, (factors, alpha) in enumerate(grid):
        model = ALS(factors, alpha, cfg.regularization, first, cfg.seed, cfg.num_threads).fit(inter.matrix)
        s = score(model, pos)
        if screen:
            kept = sorted([*kept, (s.recall, pos, model)], key=lambda e: (-e[0], e[1]))[: cfg.screen_keep]
    for _, pos, model in sorted(kept, key=lambda entry: entry[1]):
        score(model.resume(inter.matrix, cfg.iterations - first), pos)
    return scored


def parsimonious(scored: list[Scored], parsimony_se: float) -> tuple[Scored, Scored, float]:
    """``(pick, best, se)``: the cheapest candidate within ``parsimony_se`` standard errors of the best.

    ``best`` has the highest validation recall (ties: the cheaper, then grid
    order) and ``se`` is the standard error of its mean per-customer recall.
    ``pick`` is the lowest-cost candidate whose recall is at least
    ``best - parsimony_se * se`` (ties: the higher recall, then grid order):
    the one-standard-error rule, which serves a cheaper model when the
    validation sample cannot tell it from the best.
    """
    best = min(scored, key=lambda s: (-s.recall, s.cost, s.position))
    per = np.asarray(best.metrics["recall_per_customer"], float)
    se = float(per.std(ddof=1) / np.sqrt(per.size)) if per.size > 1 else float("inf")
    if parsimony_se <= 0:
        return best, best, se
    near = [s for s in scored if s.recall >= best.recall - parsimony_se * se]
    return min(near, key=lambda s: (s.cost, -s.recall, s.position)), best, se


def _pick_note(pick: Scored, best: Scored, se: float, cfg: RecommendConfig) -> str:
    if pick is best:
        return f"{best.tag} has the best validation recall@{cfg.top_k} {best.recall:.4f}"
    return (f"{pick.tag} (recall@{cfg.top_k} {pick.recall:.4f}, cost {pick.cost}) is within {cfg.parsimony_se:g} x"
            f" se {se:.4f} of the best {best.tag} ({best.recall:.4f}, cost {best.cost})")


def _validation_data(lines: pd.DataFrame, as_of: dt.date, cfg: RecommendConfig, browsing: pd.DataFrame | None):
    """Purchases-only and (when browsing exists before the cut) with-browsing matrices, truth and rows."""
    cut = as_of - dt.timedelta(days=cfg.validation_days)
    train = lines.loc[on_or_before(lines["order_date"], cut)]
    products = np.sort(train["product_id"].unique())
    everyone = np.sort(train["customer_id"].unique())
    everyone = everyone[sample_rows(len(everyone), cfg.validation_max_customers, cfg.seed)]
    inter = interactions(lines, products, cut, customers=everyone)
    with_browsing = None
    if browsing is not None and browsed_by(browsing, cut).any():
        with_browsing = interactions(lines, products, cut, everyone, browsing, (cfg.view_weight, cfg.cart_weight))
    truth = bought_in_window(lines, products, everyone, cut + dt.timedelta(days=1), as_of)
    return inter, with_browsing, truth, warm_with_purchases(inter, truth, cfg.min_orders)


MIN_VALIDATION_CUSTOMERS = 20  # warm customers who bought in the validation window, to compare models on


def _too_few_reason(lines: pd.DataFrame, seen: np.ndarray, n_rows: int, inter: Interactions, as_of: dt.date,
                    cfg: RecommendConfig) -> str:
    """Why the validation window cannot compare models: its orders and buyers, how many of them
    were warm at the cut-off, ``n_rows`` of whom were scored, and the vars that decide it."""
    cut = as_of - dt.timedelta(days=cfg.validation_days)
    window = lines.loc[~seen & on_or_before(lines["order_date"], as_of), ["customer_id", "order_id"]]
    buyers = pd.unique(window["customer_id"].astype(str))
    before = lines.loc[seen, ["customer_id", "order_id"]]
    orders_by_cut = before.groupby(before["customer_id"].astype(str), observed=True)["order_id"].nunique()
    known = orders_by_cut.reindex(buyers).dropna()
    warm = int((known >= cfg.min_orders).sum())
    scored = ""
    if inter.shape[0] < len(orders_by_cut):
        scored = (f", {n_rows} of them in the seeded sample of {inter.shape[0]} customers it is scored on"
                  " (recommend_validation_max_customers)")
    elif n_rows != warm:
        scored = f", {n_rows} of them bought a product sold before the cut-off (the ones scored)"
    if len(known) >= MIN_VALIDATION_CUSTOMERS:
        fix = ("a lower recommend_min_orders (1 counts every window buyer who had bought before), or a longer"
               " recommend_validation_days (more buyers in the window)")
    else:  # most of the window's buyers are new: no min_orders reaches the minimum
        fix = ("a longer recommend_validation_days (more buyers in the window) or more order history: too few of the"
               " window's buyers had bought before for a lower recommend_min_orders to help")
    return (f"too_few_validation_customers: the validation window {cut + dt.timedelta(days=1)} .. {as_of}"
            f" (recommend_validation_days {cfg.validation_days}) holds {window['order_id'].nunique()} purchase"
            f" orders of {len(buyers)} customers; {len(known)} of them had bought by the cut-off {cut} and {warm}"
            f" had at least recommend_min_orders {cfg.min_orders} purchase orders by then{scored}: models are"
            f" compared on such customers and at least {MIN_VALIDATION_CUSTOMERS} are needed. Fix: {fix}")


def _unvalidated_browsing(browsing: pd.DataFrame | None, cut: dt.date) -> str:
    """What became of browsing when no model was validated (no candidate was fitted with or without it)."""
    if browsing is None:
        return NO_EVENTS
    early = browsed_by(browsing, cut)
    if not early.any():
        return "purchases only: no browsing events before the validation cut-off"
    n = browsing.loc[early, "customer_id"].nunique()
    return (f"browsing not compared: {n} customers browsed before the validation cut-off, but no ALS candidate"
            " was validated")


_SELECTIONS: dict[tuple, Selection] = {}  # the last verdict, by its inputs' content (see select_model)


def _fingerprint(frame: pd.DataFrame | None, columns: tuple[str, ...]) -> tuple[int, int] | None:
    """Row count and order-free sum of row hashes of ``columns``: equal for the same rows in any order."""
    if frame is None:
        return None
    # column by column (no copy of the frame: 13.7M browsing rows at 1M customers), each row's
    # column hashes chained in column order, so equal values in other columns do not cancel out
    row = np.zeros(len(frame), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for col in columns:
            row *= np.uint64(1_000_003)
            row ^= pd.util.hash_pandas_object(frame[col], index=False, categorize=True).to_numpy()
    return len(frame), int(row.sum(dtype=np.uint64))


def select_model(lines: pd.DataFrame, as_of: dt.date, cfg: RecommendConfig,
                 browsing: pd.DataFrame | None = None) -> Selection:
    """Choose ALS's factors, alpha and feedback (browsing or not), and ALS vs popularity (module rule).

    The ALS candidates and popularity are fitted on the lines (and browsing)
    up to the cut-off, on a seeded sample of at most
    ``validation_max_customers`` customers, and scored on the warm customers
    of that sample who bought in the window. Never looks past ``as_of``.
    The verdict is deterministic, so the last one is kept in memory by the
    content of its inputs: dbt-duckdb runs ``ml_product_recommendations``
    and then ``ml_recommend_evaluation`` in one process, and the second
    reuses the first's grid of ALS fits instead of repeating it.
    """
    # evaluation_max_customers, warm_start and served_max_customers only reach the evaluation and the
    # served fit: the verdict never reads them
    verdict_cfg = replace(cfg, evaluation_max_customers=RecommendConfig.evaluation_max_customers,
                          warm_start=RecommendConfig.warm_start,
                          served_max_customers=RecommendConfig.served_max_customers)
    key = (verdict_cfg, as_of, _fingerprint(lines, ("customer_id", "order_id", "product_id", "order_date")),
           _fingerprint(browsing, ("customer_id", "product_id", "event_date", "n_product_views", "n_add_to_carts")))
    if key not in _SELECTIONS:
        _SELECTIONS.clear()
        _SELECTIONS[key] = _select_model(lines, as_of, cfg, browsing)
    return _SELECTIONS[key]


def _select_model(lines: pd.DataFrame, as_of: dt.date, cfg: RecommendConfig,
                  browsing: pd.DataFrame | None) -> Selection:
    """:func:`select_model` without the memory."""
    cut = as_of - dt.timedelta(days=cfg.validation_days)
    first = (cfg.factors_grid[0], cfg.alpha_grid[0])
    seen = on_or_before(lines["order_date"], cut)
    if not seen.any() or seen.all():
        return Selection("popularity", "no_validation_window: no purchases before or after the validation cut-off "
                         f"{cut} (lower recommend_validation_days)", *first, cut, as_of,
                         browsing_note=_unvalidated_browsing(browsing, cut))
    inter, with_browsing, truth, rows = _validation_data(lines, as_of, cfg, browsing)
    if len(rows) < MIN_VALIDATION_CUSTOMERS:
        return Selection("popularity", _too_few_reason(lines, seen, len(rows), inter, as_of, cfg), *first, cut,
                         as_of, n_customers=len(rows), browsing_note=_unvalidated_browsing(browsing, cut))
    pop = Popularity(cfg.popularity_days).fit(lines, inter.products, cut, cfg.top_k)
    pop_m = ranking_metrics(pop.recommend(rows, cfg.top_k)[0], truth[rows], inter.shape[1])
    scored = _grid(inter, rows, truth, cfg, "")
    pick, best, se = parsimonious(scored, cfg.parsimony_se)
    pick_note = _pick_note(pick, best, se, cfg)
    picks = {"purchases": (pick, fingerprint(inter.matrix))}
    uses_browsing = False
    note = NO_EVENTS if browsing is None else "purchases only: no browsing events before the validation cut-off"
    if with_browsing is not None:
        b_scored = _grid(with_browsing, rows, truth, cfg, browsing_tag(cfg))
        scored += b_scored
        b_pick, b_best, b_se = parsimonious(b_scored, cfg.parsimony_se)
        picks["browsing"] = (b_pick, fingerprint(with_browsing.matrix))
        gain, gain_se = paired_margin(b_pick.metrics["recall_per_customer"], pick.metrics["recall_per_customer"])
        uses_browsing = gain > cfg.fallback_z * gain_se
        note = (f"{'with browsing' if uses_browsing else 'purchases only'}: validation recall@{cfg.top_k}"
                f" with browsing {b_pick.recall:.4f} vs purchases only {pick.recall:.4f} (margin"
                f" {gain:+.4f}, needs > {cfg.fallback_z:g} x se {gain_se:.4f})")
        if uses_browsing:
            pick, pick_note = b_pick, _pick_note(b_pick, b_best, b_se, cfg)
    margin, margin_se = paired_margin(pick.metrics["recall_per_customer"], pop_m["recall_per_customer"])
    beats = margin > cfg.fallback_z * margin_se
    reason = "" if beats else (
        f"als_not_better_than_popularity: validation recall@{cfg.top_k} {pick.recall:.4f} vs popularity "
        f"{pop_m['recall']:.4f} (margin {margin:+.4f}, needs > {cfg.fallback_z:g} x se {margin_se:.4f})")
    candidates = {s.tag: s.recall for s in scored}
    kept = {id(p[0]) for p in picks.values()}
    for s in scored:  # only the picks' factors can start the served fit
        if id(s) not in kept:
            s.item_factors = None
    return Selection("als" if beats else "popularity", reason, pick.factors, pick.alpha, cut, as_of, candidates,
                     pop_m["recall"], margin, margin_se, len(rows), uses_browsing, note, picks, pick.iterations,
                     pick_note, rows, inter.products)


def model_version(sel: Selection, cfg: RecommendConfig, folded_from: int | None = None) -> str:
    """The served model's version; ``folded_from``: the customers the served ALS's item factors were
    fitted on, when every customer was then folded in (:meth:`Selection.served_fit`)."""
    tag = sel.tag(cfg) if sel.served == "als" else f"popularity_{cfg.popularity_days}d"
    warm = sel.warm_iterations(cfg)
    if warm is not None:  # the served fit: the pick's validation factors, then ``warm`` iterations
        tag += f"+warm_i{warm}"
    if folded_from is not None:  # only a served ALS fit folds customers in
        tag += f"+foldin_s{folded_from}"
    return f"shoplens-{__version__}/{tag}/validation-{sel.cutoff.isoformat()}"
