"""Cost of the Pareto/NBD fit and of the CLV parameters step, fast engine against lifetimes.

    python bench/bench_clv_pareto.py                                  # CDNOW + a no-drop-out shop
    python bench/bench_clv_pareto.py --warehouse /path/probe.duckdb   # + a warehouse's own summary
    python bench/bench_clv_pareto.py --warehouse DB --step            # + the whole step (default vars)

For each data set, Pareto/NBD is fitted on the compressed patterns with
``clv_fit_engine`` fast (BFGS on shoplens.clv.likelihood.pareto_nll, with the
evaluation cap and the boundary stop) and lifetimes (Nelder-Mead): wall and
CPU seconds, objective evaluations, the outcome (estimates and
log-likelihood, or the boundary / failure). ``--step`` also times
``pipeline.build_parameters`` on the warehouse (covariates as the dbt
default, under ``clv_covariate_time_budget``), and prints the served model
and the covariate part of its selection_reason. Appends one record to
reports/bench/clv_pareto.json. Timings depend on the machine's load: the
record carries the load average.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import time
import warnings

import numpy as np
import pandas as pd
from records import append_record  # bench/ is on sys.path when run as a script

from shoplens import clv
from shoplens.clv.evaluation import summary_from_purchases
from shoplens.testing.cdnow import CDNOW_AS_OF, read_cdnow_sample
from shoplens.testing.clv_simulate import counted_pareto_evaluations, simulate_purchases


def _fit(data: pd.DataFrame, unit: str, engine: str) -> dict[str, object]:
    wall, cpu = time.perf_counter(), time.process_time()
    with counted_pareto_evaluations() as counts, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            model = clv.fit_model("pareto_nbd", data, time_unit=unit, engine=engine)
            outcome = {"params": {k: round(float(v), 6) for k, v in model.params.items()},
                       "log_likelihood": round(model.log_likelihood, 4), "fallback_reason": model.fallback_reason}
        except clv.ClvFitError as exc:
            outcome = {"error": f"{type(exc).__name__}: {str(exc)[:240]}"}
    return {"engine": engine, "wall_s": round(time.perf_counter() - wall, 2),
            "cpu_s": round(time.process_time() - cpu, 2), "evaluations": counts["n"], **outcome}


def _cdnow() -> tuple[pd.DataFrame, str]:
    raw = read_cdnow_sample()
    purchases = pd.DataFrame({"customer_id": raw["customer"].astype("int64"), "order_date": raw["order_date"],
                              "order_total": raw["dollars"]})
    return summary_from_purchases(purchases.loc[purchases["order_date"] <= pd.Timestamp(CDNOW_AS_OF)],
                                  CDNOW_AS_OF, "weeks"), "weeks"


def _no_drop_out(seed: int) -> tuple[pd.DataFrame, str]:
    purchases, as_of = simulate_purchases(800, 1400, r=5.0, alpha=1200.0, a=0.0, seed=seed)
    return summary_from_purchases(purchases, as_of, "days"), "days"


def _warehouse_summary(path: str) -> tuple[pd.DataFrame, str]:
    import duckdb

    with duckdb.connect(path, read_only=True) as con:
        return con.sql("select * from customer_btyd_summary").df(), "days"


def _step(path: str) -> dict[str, object]:
    """pipeline.build_parameters on the warehouse with the dbt defaults (covariates on)."""
    import duckdb

    from shoplens.clv import pipeline

    with duckdb.connect(path, read_only=True) as con:
        tables = {t: con.sql(f"select * from {t}").df()
                  for t in ("customer_btyd_summary", "as_of", "holdout_orders", "dim_customers")}
    config, _ = pipeline.config_from_dbt({}.get)
    wall, cpu = time.perf_counter(), time.process_time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = pipeline.build_parameters(tables["customer_btyd_summary"], tables["as_of"], tables["holdout_orders"],
                                        config, **pipeline.covariate_args(tables["dim_customers"], {}.get))
    served = out.loc[out["is_selected"].astype(bool)]
    reason = str(served["selection_reason"].iloc[0]) if len(served) else ""
    return {"wall_s": round(time.perf_counter() - wall, 1), "cpu_s": round(time.process_time() - cpu, 1),
            "served": sorted(set(served["model_name"])), "covariates": reason.partition("covariates: ")[2][:600],
            "covariate_time_budget_s": config.covariate_time_budget}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--warehouse", action="append", default=[], help="a DuckDB warehouse with the CLV marts")
    parser.add_argument("--step", action="store_true", help="also time the whole parameters step on each warehouse")
    parser.add_argument("--seed", type=int, default=1, help="seed of the no-drop-out shop")
    args = parser.parse_args()
    sets = {"cdnow_sample": _cdnow(), f"no_drop_out_800_seed{args.seed}": _no_drop_out(args.seed)}
    sets |= {os.path.basename(p): _warehouse_summary(p) for p in args.warehouse}
    record: dict[str, object] = {"bench": "clv_pareto", "run_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                                 "load_average": [round(v, 2) for v in os.getloadavg()], "fits": {}}
    for name, (summary, unit) in sets.items():
        data = clv.compress_counts(clv.validate_summary(summary, clv.ClvConfig(time_unit=unit)))
        record["fits"][name] = {"patterns": len(data), "customers": int(data["weight"].sum()),
                                "runs": [_fit(data, unit, engine) for engine in ("fast", "lifetimes")]}
    if args.step:
        record["steps"] = {os.path.basename(p): _step(p) for p in args.warehouse}
    np.set_printoptions(precision=6)
    append_record("clv_pareto.json", record)


if __name__ == "__main__":
    main()
