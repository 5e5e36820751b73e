"""Encoding; the normalisation statistics are part of the saved model."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import pandas as pd

from shoplens.propensity.config import _MASK_VALUE, EVENT_STATIC, LOGREG_WEEKS, STATIC_NUMERIC
from shoplens.propensity.features import Snapshot


def _last_weeks_sum(seq: np.ndarray, w: int) -> np.ndarray:
    """``seq[:, -w:, :].sum(axis=1)`` with the weeks added oldest first, one (n, channels) slice
    at a time: numpy's reduction over the middle axis runs an inner loop of six channels and took
    twice as long (the float32 sums equal numpy's on chunk-sized arrays)."""
    if w > seq.shape[1]:  # fewer weeks than the window (no sequences): numpy handles the short slice
        return seq[:, -w:, :].sum(axis=1)
    total = seq[:, -w, :].copy()
    for k in range(1 - w, 0):
        total += seq[:, k, :]
    return total


@dataclasses.dataclass
class Encoder:
    """Turns snapshots into network / regression inputs with frozen statistics."""

    channels: list[str]
    weeks: int
    seq_mean: list[float]
    seq_std: list[float]
    countries: list[str]
    categories: list[str]
    static_names: list[str]
    static_mean: list[float]
    static_std: list[float]
    #: Weeks summed into one step of the GRU's sequence (1: weekly steps, as saved models before it).
    step_weeks: int = 1

    @property
    def n_steps(self) -> int:
        """Length of the GRU's input sequence: the weeks in steps of ``step_weeks``."""
        return -(-self.weeks // self.step_weeks)

    @classmethod
    def fit(cls, snaps: Sequence[Snapshot], channels: Sequence[str], weeks: int,
            max_countries: int = 10, max_categories: int = 15, step_weeks: int = 1) -> Encoder:
        enc = cls(channels=list(channels), weeks=weeks, seq_mean=[], seq_std=[], countries=[], categories=[],
                  static_names=[], static_mean=[], static_std=[], step_weeks=int(step_weeks))
        n, total, squares = 0, 0.0, 0.0  # per-channel moments, one snapshot at a time (bounded memory)
        statics = []
        for s in snaps:
            pooled, observed = enc._pooled(s)
            values = np.log1p(np.maximum(pooled[observed], 0.0)).astype("float64")
            n, total, squares = n + len(values), total + values.sum(axis=0), squares + (values**2).sum(axis=0)
            statics.append(s.static[["country", "first_category"]])
        st = pd.concat(statics, ignore_index=True)
        mean = np.asarray(total) / max(n, 1)
        enc.seq_mean = np.broadcast_to(mean, (len(channels),)).tolist()
        var = np.maximum(np.asarray(squares) / max(n, 1) - mean**2, 0.0)
        enc.seq_std = np.broadcast_to(np.maximum(np.sqrt(var), 1e-3), (len(channels),)).tolist()
        enc.countries = [str(c) for c in st["country"].value_counts().index[:max_countries]]
        enc.categories = [str(c) for c in st["first_category"].value_counts().index if c][:max_categories]
        raw = pd.concat([enc._static_raw(s) for s in snaps], ignore_index=True)
        enc.static_names = list(raw.columns)
        enc.static_mean = raw.mean(axis=0).tolist()
        enc.static_std = np.maximum(raw.std(axis=0, ddof=0).to_numpy(), 1e-3).tolist()
        return enc

    def _static_raw(self, snap: Snapshot) -> pd.DataFrame:
        """Per-customer vector: channel sums over 1/4/13/W weeks (log1p), statics, one-hots."""
        static = snap.static
        cols: dict[str, np.ndarray] = {}
        for w in sorted({min(k, self.weeks) for k in LOGREG_WEEKS}):
            sums = np.log1p(np.maximum(_last_weeks_sum(snap.seq, w), 0.0))
            for j, ch in enumerate(self.channels):
                cols[f"{ch}_{w}w"] = sums[:, j].astype("float64")
        for c in STATIC_NUMERIC + EVENT_STATIC:
            if c in static.columns:
                cols[c] = static[c].to_numpy("float64")
        # one-hots from category codes: each row's string is hashed once, not compared per level
        for column, levels in (("country", self.countries), ("first_category", self.categories)):
            codes = pd.Categorical(static[column], categories=levels).codes
            for j, c in enumerate(levels):
                cols[f"{column}={c}"] = (codes == j).astype("float64")
        return pd.DataFrame(cols)

    def static(self, snap: Snapshot) -> np.ndarray:
        """Standardised per-customer vector: the network's wide input and the regression's input."""
        raw = self._static_raw(snap)
        if list(raw.columns) != self.static_names:
            raise ValueError(f"features {list(raw.columns)} differ from the model's {self.static_names}")
        x = raw.to_numpy("float64")
        return ((x - np.asarray(self.static_mean)) / np.asarray(self.static_std)).astype("float32")

    def _pooled(self, snap: Snapshot) -> tuple[np.ndarray, np.ndarray]:
        """(weekly sums in steps of ``step_weeks``, (n, n_steps) observed mask). The last step
        ends on the cut-off; a step is observed when any of its weeks is (weeks before the
        window count as unobserved)."""
        k, steps = self.step_weeks, self.n_steps
        first_observed = self.weeks - snap.n_weeks + (steps * k - self.weeks)  # in padded weeks
        observed = (np.arange(1, steps + 1) * k)[None, :] > first_observed[:, None]
        if k == 1:
            return snap.seq, observed
        pad = steps * k - self.weeks
        x = snap.seq
        if pad:
            x = np.concatenate([np.zeros((len(x), pad, x.shape[2]), dtype=x.dtype), x], axis=1)
        return x.reshape(len(x), steps, k, x.shape[2]).sum(axis=2, dtype="float32"), observed

    def sequence(self, snap: Snapshot) -> np.ndarray:
        """(n, n_steps, channels): sums over ``step_weeks``, log, standardise, and set steps
        before birth to the mask value."""
        pooled, observed = self._pooled(snap)
        x = np.maximum(pooled, 0.0, dtype="float32")
        np.log1p(x, out=x)
        x -= np.asarray(self.seq_mean, dtype="float32")
        x /= np.asarray(self.seq_std, dtype="float32")
        x[~observed] = _MASK_VALUE
        return x.astype("float32", copy=False)

    def summary(self, snap: Snapshot) -> np.ndarray:
        """Logistic-regression inputs: the same standardised vector as the network's wide input."""
        return self.static(snap)

    def to_json(self) -> dict:
        return dataclasses.asdict(self)
