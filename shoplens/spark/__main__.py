"""``python -m shoplens.spark {check,dbt,predict}``: shoplens on the local Spark session.

* ``check``: exit 1 with one message when Java or pyspark is missing.
* ``dbt <args>``: dbt on the ``spark`` target (added unless ``--target`` is
  given) in this process, on the session of :func:`shoplens.spark.session.get_session`.
* ``predict [family ...]``: the prediction tables on Spark over the marts of
  the last ``dbt build`` (:mod:`shoplens.spark.predict`).
* ``run [dbt args] [--export DIR]``: all of it in one Spark session: the SQL
  layer, the predictions, the SQL models downstream of them.
"""

from __future__ import annotations

import sys

from shoplens.spark.session import SparkUnavailable, get_session, missing_requirements

#: The dbt Python models: on Spark their tables are written by shoplens.spark.predict.
PYTHON_MODELS = "path:python_models+"
#: dbt unit tests check SQL logic with mocked inputs; they run on DuckDB (see docs/scale.md).
UNIT_TESTS = "resource_type:unit_test"


def run_dbt(args: list[str]) -> int:
    """dbt with ``args`` on the spark target, in this process; dbt's exit code."""
    from dbt.cli.main import dbtRunner

    get_session()
    if not any(a == "--target" or a.startswith("--target=") or a == "-t" for a in args):
        args = [*args, "--target", "spark"]
    result = dbtRunner().invoke(args)
    if result.exception is not None and not result.success:
        print(f"shoplens: dbt failed: {result.exception}", file=sys.stderr)
    return 0 if result.success else 1


def run_all(args: list[str]) -> int:
    """The whole build on Spark in one session: the SQL layer and its tests, the
    prediction jobs, then the SQL models and tests downstream of them.
    ``--export DIR`` then writes every table of the warehouse to DIR/<table>.parquet."""
    from shoplens.spark.predict import export_tables
    from shoplens.spark.predict import main as predict_main

    export = None
    if "--export" in args:
        at = args.index("--export")
        export, args = args[at + 1], args[:at] + args[at + 2:]
    status = run_dbt(["build", "--exclude", PYTHON_MODELS, UNIT_TESTS, *args])
    target = args[args.index("--target-path") + 1] if "--target-path" in args else "target"
    status = status or predict_main(["--manifest", f"{target}/manifest.json"])
    status = status or run_dbt(["build", "--select", PYTHON_MODELS, "--exclude", "path:python_models", UNIT_TESTS, *args])
    if export and not status:
        export_tables(get_session(), export)
    return status


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m shoplens.spark``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    command, rest = (argv[0], argv[1:]) if argv else ("", [])
    try:
        if command == "check":
            problem = missing_requirements()
            print(problem or "shoplens: Java and pyspark found", file=sys.stderr if problem else sys.stdout)
            return 1 if problem else 0
        if command == "dbt":
            return run_dbt(rest)
        if command == "run":
            return run_all(rest)
        if command == "predict":
            from shoplens.spark.predict import main as predict_main

            return predict_main(rest)
    except SparkUnavailable as exc:
        print(exc, file=sys.stderr)
        return 1
    print("usage: python -m shoplens.spark {check | dbt <dbt args> | predict [family ...] | run [dbt args] [--export DIR]}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
