"""Peak memory of the recommendation step's browsing input, read from a built warehouse.

Usage: python bench/bench_recommend_browsing.py WAREHOUSE.duckdb [--step load|recommend|evaluate]
       [--as df|relation] [--threads N]

Reads the refs as ``ml_product_recommendations`` / ``ml_recommend_evaluation``
do (``customer_product_browsing`` either as a DuckDB relation, as the
adapters pass it, or as ``.df()``, as it used to; order lines through
``read_lines`` when the package has it, else ``.df()``), then runs
``browsing_events`` alone (``--step load``), the whole
``build_recommendations`` (``--step recommend``) or ``build_evaluation``
(``--step evaluate``) with the project's default settings and ``--threads``
ALS threads. Prints one JSON line: rows, seconds and this process's peak
resident set size (``ru_maxrss``). Run it in a fresh process per
measurement; the warehouse is opened read-only.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("warehouse")
    ap.add_argument("--step", choices=("load", "recommend", "evaluate"), default="load")
    ap.add_argument("--threads", type=int, default=1, help="recommend_num_threads (the project's default: 1)")
    ap.add_argument("--as", dest="form", choices=("df", "relation"), default="relation")
    args = ap.parse_args(argv)
    import duckdb

    from shoplens.recommend import pipeline
    from shoplens.recommend.config import RecommendConfig
    from shoplens.recommend.data import as_of_dates

    con = duckdb.connect(args.warehouse, read_only=True)
    browsing = con.table("customer_product_browsing")
    n_rows = browsing.aggregate("count(*)").fetchone()[0]
    start, base = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if args.form == "df":
        browsing = browsing.df()
    as_of = con.table("as_of").df()
    if args.step == "load":
        cfg = RecommendConfig()
        kwargs = {}
        if hasattr(pipeline, "browsing_cutoffs"):  # the package before the fix had no cut-offs
            kwargs["cutoffs"] = pipeline.browsing_cutoffs(as_of_dates(as_of)[0], cfg.validation_days)
        out = pipeline.browsing_events(browsing, **kwargs)
        n_out = 0 if out is None else len(out)
    elif args.step == "recommend":
        items = _lines(con.table("fct_order_items").project(
            "customer_id, order_id, product_id, order_date, is_purchase"))
        customers = con.table("dim_customers").project("customer_id").df()
        out = pipeline.build_recommendations(items, customers, as_of, RecommendConfig(num_threads=args.threads),
                                             browsing)
        n_out = len(out)
    else:
        n_out = len(_evaluate(con, as_of, browsing, RecommendConfig(num_threads=args.threads)))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"step": args.step, "as": args.form, "browsing_rows": n_rows, "rows_out": n_out,
                      "seconds": round(time.perf_counter() - start, 1),
                      "peak_rss_mib": round(peak / 1024), "rss_before_step_mib": round(base / 1024)}))
    return 0


def _lines(relation):
    """Order lines as the adapters read them (``read_lines`` once the package has it)."""
    from shoplens.recommend import data

    return data.read_lines(relation) if hasattr(data, "read_lines") else relation.df()


def _evaluate(con, as_of, browsing, cfg):
    from shoplens.recommend import pipeline

    columns = "customer_id, order_id, product_id, order_date, is_purchase, category, line_amount"
    items = _lines(con.table("fct_order_items").project(columns))
    holdout = _lines(con.table("holdout_order_items").project(columns))
    affinity = con.table("product_affinity").project("product_id, related_product_id, cosine").df()
    profiles = con.table("ml_customer_profiles").df()
    return pipeline.build_evaluation(items, holdout, affinity, profiles, as_of, cfg, browsing=browsing)


if __name__ == "__main__":
    sys.exit(main())
