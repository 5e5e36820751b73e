"""Helpers for the serving tests: small shops built with `make build` (dbt build, then publish)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path

from shoplens import datagen

REPO = Path(__file__).resolve().parents[2]
# Small, fast model settings: a handful of forecast series, a short GRU history.
FAST_VARS = {
    "forecast_top_n": 2,
    "forecast_backtest_origins": 1,
    "forecast_time_budget_s": 0.3,
    "propensity_n_cutoffs": 3,
    "propensity_sequence_weeks": 16,
    "propensity_max_train_customers": 500,
}


def make_shop(out: Path, seed: int, orders_only: bool = False, n_customers: int = 700,
              guest_share: float = 0.0) -> tuple[Path, dict]:
    """Write a generated shop (parquet) and return (raw folder, dbt vars for it).

    ``orders_only`` keeps the orders file alone, as a shop exporting only orders;
    ``guest_share`` of the orders (every n-th) lose their customer: guests' orders.
    as_of_date leaves a 60-day holdout, so every page has observed outcomes.
    """
    tables = datagen.generate_shop(n_customers=n_customers, n_days=540, n_products=12, seed=seed, holdout_days=60)
    if orders_only:
        tables = {"orders": tables["orders"], "ground_truth": tables["ground_truth"]}
    if guest_share:
        orders = tables["orders"].copy()
        orders.loc[orders.index[:: round(1 / guest_share)], "customer_id"] = None
        tables = {**tables, "orders": orders}
    raw = datagen.write_shop(tables, out, fmt="parquet")
    truth = tables["ground_truth"]
    variables = {
        "raw_data_dir": str(raw),
        "as_of_date": truth["calibration_end_date"],
        "export_date": truth["export_date"],
        "model_dir": str(out.parent / f"models_{out.name}"),
        **FAST_VARS,
    }
    return raw, variables


def make_build(workdir: Path, variables: dict) -> subprocess.CompletedProcess:
    """`make build` into ``workdir/warehouse.duckdb``; serving.duckdb is published beside it."""
    env = {
        **os.environ,
        "DUCKDB_PATH": str(workdir / "warehouse.duckdb"),
        "DBT_TARGET_PATH": str(workdir / "target"),
        "DBT_LOG_PATH": str(workdir / "logs"),
    }
    env.pop("SHOPLENS_SERVING_PATH", None)
    return subprocess.run(
        ["make", "--no-print-directory", "-C", str(REPO), "build", f"DBT_ARGS=--vars '{json.dumps(variables)}'"],
        env=env, capture_output=True, text=True,
    )


def checked_build(workdir: Path, variables: dict) -> subprocess.CompletedProcess:
    proc = make_build(workdir, variables)
    if proc.returncode != 0:
        raise AssertionError(f"make build failed ({proc.returncode}):\n{proc.stdout[-6000:]}\n{proc.stderr[-3000:]}")
    return proc


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
