"""Settings of the recommendation and profile models, built from dbt vars in one place."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from shoplens.settings import ConfigError, flag, read_var


class RecommendError(ValueError):
    """Bad settings or input of the recommendation / profile models; the message names the fix."""


class RecommendConfigError(RecommendError, ConfigError):
    """A recommend_* or profile_* dbt var that cannot be read; the message names it."""


@dataclass(frozen=True)
class RecommendConfig:
    """Recommendation settings (days are calendar days, UTC).

    ``factors_grid`` x ``alpha_grid`` are the ALS candidates compared on the
    validation cut-off ``as_of_date - validation_days`` (recall at ``top_k``);
    ALS is served only if the best candidate's recall beats popularity's by
    more than ``fallback_z`` standard errors of the paired per-customer
    difference. Customers with fewer than ``min_orders`` purchase orders get
    the popularity list, flagged. ``ml_recommend_evaluation`` fits and
    scores its holdout models on a seeded sample of at most
    ``evaluation_max_customers`` of the customers known at the cut-off (all
    of them below that size).

    Browsing (product views, add-to-carts) enters ALS's feedback as
    ``view_weight`` / ``cart_weight`` per event beside 1 per purchase order
    (confidence ``1 + alpha * feedback``): purchases weigh more than any
    event. Every candidate is fitted with and without browsing, and browsing
    is kept only when its best candidate beats the best purchases-only one
    on validation recall by more than ``fallback_z`` standard errors.

    The grid is searched by screening: every candidate is fitted for
    ``screen_iterations`` ALS iterations and scored, and only the
    ``screen_keep`` best continue (from where they stopped) to the full
    ``iterations`` and are compared again. ``screen_iterations`` 0 (or >=
    ``iterations``) fits every candidate fully.

    Every scored candidate (screened ones at ``screen_iterations`` too) may
    be served: the cheapest (factors x iterations) whose validation recall
    is within ``parsimony_se`` standard errors of the best candidate's
    recall (the one-standard-error rule; 0 serves the best). The browsing
    and popularity comparisons use these picks.

    ``warm_start``: the served ALS (every customer, at ``as_of_date``)
    starts from the item factors of the pick's validation fit instead of
    random ones, and, when the grid was screened, runs ``screen_iterations``
    fewer iterations than the pick (at least one): the carried-over factors
    stand in for the screening's iterations (:func:`served_iterations`).

    ``served_max_customers``: above this many customers with any purchase
    or browsing at ``as_of_date``, the served ALS fits its item factors on
    a seeded sample of that many of them, and then solves every customer's
    factors against those item factors (the customer half of one ALS
    iteration, with the fit's own solver: a fold-in). Below it, every
    customer enters the fit. At 1M customers this cuts the served fit from
    about 60 s to 16 s of the step (docs/recommendations.md, "Fold-in").
    """

    top_k: int = 10
    factors_grid: tuple[int, ...] = (4, 8, 16, 32, 64)
    alpha_grid: tuple[float, ...] = (1.0, 10.0)
    regularization: float = 1.0
    iterations: int = 15
    screen_iterations: int = 5
    screen_keep: int = 4
    parsimony_se: float = 1.0
    popularity_days: int = 90
    validation_days: int = 60
    validation_max_customers: int = 100_000
    evaluation_max_customers: int = 100_000
    fallback_z: float = 2.0
    min_orders: int = 2
    view_weight: float = 0.1
    cart_weight: float = 0.3
    num_threads: int = 1
    warm_start: bool = True
    served_max_customers: int = 250_000
    seed: int = 42

    def __post_init__(self) -> None:
        checks = {
            "recommend_top_k": self.top_k >= 1,
            "recommend_factors_grid": len(self.factors_grid) > 0 and min(self.factors_grid) >= 1,
            "recommend_alpha_grid": len(self.alpha_grid) > 0 and min(self.alpha_grid) > 0,
            "recommend_regularization": self.regularization >= 0,
            "recommend_iterations": self.iterations >= 1,
            "recommend_screen_iterations": self.screen_iterations >= 0,
            "recommend_screen_keep": self.screen_keep >= 1,
            "recommend_parsimony_se": 0 <= self.parsimony_se < float("inf"),
            "recommend_popularity_days": self.popularity_days >= 1,
            "recommend_validation_days": self.validation_days >= 1,
            "recommend_validation_max_customers": self.validation_max_customers >= 100,
            "recommend_evaluation_max_customers": self.evaluation_max_customers >= 100,
            "recommend_served_max_customers": self.served_max_customers >= 100,
            "recommend_fallback_z": self.fallback_z >= 0,
            "recommend_min_orders": self.min_orders >= 1,
            "recommend_num_threads": self.num_threads >= 1,
            "recommend_view_weight": 0 <= self.view_weight < 1,
            "recommend_cart_weight": 0 <= self.cart_weight < 1,
        }
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            raise RecommendError(
                f"dbt var {bad[0]} is out of range in {self}: top_k, iterations, screen_keep, days,"
                " min_orders and num_threads must be >= 1, screen_iterations >= 0, parsimony_se finite and >= 0, grids non-empty and positive, validation, evaluation and served max_customers >= 100, view and"
                " cart weights in [0, 1) (a purchase weighs 1)"
            )


def screens(cfg: RecommendConfig) -> bool:
    """Whether the validation grid is screened (see :class:`RecommendConfig`)."""
    n_grid = len(cfg.factors_grid) * len(cfg.alpha_grid)
    return 0 < cfg.screen_iterations < cfg.iterations and n_grid > cfg.screen_keep


def served_iterations(cfg: RecommendConfig, pick_iterations: int) -> int:
    """ALS iterations of the served fit when it starts from the pick's validation factors.

    The pick's own iterations, less ``screen_iterations`` when the grid was
    screened and ``warm_start`` is on (at least one iteration): on a 1M-customer
    shop a warm start's first iteration scored the validation recall of five
    iterations from random factors, and its tenth more than fifteen
    (docs/recommendations.md, "Warm start").
    """
    if not (cfg.warm_start and screens(cfg)):
        return pick_iterations
    return max(1, pick_iterations - cfg.screen_iterations)


@dataclass(frozen=True)
class ProfileConfig:
    """Profile settings.

    The embedding keeps the fewest SVD components that hold ``energy`` of the
    feature matrix's sum of squares (at most ``max_components``); k-means is
    run for k = 2..``max_profiles`` and the k with the best silhouette (on a
    seeded sample of ``silhouette_sample`` customers) is kept.
    """

    max_profiles: int = 8
    max_components: int = 8
    energy: float = 0.9
    silhouette_sample: int = 5000
    n_init: int = 4
    seed: int = 42

    def __post_init__(self) -> None:
        if self.max_profiles < 2:
            raise RecommendError(f"dbt var profile_max_clusters must be >= 2, got {self.max_profiles}")
        if self.max_components < 1:
            raise RecommendError(f"dbt var profile_max_components must be >= 1, got {self.max_components}")
        if not 0 < self.energy <= 1:
            raise RecommendError(f"dbt var profile_energy must be in (0, 1], got {self.energy}")
        if self.silhouette_sample < 100:
            raise RecommendError(f"silhouette_sample must be >= 100, got {self.silhouette_sample}")


def _numbers(text: object, cast: Callable[[str], float]) -> tuple:
    return tuple(cast(part) for part in str(text).strip("[]() ").replace("'", "").split(",") if part.strip())


def configs_from_dbt(get: Callable[[str], object]) -> tuple[RecommendConfig, ProfileConfig]:
    """Both configs from dbt vars (``get(name)`` returns the rendered string or None)."""

    def value(key: str, default: object, cast: Callable[[object], object]) -> object:
        return read_var(get, key, default, cast, RecommendConfigError)

    def as_int(x: object) -> int:
        return int(float(str(x)))

    rec, prof = RecommendConfig(), ProfileConfig()
    seed = value("seed", rec.seed, as_int)
    recommend = RecommendConfig(
        top_k=value("recommend_top_k", rec.top_k, as_int),
        factors_grid=value("recommend_factors_grid", rec.factors_grid, lambda x: _numbers(x, lambda s: int(float(s)))),
        alpha_grid=value("recommend_alpha_grid", rec.alpha_grid, lambda x: _numbers(x, float)),
        regularization=value("recommend_regularization", rec.regularization, float),
        iterations=value("recommend_iterations", rec.iterations, as_int),
        screen_iterations=value("recommend_screen_iterations", rec.screen_iterations, as_int),
        screen_keep=value("recommend_screen_keep", rec.screen_keep, as_int),
        parsimony_se=value("recommend_parsimony_se", rec.parsimony_se, float),
        popularity_days=value("recommend_popularity_days", rec.popularity_days, as_int),
        validation_days=value("recommend_validation_days", rec.validation_days, as_int),
        validation_max_customers=value("recommend_validation_max_customers", rec.validation_max_customers, as_int),
        evaluation_max_customers=value("recommend_evaluation_max_customers", rec.evaluation_max_customers, as_int),
        fallback_z=value("recommend_fallback_z", rec.fallback_z, float),
        min_orders=value("recommend_min_orders", rec.min_orders, as_int),
        view_weight=value("recommend_view_weight", rec.view_weight, float),
        cart_weight=value("recommend_cart_weight", rec.cart_weight, float),
        num_threads=value("recommend_num_threads", rec.num_threads, as_int),
        warm_start=value("recommend_warm_start", rec.warm_start, flag),
        served_max_customers=value("recommend_served_max_customers", rec.served_max_customers, as_int),
        seed=seed,
    )
    profiles = ProfileConfig(
        max_profiles=value("profile_max_clusters", prof.max_profiles, as_int),
        max_components=value("profile_max_components", prof.max_components, as_int),
        energy=value("profile_energy", prof.energy, float),
        seed=seed,
    )
    return recommend, profiles
