"""Choosing the served model on a validation cut-off before the training end (never the holdout).

The validation cut-off ``v`` is the training end minus one label window; its
labels are the purchases in ``v + 1 .. training end``, data every run already
has. Candidates are fitted on cut-offs whose labels end by ``v``: the logistic
regression and the RFM heuristic, BG/NBD (shoplens.clv's fit at ``v``), their
blend ``logreg_bgnbd`` (mean probability of the logistic regression and BG/NBD:
the regression reads the features, BG/NBD the purchase process; on orders-only
shops neither dominates and the mean ranks better than either), a cheap first
pass of the GRU (at most ``probe_max_rows`` rows and ``probe_max_epochs``
epochs), and the blend (mean probability of the GRU and the logistic
regression). The baselines and their blend cost no training: the one with the
highest validation AUC is the best baseline. The GRU is trained in full and
served only when its first pass, or the blend, beats the best baseline's
validation AUC beyond chance, a one-sided DeLong test of the paired AUC
difference on the validation customers (``min_gru_gain_z``, 1.645: 5%), and
by at least ``min_gru_gain`` (var ``propensity_min_gru_gain``, 0.005);
otherwise the best baseline is served and no more time goes into the
network. The two ask different things. The test asks whether the lead is
real: on a few thousand customers a 0.005 lead can be chance (the margin
alone served such GRUs before). The margin asks whether the build should
pay for it. On the generated 1M shop of ``bench_propensity`` the first pass
led the ``logreg_bgnbd`` blend by 0.0033 at a DeLong z of 8.6; trained in
full, the GRU ranked the holdout at 0.890 against the blend's 0.876, and
choosing and training took 223 s instead of 35. On the 1M shop of
``bench_build`` (lead 0.0012, z 3.5) full training took the propensity
step from 85 s to 393 s and the whole ``dbt build`` to 692 s, past ten
minutes (docs/propensity.md, Results). A shop that wants the GRU whenever
it is better sets the var to 0.

The row cap is the selection's, not the GRU's alone: the training set at ``v``
is built once with ``probe_max_rows`` rows, and the logistic regression (the
GRU's warm start), the RFM cells, the new-customer rate and the encoder are
fitted on the same rows as the first pass, so the candidates are compared
fitted alike (docs/propensity.md gives the measured cost of lifting it).
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Mapping

import numpy as np

from shoplens.evaluation import auc_difference_z
from shoplens.propensity.chunks import chunked_columns, snapshot_rows
from shoplens.propensity.config import GRU_MODELS, InsufficientHistoryError, PropensityConfig
from shoplens.propensity.evaluation import validation_metrics
from shoplens.propensity.features import snapshot, window_counts
from shoplens.propensity.history import History, _day_to_date
from shoplens.propensity.importance import permutation_importance
from shoplens.propensity.models import model_columns, population_columns, served_scores
from shoplens.propensity.train import _hashed_ids, fit_gru, prepare_training, stable_uniform

#: Baselines (and their blend) in the order that wins a tie of validation AUC.
BASELINE_ORDER = ("logreg", "logreg_bgnbd", "bgnbd", "rfm_heuristic")
#: The candidates that need BG/NBD's scores.
BTYD_MODELS = ("bgnbd", "logreg_bgnbd")


@dataclasses.dataclass
class Selection:
    """Which model is served, why, and the validation evidence behind the choice."""

    served_model: str
    reason: str
    fallback_reason: str = ""
    validation_cutoff: str = ""
    validation_end: str = ""
    #: per candidate: auc, brier, f1_threshold, precision / recall / f1 at it and at the top decile
    validation: dict = dataclasses.field(default_factory=dict)
    #: rows (model, feature, importance, method) from permutation importance on validation
    feature_importance: list = dataclasses.field(default_factory=list)
    probe: dict = dataclasses.field(default_factory=dict)
    #: The form of the BTYD candidate (``bgnbd``) fitted at the validation cut-off: bgnbd, nbd
    #: (its no-drop-out limit) or none (dropped); names its model_selection rows.
    btyd_baseline_model: str = ""

    @property
    def needs_gru(self) -> bool:
        return self.served_model in GRU_MODELS

    def to_json(self) -> dict:
        return dataclasses.asdict(self)


def probe_config(cfg: PropensityConfig) -> PropensityConfig:
    """The selection's settings: fewer rows (for every candidate fitted on the training set at
    the validation cut-off, not only the GRU), and for the GRU's first pass fewer epochs and
    half of the time budget."""
    budget = None if cfg.max_train_seconds is None else cfg.max_train_seconds / 2
    return dataclasses.replace(
        cfg, max_train_rows=min(cfg.max_train_rows, cfg.probe_max_rows),
        max_epochs=min(cfg.max_epochs, cfg.probe_max_epochs), patience=min(cfg.patience, 2),
        max_train_seconds=budget,
    )


def fallback_selection(reason: str) -> Selection:
    """No validation possible: the logistic regression (the baseline that learns from the
    same features) is served without a comparison, and ``fallback_reason`` says why."""
    return Selection("logreg", f"fallback: {reason}", fallback_reason=reason)


def select_model(history: History, train_end_day: int, cfg: PropensityConfig) -> Selection:
    """Fit every candidate up to the validation cut-off, score it there and choose."""
    v = train_end_day - cfg.label_window_days
    pcfg = probe_config(cfg)
    try:
        ts = prepare_training(history, v, pcfg)
    except InsufficientHistoryError as exc:
        return fallback_selection(f"too little history for a validation cut-off at {_day_to_date(v)}"
                                  f" (the training end minus one label window): {exc}")
    snap = snapshot(history, v, cfg.sequence_weeks, sequences=False, only=_validation_customers(history, cfg))
    y = window_counts(history, snap.index, v + 1, train_end_day) > 0
    if not 0 < y.sum() < len(y):
        return fallback_selection(f"the validation window {_day_to_date(v + 1)} .. {_day_to_date(train_end_day)}"
                                  f" has {int(y.sum())} purchasing customers of {len(y)}: nothing to compare")
    start = time.perf_counter()
    probe, probe_note = _fit_probe(ts, pcfg)
    probe_seconds = time.perf_counter() - start
    cols = chunked_columns(history, v, cfg.sequence_weeks, lambda part, fixed: model_columns(
        probe, ts.baselines, ts.encoder, part, cfg.label_window_days, fixed),
        population_columns(snap, cfg.label_window_days), len(y), snap.index)
    names = [m for m in BASELINE_ORDER + GRU_MODELS if _available(cols, m)]
    scores = {m: served_scores(cols, m, cfg.label_window_days)[0] for m in names}
    metrics = {m: validation_metrics(y, scores[m]) for m in names}
    served, reason = _choose(metrics, cfg, probe_note, scores, y)
    reason += window_note(y, cfg.label_window_days)
    importance = permutation_importance(probe, ts.baselines, ts.encoder,
                                        lambda rows: snapshot_rows(history, v, cfg.sequence_weeks, snap.index[rows]),
                                        y, cfg.seed)
    info = {"seconds": round(probe_seconds, 1), "note": probe_note}
    if probe is not None:
        info.update(probe.metadata["training_metrics"])
    return Selection(served, reason, "", str(_day_to_date(v)), str(_day_to_date(train_end_day)),
                     metrics, importance, info, str(cols["btyd_baseline_model"]))


def _validation_customers(history: History, cfg: PropensityConfig):
    """None (every customer), or a mask of ``max_validation_customers`` drawn by a hash of the id,
    among the customers with a first day (one without is in no cut-off's snapshot:
    :attr:`~shoplens.propensity.history.History.birth_unknown`)."""
    unknown = history.birth_unknown
    if int((~unknown).sum()) <= cfg.max_validation_customers:
        return None
    order = np.argsort(stable_uniform(_hashed_ids(history), 1), kind="stable")
    order = order[~unknown[order]]
    mask = np.zeros(len(history.customer_ids), dtype=bool)
    mask[order[:cfg.max_validation_customers]] = True
    return mask


def _fit_probe(ts, pcfg: PropensityConfig):
    """(first-pass GRU or None, why it is missing)."""
    try:
        return fit_gru(ts, pcfg), ""
    except InsufficientHistoryError as exc:
        return None, f"GRU first pass not trained: {exc}"


def _available(cols: dict, name: str) -> bool:
    if name in GRU_MODELS:
        return cols.get("p_rnn_gru") is not None
    if name in BTYD_MODELS:
        return cols["btyd_baseline_model"] != "none"
    return True


def _best_baseline(auc: Mapping[str, float], exclude: tuple[str, ...] = ()) -> str | None:
    """The baseline with the highest validation AUC (ties in :data:`BASELINE_ORDER`), None if none."""
    bases = [m for m in BASELINE_ORDER if m in auc and m not in exclude]
    return max(bases, key=lambda m: (round(auc[m], 12), -BASELINE_ORDER.index(m))) if bases else None


def serve_fitted_btyd(selection: Selection, btyd_fits: Mapping[int, dict] | None) -> Selection:
    """``selection``, unless it serves BG/NBD (or its blend with the logistic regression) and
    BG/NBD cannot be fitted at a scoring cut-off
    (``btyd_fits``: cut-off day -> :func:`shoplens.propensity.models.fit_population`).

    The choice is made at the validation cut-off; BG/NBD is fitted again at every scoring
    cut-off, and without a fit it would give every customer the new-customer rate. Then the
    next best baseline by the validation rule is served (highest validation AUC, ties in
    :data:`BASELINE_ORDER`: the logistic regression unless the RFM heuristic beat it; the GRU
    was not trained in full, since a baseline won) and ``fallback_reason`` says why."""
    if selection.served_model not in BTYD_MODELS or not btyd_fits:
        return selection
    failed = [(day, fit["error"]) for day, fit in sorted(btyd_fits.items()) if fit["info"] is None]
    if not failed:
        return selection
    auc = {m: v["auc"] for m, v in selection.validation.items()}
    served = _best_baseline(auc, exclude=BTYD_MODELS) or "logreg"
    day, error = failed[0]
    why = (f"{selection.served_model} won the validation cut-off but BG/NBD cannot be fitted at the scoring"
           f" cut-off {_day_to_date(day)}"
           f" ({error}); {served} is served instead, the next best baseline by validation AUC")
    return dataclasses.replace(selection, served_model=served, fallback_reason=why)


#: Above this share of buyers in the validation window the scores rank only the few who do not buy.
MOST_BUY = 0.7
#: Under this many buyers in the validation window, AUCs a few hundredths apart are chance.
FEW_BUYERS = 50


def window_note(y: np.ndarray, window_days: int) -> str:
    """What the reason adds about the validation window's labels: most customers buying in it
    (a weekly-shopping grocery panel: 78% in 30 days, half of them scored above 0.96), or too
    few buyers to tell models apart (a small shop's 7). Empty otherwise."""
    n, n_buyers = len(y), int(np.sum(y))
    notes = []
    if n and n_buyers > MOST_BUY * n:
        notes.append(f"{n_buyers / n:.0%} of the {n} validation customers bought in its {window_days}-day window,"
                     " so the scores rank only the few who did not (a shorter window separates them: the var"
                     " propensity_window_days, or propensity_train_window_days where it is set)")
    if n_buyers < FEW_BUYERS:
        notes.append(f"the choice rests on {n_buyers} buyers in the validation window: AUCs a few hundredths"
                     " apart are within chance (auc_ci_low and auc_ci_high in ml_model_evaluation show how"
                     " wide an AUC on few buyers is)")
    return "".join(f"; {note}" for note in notes)


def _choose(metrics: dict[str, dict], cfg: PropensityConfig, probe_note: str,
            scores: Mapping[str, np.ndarray], y: np.ndarray) -> tuple[str, str]:
    """(served model, reason): the best baseline unless the GRU or the blend beats it beyond
    chance (a one-sided DeLong test of the paired AUC difference on the validation customers
    at ``min_gru_gain_z``) and by at least ``min_gru_gain``. A lead that cannot be tested
    (fewer than two buyers or non-buyers) trains nothing."""
    auc = {m: metrics[m]["auc"] for m in metrics}
    listing = ", ".join(f"{m}={auc[m]:.4f}" for m in sorted(auc, key=lambda k: -auc[k]))
    best = _best_baseline(auc)
    grus = [m for m in GRU_MODELS if m in auc]
    if not grus:
        return best, f"highest validation AUC of the baselines ({listing}); {probe_note}"
    gru = max(grus, key=lambda m: (round(auc[m], 12), m == "rnn_gru"))
    gain = auc[gru] - auc[best]
    z = auc_difference_z(scores[gru], scores[best], y)
    if math.isnan(z):
        # one buyer or one non-buyer: no spread to test the lead against
        return best, (f"{best}: highest validation AUC of the baselines ({listing}); the GRU first pass"
                      f" ({gru} by {gain:+.4f}) cannot be tested on a validation window with fewer than"
                      " two buyers or non-buyers, so full GRU training was skipped")
    evidence = f"by {gain:+.4f}, DeLong z {z:.2f}"
    if gain >= cfg.min_gru_gain and z >= cfg.min_gru_gain_z:
        return gru, (f"{gru}: validation AUC {auc[gru]:.4f} beats the best baseline {best} {evidence}"
                     f" (at least {cfg.min_gru_gain} and z {cfg.min_gru_gain_z}: {listing});"
                     " the GRU was trained in full")
    if gain <= 0:
        why = f"did not beat it ({gru} {evidence})"
    elif z < cfg.min_gru_gain_z:
        why = f"did not beat it beyond chance ({gru} {evidence}; needed z {cfg.min_gru_gain_z})"
    else:
        why = (f"led it by less than the {cfg.min_gru_gain} the build pays full training for"
               f" ({gru} {evidence}; var propensity_min_gru_gain)")
    return best, (f"{best}: highest validation AUC of the baselines ({listing}); the GRU first pass"
                  f" {why}, so full GRU training was skipped")
