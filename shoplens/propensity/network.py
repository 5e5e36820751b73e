"""The GRU network, the trained model and loading it back."""

from __future__ import annotations

import dataclasses
import json
import os
import time
from pathlib import Path

import numpy as np

from shoplens.propensity.config import _MASK_VALUE, PropensityConfig
from shoplens.propensity.encoding import Encoder
from shoplens.propensity.features import Snapshot, _rows


def _configure_tensorflow(seed: int, threads: int):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:  # the runtime is already initialised: keep its pools
        pass
    tf.keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    return tf


def build_network(n_steps: int, n_channels: int, n_static: int, cfg: PropensityConfig, logit_offset: float):
    """GRU over the masked sequence (``n_steps`` steps of weeks) + dense static branch, two heads.

    The purchase logit is wide and deep: a linear term in the static vector
    (the logistic regression's inputs) plus the output of the GRU / dense
    layers, so the network starts from what a linear model can express and
    the recurrent part only has to learn what the summaries miss.

    ``purchase``: P(purchase in window) under the class-weighted training
    loss. ``count``: expected purchases = P(purchase, prior-corrected) *
    (1 + softplus(z)), so it can never be below the probability.
    """
    import keras
    from keras import ops

    seq_in = keras.Input((n_steps, n_channels), name="sequence")
    static_in = keras.Input((n_static,), name="static")
    h = keras.layers.Masking(mask_value=_MASK_VALUE)(seq_in)
    h = keras.layers.GRU(cfg.gru_units, name="gru")(h)
    s = keras.layers.Dense(cfg.dense_units // 2, activation="relu", name="static_dense")(static_in)
    z = keras.layers.Concatenate()([h, s])
    if cfg.dropout > 0:
        z = keras.layers.Dropout(cfg.dropout, seed=cfg.seed)(z)
    z = keras.layers.Dense(cfg.dense_units, activation="relu", name="joint_dense")(z)
    if cfg.dropout > 0:
        z = keras.layers.Dropout(cfg.dropout, seed=cfg.seed + 1)(z)
    # wide (linear in the static vector) + deep (GRU and dense layers) logit
    logit = keras.layers.Add(name="logit")(
        [keras.layers.Dense(1, name="deep_logit")(z), keras.layers.Dense(1, name="wide_logit")(static_in)]
    )
    prob = keras.layers.Activation("sigmoid", name="purchase")(logit)
    extra = keras.layers.Dense(1, name="count_extra")(z)
    offset = float(logit_offset)
    count = keras.layers.Lambda(
        lambda tensors: ops.stop_gradient(ops.sigmoid(tensors[0] - offset))
        * (1.0 + ops.softplus(tensors[1])),
        name="count",
    )([logit, extra])
    return keras.Model({"sequence": seq_in, "static": static_in}, {"purchase": prob, "count": count})


def _time_budget_callback(seconds: float):
    import keras

    class TimeBudget(keras.callbacks.Callback):
        """Stop before an epoch that would end past the budget (epochs take about equally long)."""

        hit = False

        def on_train_begin(self, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            elapsed = time.perf_counter() - self.start
            if elapsed + elapsed / (epoch + 1) > seconds:
                self.model.stop_training = True
                self.hit = True

    return TimeBudget()


def _weighted_bce(pos_weight: float):
    from keras import ops

    def loss(y_true, y_pred):
        p = ops.clip(y_pred, 1e-7, 1 - 1e-7)
        y = ops.cast(y_true, p.dtype)
        return -ops.mean(pos_weight * y * ops.log(p) + (1.0 - y) * ops.log(1.0 - p), axis=-1)

    return loss


@dataclasses.dataclass
class TrainedPropensity:
    """A trained GRU with everything needed to score without retraining."""

    network: object
    encoder: Encoder
    metadata: dict

    @property
    def version(self) -> str:
        return str(self.metadata["model_version"])

    def predict(self, snap: Snapshot, window_days: int, batch_size: int = 8192,
                chunk: int = 131_072) -> tuple[np.ndarray, np.ndarray]:
        """(P(purchase in window_days), expected purchases in window_days).

        Customers are encoded and scored ``chunk`` at a time to bound memory.
        """
        offset = float(self.metadata["logit_offset"])
        n = len(snap.index)
        p = np.empty(n, dtype="float64")
        e = np.empty(n, dtype="float64")
        for start in range(0, n, chunk):
            part = _rows(snap, slice(start, min(start + chunk, n)))
            out = self.network.predict(
                {"sequence": self.encoder.sequence(part), "static": self.encoder.static(part)},
                batch_size=batch_size,
                verbose=0,
            )
            pw = np.clip(np.asarray(out["purchase"], dtype="float64").ravel(), 1e-7, 1 - 1e-7)
            p[start:start + len(pw)] = 1.0 / (1.0 + np.exp(-(np.log(pw / (1 - pw)) - offset)))
            e[start:start + len(pw)] = np.asarray(out["count"], dtype="float64").ravel()
        return _carry_window(p, e, int(self.metadata["label_window_days"]), window_days)

    def save(self, model_dir: str | Path) -> Path:
        """Write weights + metadata under model_dir/propensity/<version>/; update latest.json."""
        root = Path(model_dir) / "propensity"
        folder = root / self.version
        folder.mkdir(parents=True, exist_ok=True)
        self.network.save_weights(str(folder / "model.weights.h5"))
        meta = dict(self.metadata, encoder=self.encoder.to_json())
        (folder / "metadata.json").write_text(json.dumps(meta, indent=2, default=str))
        (root / "latest.json").write_text(json.dumps({"model_version": self.version}, indent=2))
        return folder


def _carry_window(p: np.ndarray, e: np.ndarray, label_days: int, window_days: int) -> tuple[np.ndarray, np.ndarray]:
    """Carry scores from the training label window to the prediction window.

    Identity when both are equal; otherwise a constant hazard is assumed:
    P_w = 1 - (1 - P_l) ** (w / l), E_w = E_l * w / l.
    """
    if label_days == window_days:
        return p, np.maximum(e, p)
    ratio = window_days / label_days
    pw = 1.0 - np.power(1.0 - p, ratio)
    return pw, np.maximum(e * ratio, pw)


def load_propensity(model_dir: str | Path, version: str | None = None) -> TrainedPropensity:
    """Load a saved model (the latest when ``version`` is None)."""
    root = Path(model_dir) / "propensity"
    if version is None:
        latest = root / "latest.json"
        if not latest.exists():
            raise FileNotFoundError(
                f"no saved propensity model under {root}; run once with retrain: true"
            )
        version = json.loads(latest.read_text())["model_version"]
    folder = root / str(version)
    meta = json.loads((folder / "metadata.json").read_text())
    enc = Encoder(**meta.pop("encoder"))
    cfg = PropensityConfig(**meta["config"])
    _configure_tensorflow(cfg.seed, cfg.threads)
    net = build_network(enc.n_steps, len(enc.channels), len(enc.static_names), cfg, meta["logit_offset"])
    net.load_weights(str(folder / "model.weights.h5"))
    return TrainedPropensity(network=net, encoder=enc, metadata=meta)
