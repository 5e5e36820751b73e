"""Time the four CLV diagnostic tables at scale (`make bench`, or alone).

    python bench/bench_clv_diagnostics.py [--customers 1000000] [--quick]

Simulated BG/NBD purchases (shoplens.testing.clv_simulate) with a 90-day
holdout, in days; BG/NBD and Pareto/NBD parameters are fitted once (not
timed; Pareto/NBD only where it stays a candidate), then every table is built
from the parameters table as dbt builds it (``pipeline.build_diagnostic``),
once per served model. Figures (wall seconds
per table, peak RSS) go to reports/bench/clv_diagnostics.{json,md}.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import time
from pathlib import Path

import pandas as pd

from shoplens import clv
from shoplens.clv import diagnostics
from shoplens.clv.evaluation import summary_from_purchases
from shoplens.clv.pipeline import build_diagnostic, build_parameters
from shoplens.testing.clv_simulate import simulate_purchases

ROOT = Path(__file__).resolve().parents[1]
HOLDOUT_DAYS = 90


def _inputs(n_customers: int):
    purchases, as_of = simulate_purchases(n_customers, 730, holdout_days=HOLDOUT_DAYS, seed=3)
    dates = pd.to_datetime(purchases["order_date"])
    calibration = purchases.loc[dates <= pd.Timestamp(as_of)]
    holdout = purchases.loc[dates > pd.Timestamp(as_of)].assign(is_purchase=True)
    summary = summary_from_purchases(calibration, as_of, "days")
    end = as_of + dt.timedelta(days=HOLDOUT_DAYS)
    as_of_frame = pd.DataFrame({"as_of_date": [pd.Timestamp(as_of)], "data_end_date": [pd.Timestamp(end)],
                                "has_holdout": [True]})
    return summary, holdout, as_of_frame


def run(n_customers: int) -> dict:
    summary, holdout, as_of = _inputs(n_customers)
    config = clv.ClvConfig(candidates=("bgnbd", "pareto_nbd"), n_draws=10)
    params = build_parameters(summary, as_of, holdout, config)
    out: dict = {"customers": len(summary), "holdout_purchase_days": int(len(holdout)), "seconds": {}}
    # Pareto/NBD is left out above clv_pareto_max_patterns patterns (docs/clv.md)
    for served in [m for m in ("bgnbd", "pareto_nbd") if m in set(params["model_name"])]:
        chosen = params.assign(is_selected=params["model_name"].isin([served, "gamma_gamma"]))
        for kind in diagnostics.COLUMNS:
            start = time.perf_counter()
            table = build_diagnostic(kind, summary, chosen, as_of, holdout, config)
            out["seconds"][f"{served}/{kind}"] = round(time.perf_counter() - start, 2)
            assert len(table), kind
    out["peak_rss_gib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2)
    return out


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help="20,000 customers")
    args = parser.parse_args(argv)
    result = run(20_000 if args.quick else args.customers)
    out = ROOT / "reports" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    (out / "clv_diagnostics.json").write_text(json.dumps(result, indent=2))
    lines = [f"# CLV diagnostics ({result['customers']:,} customers, {HOLDOUT_DAYS}-day holdout)", "",
             "| served model / table | seconds |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in result["seconds"].items()]
    lines += ["", f"Peak RSS {result['peak_rss_gib']} GiB (simulation and fit included)."]
    (out / "clv_diagnostics.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return result


if __name__ == "__main__":
    main()
