"""Whole `dbt build`s of exports shaped like two public shops, and what each build says.

    PYTHONPATH=. python bench/probe_real_shapes.py                     # every build
    PYTHONPATH=. python bench/probe_real_shapes.py --only ga4_careful  # one build (repeatable)
    PYTHONPATH=. python bench/probe_real_shapes.py --report-only       # the warehouses in --work

Generates the exports of ``shoplens.testing.olist_shape`` (the Brazilian Olist
e-commerce dataset) and ``shoplens.testing.ga4_shape`` (the GA4 Merchandise
Store sample) at their default sizes, converted as a user would (careful,
naive, clean_gasid), into ``--work`` (default bench_data/real_shapes), and
builds each into its own DuckDB file there with the vars its user passes
(olist: the order_status_map; ga4 careful: the event_type_map that ignores
GA4's unused names):

- olist_careful_0630: careful, as_of_date 2018-06-30 (a holdout of the last two months);
- olist_careful_default: careful, the default as_of_date (the last order, in the thin tail);
- olist_naive_0630: naive (per-order customer ids, one line per unit), as_of_date 2018-06-30;
- ga4_careful, ga4_clean_gasid: the default as_of_date.

Writes a markdown report (default reports/bench/real_shapes.md): per build the
exit code, wall seconds, the shoplens WARNING lines and the data tests that
warned, rejected rows by table and rule, ml_model_status, the propensity AUC of
every model on the slices all and purchasers, the CLV served count model and
P(alive) / CLV percentiles, and the forecast's served methods. ``--report-only``
builds nothing: it reads ``<work>/<name>.duckdb``, ``<name>.log`` and
``<name>.json`` (exit code and wall seconds) of every build it finds.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pandas as pd

from shoplens.testing import ga4_shape, olist_shape

ROOT = Path(__file__).resolve().parents[1]
DBT = str(Path(sys.executable).with_name("dbt"))
# name: (shape, variant, vars beyond the variant's own)
BUILDS = {
    "olist_careful_0630": ("olist", "careful", {"as_of_date": "2018-06-30"}),
    "olist_careful_default": ("olist", "careful", {}),
    "olist_naive_0630": ("olist", "naive", {"as_of_date": "2018-06-30"}),
    "ga4_careful": ("ga4", "careful", {}),
    "ga4_clean_gasid": ("ga4", "clean_gasid", {}),
}
ANSI = re.compile(r"\x1b\[[0-9;]*m")
STAMP = re.compile(r"^\d\d:\d\d:\d\d\s+")
WARNING = re.compile(r"shoplens WARNING|WARNING shoplens")
TEST_WARN = re.compile(r"\d+ of \d+ WARN (\d+) (\S+)")
NODE_ERROR = re.compile(r"\d+ of \d+ (ERROR|FAIL \d+) (?:creating \S+ \S+ model )?(\S+)")
DONE = re.compile(r"Done\. PASS=.*")


def variant_vars(shape: str, variant: str) -> dict:
    """The vars the user of this conversion passes."""
    return (olist_shape if shape == "olist" else ga4_shape).dbt_vars(variant)


def generate(work: Path, shape: str, variant: str, cache: dict) -> Path:
    """The export of ``shape`` converted by ``variant`` in ``work/raw_<shape>_<variant>``."""
    folder = work / f"raw_{shape}_{variant}"
    if shape not in cache:
        cache[shape] = olist_shape.olist_tables() if shape == "olist" else ga4_shape.ga4_tables()
    write = olist_shape.write_olist if shape == "olist" else ga4_shape.write_ga4
    return write(cache[shape], folder, variant)


def _commit() -> str:
    return subprocess.run(["git", "-C", str(ROOT), "describe", "--always", "--dirty"],
                          capture_output=True, text=True).stdout.strip()


def build(work: Path, name: str, raw: Path, variables: dict) -> dict:
    """``dbt build`` into ``work/<name>.duckdb`` (a fresh file); the log in ``<name>.log``."""
    db = work / f"{name}.duckdb"
    for stale in (db, db.with_suffix(".duckdb.wal"), work / f"{name}.serving.duckdb"):
        stale.unlink(missing_ok=True)
    dbt_work = work / f"dbt_{name}"
    args = [DBT, "build", "--project-dir", str(ROOT), "--profiles-dir", str(ROOT),
            "--target-path", str(dbt_work / "target"), "--log-path", str(dbt_work / "logs"),
            "--vars", json.dumps({"raw_data_dir": str(raw),
                                  "model_dir": str(work / f"models_{name}"), **variables})]
    env = {**os.environ, "DBT_PROFILES_DIR": str(ROOT), "PYTHONPATH": str(ROOT),
           "SHOPLENS_PII_SALT": "probe", "DUCKDB_PATH": str(db),
           "SHOPLENS_SERVING_PATH": str(work / f"{name}.serving.duckdb"),
           "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    t0 = time.perf_counter()
    with open(work / f"{name}.log", "w") as log:
        rc = subprocess.run(args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT).returncode
    run = {"name": name, "exit_code": rc, "wall_s": round(time.perf_counter() - t0, 1),
           "vars": variables, "raw_data_dir": str(raw), "commit": _commit()}
    (work / f"{name}.json").write_text(json.dumps(run, indent=2))
    print(f"{name}: exit {rc}, {run['wall_s']} s", flush=True)
    return run


def log_lines(path: Path) -> dict:
    """The shoplens warnings (distinct, in order), data tests that warned, failed nodes and
    dbt's summary line of a build log."""
    out = {"warnings": [], "test_warnings": [], "errors": [], "done": ""}
    if not path.exists():
        return out
    for raw in path.read_text(errors="replace").splitlines():
        line = STAMP.sub("", ANSI.sub("", raw)).strip()
        if WARNING.search(line) and line not in out["warnings"]:
            out["warnings"].append(line)
        elif m := TEST_WARN.search(line):
            out["test_warnings"].append(f"{m[2]} ({m[1]})")
        elif (m := NODE_ERROR.search(line)) and m[2] not in out["errors"]:
            out["errors"].append(m[2])
        elif m := DONE.search(line):
            out["done"] = m[0]
    return out


def _frame(con: duckdb.DuckDBPyConnection, sql: str) -> pd.DataFrame | str:
    try:
        return con.sql(sql).df()
    except duckdb.Error as exc:  # a red build may lack a table
        return f"not available ({str(exc).splitlines()[0][:120]})"


def figures(db: Path) -> dict:
    """What the warehouse holds: rejections, model statuses, propensity AUCs, CLV, forecast."""
    with duckdb.connect(str(db), read_only=True) as con:
        return {
            "build_status": _frame(con, "select status, is_partial, as_of_date from build_status"),
            "rejected": _frame(con, "select source_table, rule, count(*) as n_rows "
                                    "from audit_rejected_rows group by all order by 1, 3 desc"),
            "status": _frame(con, "select model_step, status, served_model, "
                                  "left(reason, 150) as reason, rows_written from ml_model_status "
                                  "order by model_step"),
            "auc": _frame(con, """
                select model_name, evaluation_type, slice, round(value, 4) as auc, n_obs,
                    (select round(any_value(o.value) * any_value(o.n_obs))::bigint
                     from ml_propensity_evaluation o
                     where o.task = 'purchase_30d' and o.metric = 'observed_rate'
                       and o.model_name = e.model_name and o.slice = e.slice
                       and o.evaluation_type = e.evaluation_type) as positives
                from ml_propensity_evaluation e
                where task = 'purchase_30d' and metric = 'auc' and slice in ('all', 'purchasers')
                order by evaluation_type, slice, model_name"""),
            "clv_models": _frame(con, "select count_model, spend_model, is_fallback, count(*) as n "
                                      "from pred_customer_ltv group by all order by n desc"),
            "clv": _frame(con, """
                select count(*) as customers,
                    round(quantile_cont(probability_alive, 0.5), 4) as p_alive_p50,
                    round(quantile_cont(probability_alive, 0.99), 4) as p_alive_p99,
                    round(max(probability_alive), 4) as p_alive_max,
                    round(quantile_cont(clv, 0.5), 2) as clv_p50,
                    round(quantile_cont(clv, 0.99), 2) as clv_p99,
                    round(max(clv), 2) as clv_max
                from pred_customer_ltv"""),
            "forecast": _frame(con, """
                select method, series_level, count(distinct (series_key, measure)) as series
                from pred_demand_forecast group by all order by 1, 2"""),
        }


def _table(df: pd.DataFrame | str) -> list[str]:
    if isinstance(df, str):
        return [df, ""]
    if df.empty:
        return ["(no rows)", ""]
    text = df.astype(object).where(df.notna(), "").astype(str)
    text = text.map(lambda v: v.replace("|", "\\|").replace("\n", " "))
    return ["| " + " | ".join(df.columns) + " |", "|" + "---|" * len(df.columns),
            *("| " + " | ".join(row) + " |" for row in text.itertuples(index=False)), ""]


def _status_cell(fig: dict, step: str) -> str:
    status = fig.get("status")
    if not isinstance(status, pd.DataFrame):
        return "n/a"
    row = status[status["model_step"] == step]
    return "n/a" if row.empty else f"{row['status'].iloc[0]} ({row['served_model'].iloc[0]})"


def _served_auc(fig: dict) -> str:
    """The served propensity model's AUC on slice all (holdout or backtest)."""
    status, auc = fig.get("status"), fig.get("auc")
    if not isinstance(status, pd.DataFrame) or not isinstance(auc, pd.DataFrame):
        return "n/a"
    row = status[status["model_step"] == "propensity"]
    if row.empty:
        return "n/a"
    served = str(row["served_model"].iloc[0])
    own = auc[auc["model_name"] == served]
    text = ", ".join(f"{r.evaluation_type} {r.auc} ({r.positives} positives)"
                     for r in own[own["slice"] == "all"].itertuples())
    if text:
        return text
    other = ", ".join(f"{r.evaluation_type} {r.auc} ({r.positives} positives)"
                      for r in own[own["slice"] == "purchasers"].itertuples())
    return f"no row (purchasers: {other})" if other else "no row"


def report(work: Path, names: list[str], runs: dict, out: Path) -> str:
    """Write the markdown report of the builds ``names`` found in ``work``."""
    for name in names:
        if name not in runs and (work / f"{name}.json").exists():
            runs[name] = json.loads((work / f"{name}.json").read_text())
    built = sorted({r.get("commit", "?") for r in runs.values()}) or ["none"]
    lines = ["# Builds of two real shops' shapes (Olist, GA4 Merchandise Store)", "",
             f"`python bench/probe_real_shapes.py`: builds on {', '.join(built)}, report "
             f"written on {_commit()}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
             f"work folder `{work}`. "
             "Exports: `shoplens.testing.olist_shape` (olist_tables() defaults: 24,891 orders, "
             "8,200 products, seed 20161004) and `shoplens.testing.ga4_shape` (ga4_tables() "
             "defaults: 8,000 visitors, 320 products, seed 20201204). Vars: olist "
             "`olist_shape.VARS` (order_status_map); ga4 `ga4_shape.dbt_vars(variant)` "
             "(careful: event_type_map with 12 GA4 names mapped to ignore; clean_gasid: none).",
             ""]
    summary, details = [], []
    for name in names:
        shape, variant, extra = BUILDS[name]
        db = work / f"{name}.duckdb"
        run = runs.get(name, {})
        log = log_lines(work / f"{name}.log")
        fig = figures(db) if db.exists() else {}
        n_rejected = (int(fig["rejected"]["n_rows"].sum())
                      if isinstance(fig.get("rejected"), pd.DataFrame) else "n/a")
        summary.append({
            "build": name, "exit": run.get("exit_code", "n/a"), "wall s": run.get("wall_s", "n/a"),
            "shoplens WARNINGs": len(log["warnings"]), "tests warned": len(log["test_warnings"]),
            "rejected rows": n_rejected, "clv": _status_cell(fig, "clv"),
            "propensity": _status_cell(fig, "propensity"),
            "served propensity AUC, slice all": _served_auc(fig),
            "forecast": _status_cell(fig, "forecast"),
            "recommend": _status_cell(fig, "recommend"),
            "profiles": _status_cell(fig, "profiles")})
        details += [f"## {name}", "",
                    f"{shape} `{variant}`, vars {json.dumps({**variant_vars(shape, variant), **extra})}",
                    f"Exit {run.get('exit_code', 'n/a')}, {run.get('wall_s', 'n/a')} s wall. "
                    f"dbt: `{log['done'] or 'no summary line'}`", ""]
        if log["errors"]:
            details += [f"Failed nodes: {', '.join(log['errors'])}", ""]
        details += [f"shoplens WARNING lines: {len(log['warnings'])}", ""]
        details += [f"- {w[:150]}" for w in log["warnings"]] + [""]
        if log["test_warnings"]:
            details += [f"Data tests that warned: {', '.join(log['test_warnings'])}", ""]
        if not fig:
            details += [f"No warehouse at {db}.", ""]
            continue
        details += ["Build status:", "", *_table(fig["build_status"])]
        details += ["Rejected rows (audit_rejected_rows):", "", *_table(fig["rejected"])]
        details += ["ml_model_status (reason: first 150 characters):", "", *_table(fig["status"])]
        details += ["Propensity AUC, task purchase_30d (positives = observed_rate x n_obs):", "",
                    *_table(fig["auc"])]
        details += ["CLV served models (pred_customer_ltv):", "", *_table(fig["clv_models"]),
                    "P(alive) and CLV percentiles:", "", *_table(fig["clv"])]
        details += ["Forecast: served method per series (pred_demand_forecast):", "",
                    *_table(fig["forecast"])]
    lines += ["## Summary", "", *_table(pd.DataFrame(summary)), *details]
    text = "\n".join(lines).rstrip() + "\n"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    return text


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", action="append", choices=list(BUILDS),
                    help="build only this one (repeatable)")
    ap.add_argument("--work", type=Path, default=ROOT / "bench_data" / "real_shapes")
    ap.add_argument("--out", type=Path, default=ROOT / "reports" / "bench" / "real_shapes.md")
    ap.add_argument("--report-only", action="store_true",
                    help="build nothing; report the warehouses found in --work")
    args = ap.parse_args(argv)
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    names = args.only or list(BUILDS)
    runs: dict[str, dict] = {}
    if not args.report_only:
        cache: dict = {}
        for name in names:
            shape, variant, extra = BUILDS[name]
            raw = generate(work, shape, variant, cache)
            runs[name] = build(work, name, raw, {**variant_vars(shape, variant), **extra})
    else:
        names = [n for n in names if (work / f"{n}.duckdb").exists()
                 or (work / f"{n}.log").exists()]
    report(work, names, runs, args.out)
    print(f"report: {args.out}")
    return 0 if all(r["exit_code"] == 0 for r in runs.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
