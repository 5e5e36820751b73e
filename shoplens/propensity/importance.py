"""Permutation importance on the validation cut-off (``ml_feature_importance`` rows).

Importance of a feature = validation AUC of the model minus its AUC when that
feature's column is shuffled across customers (seeded), so the link between
the feature and the outcome is broken while its distribution is kept. For the
GRU's weekly sequence channels a shuffle would mix masked weeks into observed
ones, so a channel is instead set to its training mean in every observed week
(method ``ablation_auc_drop``). Computed on at most ``max_rows`` validation
customers (seeded sample) for the logistic regression and ``max_rows_gru``
for the GRU.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from shoplens.evaluation import auc
from shoplens.propensity.config import _MASK_VALUE
from shoplens.propensity.encoding import Encoder
from shoplens.propensity.features import Snapshot, _rows
from shoplens.propensity.models import feature_label


def permutation_importance(gru, baselines, encoder: Encoder, snap: Snapshot | Callable[[np.ndarray], Snapshot],
                           y: np.ndarray, seed: int, max_rows: int = 50_000, max_rows_gru: int = 4_000) -> list[dict]:
    """Rows (model, feature, importance, method) for the logistic regression and, if trained, the GRU.

    ``snap``: the validation snapshot aligned with ``y``, or a function giving the snapshot of
    given (sorted) row positions, so a large population is never built whole."""
    rng = np.random.default_rng(seed + 7)
    rows = _logreg_importance(baselines.logreg, encoder, _sample(snap, y, max_rows, rng), rng)
    if gru is not None:
        rows += _gru_importance(gru, encoder, _sample(snap, y, max_rows_gru, rng), rng)
    return rows


def _sample(snap, y: np.ndarray, n: int, rng: np.random.Generator):
    keep = np.arange(len(y)) if len(y) <= n else np.sort(rng.choice(len(y), n, replace=False))
    if callable(snap):
        return snap(keep), y[keep]
    return (snap, y) if len(y) <= n else (_rows(snap, keep), y[keep])


def _logreg_importance(lr, encoder: Encoder, sample, rng) -> list[dict]:
    snap, y = sample
    x = encoder.summary(snap)
    base = auc(lr.predict_proba(x)[:, 1], y)
    rows = []
    for j, name in enumerate(encoder.static_names):
        xp = x.copy()
        xp[:, j] = x[rng.permutation(len(y)), j]
        drop = base - auc(lr.predict_proba(xp)[:, 1], y)
        rows.append(_row("logreg", feature_label(name), drop, "permutation_auc_drop"))
    return rows


def _gru_importance(gru, encoder: Encoder, sample, rng) -> list[dict]:
    """Every variant (a static column shuffled, a channel ablated) is scored in one predict
    call: a call costs about as much for 4,000 rows as for 100,000."""
    snap, y = sample
    seq, static = encoder.sequence(snap), encoder.static(snap)
    names, seqs, statics = ["base"], [seq], [static]
    for j, name in enumerate(encoder.static_names):
        xp = static.copy()
        xp[:, j] = static[rng.permutation(len(y)), j]
        names.append(("permutation_auc_drop", feature_label(name)))
        seqs.append(seq)
        statics.append(xp)
    observed = seq[:, :, 0] != _MASK_VALUE
    for c, name in enumerate(encoder.channels):
        sp = seq.copy()
        sp[:, :, c] = np.where(observed, 0.0, _MASK_VALUE)  # standardised mean in observed steps
        names.append(("ablation_auc_drop", f"weekly_{name}"))
        seqs.append(sp)
        statics.append(static)
    out = gru.network.predict({"sequence": np.concatenate(seqs), "static": np.concatenate(statics)},
                              batch_size=8192, verbose=0)
    p = np.asarray(out["purchase"]).ravel().reshape(len(names), len(y))
    base = auc(p[0], y)
    return [_row("rnn_gru", feature, base - auc(p[k], y), method)
            for k, (method, feature) in enumerate(names[1:], start=1)]


def _row(model: str, feature: str, importance: float, method: str) -> dict:
    value = float(importance) if np.isfinite(importance) else 0.0
    return {"model_name": model, "feature": feature, "importance": round(value, 6), "method": method}
