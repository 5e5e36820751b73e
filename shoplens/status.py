"""One status row per model step and run: what was served, and why.

Every model step (``clv``, ``forecast``, ``propensity``, ``recommend``,
``profiles``) ends in a one-row
table ``ml_<step>_status`` with the columns of :data:`STATUS_COLUMNS`;
``models/predictions/ml_model_status.sql`` unions them under a contract, and
its post-hook prints one warning line per step that is not ``ok`` (and fails
the build on a declined step when the var ``on_model_decline`` is ``error``).

The statuses:

* ``ok``: the step served its primary model.
* ``degraded``: the step served predictions, but from a fallback or a
  boundary (limiting) model, or without the evidence it normally writes;
  ``reason`` says which and why.
* ``declined``: the data cannot support any model of the step; its prediction
  table is empty (never stale) and ``reason`` names the var or data change
  that would let it serve.

A step that declines raises a subclass of :class:`StepDeclined` inside the
package; the dbt adapters catch exactly that and write the empty table.
Anything else (a broken contract, a bug) still stops the build.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

STATUS_COLUMNS: list[str] = [
    "model_step",
    "status",
    "served_model",
    "reason",
    "rows_written",
    "as_of_date",
]
STATUSES: tuple[str, ...] = ("ok", "degraded", "declined")
MODEL_STEPS: tuple[str, ...] = ("clv", "forecast", "propensity", "recommend", "profiles")
NOT_SERVED = "none"


class StepDeclined(Exception):
    """Valid data that cannot support a model step; the message says what would."""


@dataclass(frozen=True)
class StepStatus:
    """The outcome of one model step at one as-of date (one row of ml_model_status)."""

    model_step: str
    status: str
    served_model: str
    reason: str
    rows_written: int
    as_of_date: dt.date

    def __post_init__(self) -> None:
        if self.model_step not in MODEL_STEPS:
            raise ValueError(f"model_step must be one of {MODEL_STEPS}, got {self.model_step!r}")
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {self.status!r}")
        if self.rows_written < 0:
            raise ValueError(f"rows_written must be >= 0, got {self.rows_written}")
        if self.status == "declined" and self.rows_written:
            raise ValueError("a declined step writes no prediction rows")
        if self.status != "ok" and not self.reason.strip():
            raise ValueError(f"a {self.status} step needs a reason")

    def frame(self) -> pd.DataFrame:
        """This status as the one-row table ``ml_<step>_status``."""
        row = {c: getattr(self, c) for c in STATUS_COLUMNS}
        out = pd.DataFrame([row], columns=STATUS_COLUMNS)
        out["rows_written"] = out["rows_written"].astype("int64")
        out["as_of_date"] = pd.to_datetime(out["as_of_date"]).dt.date
        return out

    def warning_line(self) -> str:
        """The one line printed in the build output for a step that is not ok ('' if ok)."""
        if self.status == "ok":
            return ""
        return f"shoplens {self.model_step}: {self.status} (served {self.served_model}): {self.reason}"


def step_status(
    model_step: str,
    as_of_date: dt.date,
    *,
    served_model: str,
    rows_written: int,
    problems: Iterable[str] = (),
    notes: Iterable[str] = (),
    decline_reason: str = "",
) -> StepStatus:
    """Decide the status from what was written.

    No rows written: ``declined`` with ``decline_reason``. Rows and any
    ``problems`` (fallbacks, boundary models, missing evidence): ``degraded``.
    Otherwise ``ok``. ``notes`` are informative and never change the status.
    """
    as_of = pd.Timestamp(as_of_date).date()
    if rows_written == 0:
        reason = _one_line(decline_reason) or (
            f"the {model_step} step wrote no rows; see the dbt log of its model for the cause"
        )
        return StepStatus(model_step, "declined", NOT_SERVED, reason, 0, as_of)
    problems = [p for p in problems if p]
    text = _one_line("; ".join([*problems, *[n for n in notes if n]]))
    status = "degraded" if problems else "ok"
    return StepStatus(model_step, status, served_model, text, int(rows_written), as_of)


def _one_line(text: str) -> str:
    """Whitespace (newlines of library messages included) collapsed: one warning line each."""
    return " ".join(str(text).split())


def empty_like(columns: list[str], dtypes: dict[str, str] | None = None) -> pd.DataFrame:
    """An empty table with ``columns`` (what a declined step returns to dbt)."""
    out = pd.DataFrame({c: pd.Series([], dtype=(dtypes or {}).get(c, "object")) for c in columns})
    return out.loc[:, columns]
