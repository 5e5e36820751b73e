"""The served model: the selection, the fitted baselines, the GRU when it won; save and load."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from pathlib import Path

from shoplens import __version__
from shoplens.propensity.config import PropensityConfig
from shoplens.propensity.encoding import Encoder
from shoplens.propensity.features import Snapshot
from shoplens.propensity.history import History, _day_to_date
from shoplens.propensity.models import model_columns, reasons, served_scores
from shoplens.propensity.network import TrainedPropensity, _configure_tensorflow, build_network
from shoplens.propensity.selection import Selection, select_model, serve_fitted_btyd
from shoplens.propensity.train import (
    Baselines,
    TrainingSet,
    _training_set,
    fit_all_baselines,
    fit_gru,
    prepare_training,
    training_cutoffs,
)


@dataclasses.dataclass
class ServedPropensity:
    """Everything needed to score: which model is served and the fitted models behind it."""

    selection: Selection
    encoder: Encoder
    baselines: Baselines
    gru: TrainedPropensity | None
    metadata: dict

    @property
    def version(self) -> str:
        return str(self.metadata["model_version"])

    @property
    def served_model(self) -> str:
        return self.selection.served_model

    def score(self, snap: Snapshot, window_days: int, fixed: dict | None = None) -> dict:
        """Every model's columns, the served ``purchase_probability`` / ``expected_purchases`` and reasons.

        ``fixed``: the population's BG/NBD and naive-rate columns for these rows
        (:func:`shoplens.propensity.models.population_columns`; from ``snap`` when None)."""
        summary = self.encoder.summary(snap)  # the logistic regression's inputs, read twice below
        cols = model_columns(self.gru, self.baselines, self.encoder, snap, window_days, fixed, summary)
        cols["purchase_probability"], cols["expected_purchases"] = served_scores(cols, self.served_model,
                                                                                 window_days)
        for k, values in enumerate(reasons(self.baselines, self.encoder, snap, summary=summary), start=1):
            cols[f"reason_{k}"] = values
        return cols

    def save(self, model_dir: str | Path) -> Path:
        """Write metadata (+ GRU weights when served) under model_dir/propensity/<version>/."""
        root = Path(model_dir) / "propensity"
        folder = root / self.version
        folder.mkdir(parents=True, exist_ok=True)
        if self.gru is not None:
            self.gru.network.save_weights(str(folder / "model.weights.h5"))
        meta = dict(self.metadata, encoder=self.encoder.to_json())
        (folder / "metadata.json").write_text(json.dumps(meta, indent=2, default=str))
        (root / "latest.json").write_text(json.dumps({"model_version": self.version}, indent=2))
        return folder

    def to_payload(self) -> dict:
        """The model as plain picklable values to ship to the workers that score: the GRU
        (when trained) as its weights and configuration, not the Keras object."""
        gru = None if self.gru is None else {"weights": self.gru.network.get_weights(),
                                             "metadata": self.gru.metadata}
        return {"selection": self.selection, "encoder": self.encoder, "baselines": self.baselines,
                "gru": gru, "metadata": self.metadata}


def rescoring_gru(gru: TrainedPropensity) -> TrainedPropensity:
    """The trained GRU as a network built anew with its weights, as every loaded or shipped copy
    is: the network that trained rounds its predictions otherwise (up to ~7e-7 relative in
    float32, same weights), so the scores would depend on where the model came from."""
    weights = gru.network.get_weights()
    return _rebuilt_gru(gru.encoder, gru.metadata, gru.metadata["config"],
                        lambda net: net.set_weights(weights))


def from_payload(payload: dict) -> ServedPropensity:
    """The model of :meth:`ServedPropensity.to_payload`, the GRU rebuilt from its weights."""
    gru = None
    if payload["gru"] is not None:
        meta = payload["gru"]["metadata"]
        gru = _rebuilt_gru(payload["encoder"], meta, meta["config"],
                           lambda net: net.set_weights(payload["gru"]["weights"]))
    return ServedPropensity(payload["selection"], payload["encoder"], payload["baselines"], gru,
                            payload["metadata"])


def _rebuilt_gru(encoder: Encoder, gru_meta: dict, config: dict, load) -> TrainedPropensity:
    """The GRU network built from its configuration, ``load(network)`` setting its weights."""
    cfg = PropensityConfig(**config)
    _configure_tensorflow(cfg.seed, cfg.threads)
    net = build_network(encoder.n_steps, len(encoder.channels), len(encoder.static_names), cfg,
                        gru_meta["logit_offset"])
    load(net)
    return TrainedPropensity(network=net, encoder=encoder, metadata=dict(gru_meta, config=config))


def fit_served(history: History, train_end_day: int, cfg: PropensityConfig,
               btyd_fits: Mapping[int, dict] | None = None) -> ServedPropensity:
    """Choose on the validation cut-off, then fit the chosen model on labels up to the training end.

    ``btyd_fits``: BG/NBD fitted at each scoring cut-off (day ->
    :func:`shoplens.propensity.models.fit_population`); when
    the choice is BG/NBD and one of them failed, the next best baseline is served instead
    (:func:`serve_fitted_btyd`)."""
    selection = serve_fitted_btyd(select_model(history, train_end_day, cfg), btyd_fits)
    ts = prepare_training(history, train_end_day, cfg)
    gru = None
    if selection.needs_gru:
        budget = cfg.max_train_seconds
        if budget is not None:  # the first pass spent part of the budget
            budget = max(budget - float(selection.probe.get("seconds", 0.0)), 1.0)
        gru = fit_gru(ts, dataclasses.replace(cfg, max_train_seconds=budget))
        gru = rescoring_gru(gru)
    return ServedPropensity(selection, ts.encoder, ts.baselines, gru, _metadata(selection, ts, gru, cfg))


def _metadata(selection: Selection, ts: TrainingSet, gru: TrainedPropensity | None,
              cfg: PropensityConfig) -> dict:
    served = selection.served_model
    tag = hashlib.sha1(json.dumps([dataclasses.asdict(cfg), ts.cutoffs, ts.n_rows, served]).encode()).hexdigest()[:8]
    version = f"{__version__}+{served}.{_day_to_date(ts.end_day):%Y%m%d}.{tag}"
    if served == "rnn_gru" and gru is not None:
        version = gru.version
    return {
        "model_name": served,
        "model_version": version,
        "created_at": dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0).isoformat(),
        "train_end_date": str(_day_to_date(ts.end_day)),
        "training_cutoffs": [str(_day_to_date(c)) for c in ts.cutoffs],
        "label_window_days": cfg.label_window_days,
        "features": {"sequence": list(ts.encoder.channels), "static": list(ts.encoder.static_names)},
        "config": dataclasses.asdict(cfg),
        "selection": selection.to_json(),
        "training_metrics": dict(gru.metadata["training_metrics"]) if gru else {"n_rows": ts.n_rows},
        "gru": None if gru is None else {k: v for k, v in gru.metadata.items() if k != "config"},
    }


def serving_fitted_btyd(model: ServedPropensity, btyd_fits: Mapping[int, dict] | None) -> ServedPropensity:
    """A loaded model, with :func:`serve_fitted_btyd` applied to its saved selection for this
    run's scoring cut-offs (in memory: the saved model is not changed)."""
    selection = serve_fitted_btyd(model.selection, btyd_fits)
    if selection is model.selection:
        return model
    metadata = dict(model.metadata, model_name=selection.served_model, selection=selection.to_json())
    return dataclasses.replace(model, selection=selection, metadata=metadata)


def read_metadata(model_dir: str | Path, version: str | None = None) -> dict:
    """The saved metadata (the latest model when ``version`` is None)."""
    root = Path(model_dir) / "propensity"
    if version is None:
        latest = root / "latest.json"
        if not latest.exists():
            raise FileNotFoundError(f"no saved propensity model under {root}; run once with retrain: true")
        version = json.loads(latest.read_text())["model_version"]
    path = root / str(version) / "metadata.json"
    if not path.exists():
        raise FileNotFoundError(f"no saved propensity model {version} under {root}; run once with retrain: true")
    return json.loads(path.read_text())


def load_served(model_dir: str | Path, history: History, train_end_day: int) -> ServedPropensity:
    """Load the latest saved model; the cheap baselines are refitted on this run's cut-offs."""
    meta = read_metadata(model_dir)
    folder = Path(model_dir) / "propensity" / str(meta["model_version"])
    encoder = Encoder(**meta.pop("encoder"))
    cfg = PropensityConfig(**meta["config"])
    gru = None
    if meta.get("gru"):
        gru = _rebuilt_gru(encoder, meta["gru"], meta["config"],
                           lambda net: net.load_weights(str(folder / "model.weights.h5")))
    if list(encoder.channels) == list(history.channels):
        cutoffs = training_cutoffs(history, train_end_day, cfg)
        snaps, labels, _, _ = _training_set(history, cutoffs, cfg)
        baselines = fit_all_baselines(history, cutoffs, snaps, labels, encoder, cfg)
    else:
        baselines = None  # run_propensity reports the channel mismatch
    return ServedPropensity(Selection(**meta["selection"]), encoder, baselines, gru, meta)  # type: ignore[arg-type]


