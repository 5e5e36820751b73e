"""What the propensity selection's row cap costs the baselines, on one generated shop (by hand).

The training set at the validation cut-off built with the first pass's cap
(what ``select_model`` fits every candidate on) and with the full settings
(what the served model is refitted with).

Usage: python bench/bench_propensity_selection_cap.py [--customers N] [--days N] [--seed N]

Prints, for each: the training rows, ``prepare_training``'s wall and CPU seconds, the bytes of
its weekly sequences, and the validation AUC (every customer at the validation cut-off) of the
logistic regression and the RFM heuristic. No network is trained.
"""

from __future__ import annotations

import argparse
import resource
import time

from shoplens import propensity as P
from shoplens.datagen import generate_shop
from shoplens.evaluation import auc
from shoplens.propensity.features import snapshot, window_counts
from shoplens.propensity.history import _day_to_date
from shoplens.propensity.models import model_columns, population_columns, served_scores
from shoplens.propensity.score import _history_at
from shoplens.propensity.selection import probe_config
from shoplens.testing.propensity_marts import marts_from_raw


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=540)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    marts = marts_from_raw(generate_shop(n_customers=args.customers, n_days=args.days, seed=args.seed))
    as_of = marts["orders"]["ordered_at"].max().date()
    cfg = P.PropensityConfig(seed=3)
    history, _, train_end = _history_at(marts["orders"], marts["sessions"], marts["customers"], as_of, False, cfg)
    v = train_end - cfg.label_window_days
    snap = snapshot(history, v, cfg.sequence_weeks)
    y = window_counts(history, snap.index, v + 1, train_end) > 0
    print(f"{len(history.customer_ids)} customers, validation cut-off {_day_to_date(v)}")
    for name, settings in (("selection (capped)", probe_config(cfg)), ("full settings", cfg)):
        wall, cpu = time.perf_counter(), _cpu_seconds()
        ts = P.prepare_training(history, v, settings)
        wall, cpu = time.perf_counter() - wall, _cpu_seconds() - cpu
        cols = model_columns(None, ts.baselines, ts.encoder, snap, cfg.label_window_days,
                             population_columns(snap, cfg.label_window_days))
        aucs = {m: auc(served_scores(cols, m, cfg.label_window_days)[0], y) for m in ("logreg", "rfm_heuristic")}
        seq_gb = sum(s.seq.nbytes for s in ts.snaps) / 1e9
        print(f"{name}: rows={ts.n_rows} prepare_training {wall:.1f} s wall {cpu:.1f} CPU-s,"
              f" sequences {seq_gb:.2f} GB, validation AUC logreg {aucs['logreg']:.4f}"
              f" rfm_heuristic {aucs['rfm_heuristic']:.4f}", flush=True)
        del ts


if __name__ == "__main__":
    main()
