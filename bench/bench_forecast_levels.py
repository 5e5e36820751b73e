"""The served forecast's backtest on a built warehouse's demand, per level, against issue 12's targets.

The build's own backtest (``backtest_candidates`` with its settings and country weights)
on the ``demand_daily`` of a warehouse (default: the bundled sample's, ``make build``), and
on a generated smoke shop; per level the ratio of mean MASE to seasonal naive, its median,
RMSSE ratio and interval coverage::

    PYTHONPATH=. .venv/bin/python bench/bench_forecast_levels.py [--warehouse warehouse.duckdb]

Writes ``reports/bench/forecast_levels.{json,md}``. Targets: total and category at most
0.75 of seasonal naive, products at most 0.90, 80% coverage within 3 points.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_forecast import summarise_by_level  # noqa: E402

from shoplens import forecast as F  # noqa: E402
from shoplens.testing.forecast_data import generated_shop_demand, warehouse_demand  # noqa: E402

TARGETS = {"total": 0.75, "category": 0.75, "product": 0.90}
FIELDS = ("n_series", "mase_vs_naive", "median_mase_vs_naive", "rmsse_vs_naive", "coverage_80", "coverage_95")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warehouse", default="warehouse.duckdb")
    parser.add_argument("--top-n", type=int, default=100)
    parser.add_argument("--out", default="reports/bench/forecast_levels")
    args = parser.parse_args()
    np.seterr(all="ignore")
    with tempfile.TemporaryDirectory() as tmp:  # read a copy: a BI tool may hold the file
        copy = Path(tmp) / "w.duckdb"
        shutil.copy(args.warehouse, copy)
        sample = warehouse_demand(str(copy))
    shops = [(f"warehouse {args.warehouse}", *sample, args.top_n),
             ("generated smoke shop (20,000 customers, 60 products)",
              generated_shop_demand(20_000, 60, 730, 42)[0], {}, 10)]
    result = {}
    for name, demand, kwargs, top_n in shops:
        start = time.time()
        served, _ = F.backtest_candidates(demand, F.ForecastConfig(top_n=top_n, n_jobs=2), **kwargs)
        levels = summarise_by_level(served)
        result[name] = {level: {k: v[k] for k in FIELDS if k in v} for level, v in levels.items()}
        result[name]["seconds"] = round(time.time() - start, 1)
        result[name]["methods"] = served.groupby("method")["series_key"].nunique().to_dict()
        print(name, json.dumps(result[name], default=str), flush=True)
    lines = ["# Served forecast per level (backtest origins of the build)", "",
             "| shop | level | series | MASE / naive (target) | median | RMSSE / naive | coverage 80% | coverage 95% |",
             "|---|---|---|---|---|---|---|---|"]
    for name, levels in result.items():
        for level, v in levels.items():
            if not isinstance(v, dict) or "mase_vs_naive" not in v:
                continue
            target = TARGETS.get(level)
            met = "" if target is None else f" ({'met' if v['mase_vs_naive'] <= target else 'not met'}: <= {target})"
            lines.append(f"| {name} | {level} | {v['n_series']} | {v['mase_vs_naive']:.3f}{met} | "
                         f"{v['median_mase_vs_naive']:.3f} | {v['rmsse_vs_naive']:.3f} | "
                         f"{v['coverage_80']:.3f} | {v['coverage_95']:.3f} |")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(result, indent=1, default=str))
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
