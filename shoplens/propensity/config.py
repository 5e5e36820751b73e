"""Propensity constants, the declined error and the settings (:class:`PropensityConfig`)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import numpy as np

from shoplens.settings import ConfigError
from shoplens.status import StepDeclined

ORDER_CHANNELS: tuple[str, ...] = ("n_purchase_days", "revenue")
#: Sequence channels built from web sessions (present when the shop has events).
EVENT_CHANNELS: tuple[str, ...] = (
    "n_sessions",
    "n_product_views",
    "n_add_to_carts",
    "n_checkouts",
)
#: Numeric static features (country and first-order category are one-hot on top).
STATIC_NUMERIC: tuple[str, ...] = (
    "log_tenure_days",
    "log_days_since_last_purchase",
    "has_purchased",
    "log_n_purchase_days_total",
    "log_revenue_total",
    "log_days_since_signup",
)
#: Static features added when the shop has events (days at daily resolution).
EVENT_STATIC: tuple[str, ...] = ("log_days_since_last_session", "log_days_since_last_cart")
#: Weeks over which the logistic regression summarises each channel.
LOGREG_WEEKS: tuple[int, ...] = (1, 4, 13, 52)

#: Training needs at least this many positive and negative labels ...
MIN_POSITIVE_LABELS = 20
MIN_NEGATIVE_LABELS = 20
#: ... and each training cut-off at least this many days of orders before it.
MIN_HISTORY_DAYS = 28

MODEL_NAMES = ("rnn_gru", "bgnbd", "rfm_heuristic", "logreg", "naive_rate")
#: Models the step can serve: the GRU, the GRU-logreg blend (mean probability), three baselines
#: and the logreg-BG/NBD blend (mean probability).
SERVABLE_MODELS = ("rnn_gru", "blend", "logreg", "logreg_bgnbd", "bgnbd", "rfm_heuristic")
#: Models that need the GRU.
GRU_MODELS = ("rnn_gru", "blend")
_MASK_VALUE = -99.0
_EPOCH = np.datetime64("1970-01-01", "D")


class InsufficientHistoryError(ValueError, StepDeclined):
    """Raised when the data are too short or too sparse to train the model (the step declines)."""


@dataclasses.dataclass(frozen=True)
class PropensityConfig:
    """Settings of one propensity run (units in the names)."""

    window_days: int = 30
    sequence_weeks: int = 52
    #: Weeks summed into one step of the GRU's sequence: the GRU's cost grows with the number
    #: of steps, and the weekly detail of the last weeks is in the static features (1- and
    #: 4-week sums, days since the last purchase / session / cart).
    sequence_step_weeks: int = 2
    #: Length of the label window of the training cut-offs; None: window_days.
    #: When shorter than window_days, probabilities are carried to the
    #: prediction window under a constant-hazard assumption (see docs).
    train_window_days: int | None = None
    n_cutoffs: int = 12
    cutoff_step_days: int = 14
    max_train_customers: int = 200_000
    #: Cap on customer x cut-off training rows (sampled with the seed).
    max_train_rows: int = 400_000
    #: Customers scored at the validation cut-off to choose the served model (sampled by a
    #: hash of the id above it): enough for AUC differences of 0.001, without scoring a
    #: whole large shop twice.
    max_validation_customers: int = 200_000
    validation_fraction: float = 0.2
    gru_units: int = 32
    dense_units: int = 32
    #: Dropout on the joint (GRU + static) layer, against over-fitting small shops.
    dropout: float = 0.3
    #: Large batches: a step costs about the same for 512 or 2,048 rows on a CPU, and on a
    #: shared machine every step waits for the scheduler (the learning rate is raised to match).
    batch_size: int = 2048
    max_epochs: int = 40
    patience: int = 4
    learning_rate: float = 4e-3
    #: Cap on the positive-class weight (weight = n_negative / n_positive).
    max_positive_weight: float = 20.0
    count_loss_weight: float = 0.5
    #: Stop training before an epoch that would end after this many seconds
    #: of fitting (None: no limit); the best epoch so far is kept.
    max_train_seconds: float | None = None
    #: The cheap first pass: a GRU on at most this many rows and epochs at the
    #: validation cut-off decides whether full training is worth it.
    probe_max_rows: int = 30_000
    probe_max_epochs: int = 8
    #: The GRU (or the blend) is trained and served when its first pass beats the best
    #: baseline's validation AUC beyond chance, a paired DeLong z of at least
    #: ``min_gru_gain_z`` (one-sided 5%), and by at least ``min_gru_gain`` [var
    #: propensity_min_gru_gain]: the lead for which the build pays for full training (a
    #: cost decision; 0 trains whenever the lead is beyond chance).
    min_gru_gain: float = 0.005
    min_gru_gain_z: float = 1.645
    seed: int = 42
    threads: int = 2

    @property
    def label_window_days(self) -> int:
        return int(self.train_window_days or self.window_days)

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        if self.window_days < 1:
            raise ConfigError(f"window_days must be >= 1, got {self.window_days}")
        if self.label_window_days < 1:
            raise ConfigError(f"train_window_days must be >= 1, got {self.train_window_days}")
        if self.sequence_weeks < 4:
            raise ConfigError(f"sequence_weeks must be >= 4, got {self.sequence_weeks}")
        if self.max_validation_customers < 1:
            raise ConfigError(f"max_validation_customers must be >= 1, got {self.max_validation_customers}")
        if not 1 <= self.sequence_step_weeks <= self.sequence_weeks // 2:
            raise ConfigError(f"sequence_step_weeks must be in 1 .. sequence_weeks / 2, got {self.sequence_step_weeks}")
        if self.n_cutoffs < 1 or self.cutoff_step_days < 1:
            raise ConfigError("n_cutoffs and cutoff_step_days must be >= 1")
        if self.max_train_seconds is not None and not self.max_train_seconds > 0:
            raise ConfigError(f"max_train_seconds must be > 0 or None, got {self.max_train_seconds}")
        if not 0.0 < self.validation_fraction < 0.5:
            raise ConfigError(
                f"validation_fraction must be in (0, 0.5), got {self.validation_fraction}"
            )


def _int_or_none(value: object) -> int | None:
    text = str(value).strip().lower()
    return None if text in {"", "none", "null"} else int(float(text))


def _float_or_none(value: object) -> float | None:
    text = str(value).strip().lower()
    if text in {"", "none", "null"}:
        return None
    seconds = float(text)
    if not seconds > 0:
        raise ConfigError(f"var propensity_max_train_seconds must be > 0 or null, got {value!r}")
    return seconds


def config_from_dbt(settings: Mapping[str, object]) -> PropensityConfig:
    """The settings from the dbt vars (rendered as text by the model config)."""
    defaults = PropensityConfig()
    max_customers = _int_or_none(settings.get("max_train_customers"))
    return PropensityConfig(
        window_days=int(settings["window_days"]),  # type: ignore[arg-type]
        sequence_weeks=int(settings["sequence_weeks"]),  # type: ignore[arg-type]
        train_window_days=_int_or_none(settings.get("train_window_days")),
        n_cutoffs=_int_or_none(settings.get("n_cutoffs")) or defaults.n_cutoffs,
        max_train_customers=max_customers or defaults.max_train_customers,
        max_train_seconds=_float_or_none(settings.get("max_train_seconds")),
        min_gru_gain=_gain(settings.get("min_gru_gain"), defaults.min_gru_gain),
        seed=int(settings["seed"]),  # type: ignore[arg-type]
    )


def _gain(value: object, default: float) -> float:
    """var propensity_min_gru_gain: an AUC lead in [0, 1) (empty or null: the default)."""
    text = str(value).strip().lower()
    if text in {"", "none", "null"}:
        return default
    try:
        gain = float(text)
    except ValueError:
        gain = float("nan")
    if not 0.0 <= gain < 1.0:
        raise ConfigError(f"var propensity_min_gru_gain must be an AUC lead in [0, 1), got {value!r}")
    return gain
