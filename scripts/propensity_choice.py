"""The propensity step's choice in built warehouses: the status reason and the AUC and Brier
rows of ``ml_model_evaluation`` (holdout, or the backtest where there is none), as markdown.

    PYTHONPATH=$PWD .venv/bin/python scripts/propensity_choice.py LABEL=W.duckdb [LABEL=W2.duckdb ...]

Used for reports/bench/build_propensity_choice.md (the two 1M builds of
docs/propensity.md, Results: the default and the GRU trained in full).
"""

from __future__ import annotations

import sys

import duckdb

MODELS = ("rnn_gru", "blend", "logreg", "logreg_bgnbd", "bgnbd", "nbd", "rfm_heuristic", "naive_rate")


def report(label: str, path: str) -> list[str]:
    con = duckdb.connect(path, read_only=True)
    try:
        served, reason = con.sql("select served_model, reason from ml_propensity_status").fetchone()
        rows = con.sql(
            "select model_name, slice, metric, round(value, 4) as value, n_obs, evaluation_type"
            " from ml_model_evaluation where metric in ('auc', 'brier') and slice in ('all', 'purchasers')"
            f" and model_name in {MODELS} and evaluation_type in ('holdout', 'backtest')"
            " order by evaluation_type, slice, metric, value desc").fetchall()
    finally:
        con.close()
    lines = [f"## {label}", "", f"Served `{served}`. Reason: {reason}", "",
             "| model | evaluation | slice | metric | value | n_obs |", "|---|---|---|---|---|---|"]
    lines += [f"| {m} | {e} | {s} | {k} | {v} | {n} |" for m, s, k, v, n, e in rows]
    return [*lines, ""]


def main(argv: list[str]) -> int:
    if not argv or any("=" not in a for a in argv):
        print(__doc__, file=sys.stderr)
        return 2
    out = ["# The propensity step's choice", ""]
    for arg in argv:
        label, _, path = arg.partition("=")
        out += report(label, path)
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
