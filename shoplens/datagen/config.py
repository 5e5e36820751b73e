"""Generator constants and the shop's settings (:class:`ShopConfig`)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

TABLES = ("orders", "order_items", "products", "customers", "events")

CATEGORIES = (
    "books", "electronics", "home", "toys", "beauty",
    "sports", "garden", "fashion", "grocery", "pets",
)
# Peak day of year of each category's yearly season (toys before Christmas,
# garden in spring, ...), and its amplitude.
CATEGORY_SEASON_PEAK = (320, 335, 300, 350, 45, 160, 120, 250, 10, 200)
COUNTRIES = ("DE", "FR", "GB", "NL", "US", "ES", "IT", "PL", "SE", "AT")
COUNTRY_WEIGHTS = (0.26, 0.14, 0.14, 0.07, 0.12, 0.08, 0.08, 0.05, 0.03, 0.03)
# Orders per weekday, Monday first: a Sunday-evening shop.
WEEKLY_PROFILE = (0.95, 0.90, 0.90, 0.95, 1.00, 1.05, 1.25)
HOUR_PROFILE = (
    1, 0.6, 0.4, 0.3, 0.3, 0.4, 0.8, 1.5, 2.2, 2.6, 2.8, 3.0,
    3.2, 3.0, 2.8, 2.8, 3.0, 3.4, 4.0, 4.6, 5.0, 4.6, 3.4, 2.0,
)
OFFSETS_MINUTES = (60, 120, -300, 330, -480)


SHAPES = ("standard", "no_dropout", "heavy_repeaters", "one_time_buyers")
# heavy_repeaters: share of customers, born in the first tenth of the period,
# with this many purchases (before same-day purchases merge) over their life.
HEAVY_SHARE = 0.01
HEAVY_PURCHASES = (180, 260)


@dataclass(frozen=True)
class ShopConfig:
    """Everything that defines a generated shop (all rates per day)."""

    n_customers: int = 2000
    n_days: int = 730
    n_products: int = 120
    seed: int = 42
    dirty_rate: float = 0.0
    start_date: str = "2024-01-01"
    bgnbd: dict = field(default_factory=lambda: {"r": 0.25, "alpha": 30.0, "a": 0.8, "b": 2.5})
    gamma_gamma: dict = field(default_factory=lambda: {"p": 6.0, "q": 4.0, "v": 20.0})
    events: bool = True
    holdout_days: int = 0
    # Share of customers who sign up but never order.
    signup_only_share: float = 0.05
    # Background browsing sessions per day of an alive customer, and the
    # number of days over which browsing fades after a customer drops out.
    browse_rate: float = 0.01
    browse_fade_days: float = 45.0
    # Mean browsing sessions before each purchase, and their mean lead time:
    # a consideration phase of about two weeks (exponential lead).
    pre_purchase_sessions: float = 2.0
    pre_purchase_lead_days: float = 14.0
    anonymous_session_share: float = 0.15
    chunk_customers: int = 100_000
    # Customer tastes (see _taste_groups): False draws every line from the
    # day's demand weights alone, a shop with no taste structure.
    tastes: bool = True
    n_taste_groups: int = 5
    # Purchase pattern (SHAPES): "standard" BG/NBD; the others are the valid
    # shops that break models: "no_dropout" (every customer buys at a constant
    # rate until the end), "heavy_repeaters" (standard, plus 1% of customers
    # with 100+ purchase days), "one_time_buyers" (nobody buys twice).
    shape: str = "standard"

    def __post_init__(self) -> None:
        if self.shape not in SHAPES:
            raise ValueError(f"shape must be one of {SHAPES}, got {self.shape!r}")

    @property
    def start(self) -> dt.date:
        return dt.date.fromisoformat(self.start_date)

    @property
    def end(self) -> dt.date:
        """The last day of the export (inclusive)."""
        return self.start + dt.timedelta(days=self.n_days - 1)
