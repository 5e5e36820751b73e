"""Profile one dbt Python model's adapter on a built warehouse, outside dbt (by hand).

Usage: python bench/profile_step.py WAREHOUSE.duckdb python_models/<area>/<model>.py [--top 40]
                                    [--sort cumulative|tottime] [--stats FILE] [--model-dir DIR]
                                    [--save FILE.parquet]

Runs the adapter's ``model(dbt, session)`` with a stand-in ``dbt`` whose
``ref`` reads the warehouse (read-only) and whose ``config.get`` returns
the project's default vars, mapped through the model's YAML config
(``"{{ var('x') }}"`` entries), under ``cProfile``, with BLAS capped and the
heap trimming of the dbt profile (``--blas-threads``, default 1, and
``--trim-memory-seconds``, default 0: off; 0 leaves BLAS alone). Prints wall
and CPU seconds, the rows returned, this process's peak resident set size
and the ``--top`` functions by ``--sort`` (cumulative time by default).
``--memory`` instead samples the resident set size every 0.1 s without
``cProfile``, prints where the main thread was at the peak (the innermost
project frames) and the size over time, and then stores the returned table
in an in-memory DuckDB as dbt-duckdb does, reporting that peak too. Not part
of `make bench` (no record is written): use it to find where a step spends
its time or memory. ``--save`` writes the returned table to a Parquet file,
to compare a step's output between two checkouts (run each checkout's
``bench/profile_step.py``).
"""

from __future__ import annotations

import argparse
import cProfile
import importlib.util
import io
import os
import pstats
import re
import resource
import sys
import threading
import time
import traceback
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
VAR = re.compile(r"\{\{ var\('([a-z_]+)'(?:, (.+?))? *\) \}\}")


def settings_for(model: Path) -> dict:
    """The project's vars, plus the model's config keys resolved from them."""
    values = dict(yaml.safe_load((ROOT / "dbt_project.yml").read_text())["vars"])
    for spec in model.parent.glob("_*.yml"):
        for node in (yaml.safe_load(spec.read_text()) or {}).get("models", []):
            if node.get("name") != model.stem:
                continue
            for key, raw in (node.get("config") or {}).items():
                found = VAR.fullmatch(str(raw).strip())
                if found:
                    default = None if found.group(2) in (None, "none") else found.group(2)
                    values[key] = values.get(found.group(1), default)
    return values


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("warehouse")
    ap.add_argument("model")
    ap.add_argument("--top", type=int, default=40)
    ap.add_argument("--sort", default="cumulative", choices=["cumulative", "tottime"])
    ap.add_argument("--stats", help="also dump the raw profile here (pstats format)")
    ap.add_argument("--blas-threads", default="1", help="BLAS thread cap, as the dbt profile's (0: none)")
    ap.add_argument("--trim-memory-seconds", default="0",
                    help="return freed heap pages every so many seconds, as the dbt profile does (0: never)")
    ap.add_argument("--memory", action="store_true", help="sample memory instead of profiling time")
    ap.add_argument("--model-dir", default=str(Path("/tmp") / "shoplens-profile-models"))
    ap.add_argument("--save", help="write the returned table to this Parquet file")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT))  # this checkout's shoplens, whatever the environment's install points at
    from shoplens.duckdb_plugin import limit_blas_threads, trim_memory_every

    limit_blas_threads(args.blas_threads)
    trim_memory_every(args.trim_memory_seconds)
    import duckdb

    model = Path(args.model).resolve()
    values = settings_for(model)
    values["model_dir"] = args.model_dir
    con = duckdb.connect(args.warehouse, read_only=True)
    # as the dbt profile: DuckDB's cap, and the database handed over so the steps drop its cache
    limit = os.environ.get("SHOPLENS_MEMORY_LIMIT", "3GB")
    con.execute(f"set memory_limit = '{limit}'")
    from shoplens.memory import hold_duckdb

    hold_duckdb(con, limit)

    class Config:
        def __call__(self, **_: object) -> None:
            pass

        def get(self, key: str, default: object = None) -> object:
            return values.get(key, default)

    class Dbt:
        config = Config()

        def ref(self, name: str):
            return con.table(name)

    spec = importlib.util.spec_from_file_location(model.stem, model)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if args.memory:
        return run_sampled(module, Dbt(), con, model.name, args.save)
    profile = cProfile.Profile()
    wall, cpu = time.perf_counter(), time.process_time()
    profile.enable()
    out = module.model(Dbt(), con)
    profile.disable()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"{model.name}: wall {wall:.1f} s, CPU {cpu:.1f} s, {len(out)} rows, peak RSS {peak:.2f} GiB")
    if args.stats:
        profile.dump_stats(args.stats)
    text = io.StringIO()
    pstats.Stats(profile, stream=text).sort_stats(args.sort).print_stats(args.top)
    print(text.getvalue())
    if args.save:
        save(out, args.save)
    return 0


def current_rss_gib() -> float:
    """This process's resident set size now (Linux /proc)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**30


def save(out, path: str) -> None:
    """The step's returned table (a DataFrame or an Arrow table) as Parquet."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = out if isinstance(out, pa.Table) else pa.Table.from_pandas(out, preserve_index=False)
    pq.write_table(table, path)
    print(f"saved {table.num_rows} rows to {path}")


def run_sampled(module, dbt, con, name: str, save_to: str | None = None) -> int:
    """Run the step while a thread samples memory; report the peak's stack and the timeline."""
    main = threading.get_ident()
    samples: list[tuple[float, float, str]] = []
    peak = {"step": 0.0, "store": 0.0, "stack": []}
    phase = ["step"]
    done = threading.Event()
    start = time.perf_counter()

    def sample() -> None:
        while not done.wait(0.1):
            gib = current_rss_gib()
            frame = sys._current_frames().get(main)
            stack = [] if frame is None else [
                f for f in traceback.extract_stack(frame) if str(ROOT) in f.filename and "/.venv/" not in f.filename]
            samples.append((time.perf_counter() - start, gib, f"{stack[-1].name}:{stack[-1].lineno}" if stack else phase[0]))
            if gib > peak[phase[0]]:
                peak[phase[0]] = gib
                if phase[0] == "step":
                    peak["stack"] = stack[-6:]

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    out = module.model(dbt, con)
    wall = time.perf_counter() - start
    phase[0] = "store"
    import duckdb

    scratch = duckdb.connect()  # what dbt-duckdb does with the returned table: CREATE TABLE AS
    scratch.register("step_output", out)
    scratch.execute("create table stored as select * from step_output")
    time.sleep(0.3)
    done.set()
    thread.join()
    print(f"{name}: wall {wall:.1f} s, {len(out)} rows, sampled peak {peak['step']:.2f} GiB in the step, "
          f"{peak['store']:.2f} GiB while storing its result (max RSS "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB)")
    print("at the step's peak:")
    for f in peak["stack"]:
        print(f"  {Path(f.filename).relative_to(ROOT)}:{f.lineno} {f.name}: {f.line}")
    step = max(1, len(samples) // 24)
    print("timeline (s: GiB at the innermost project function):")
    for t, g, where in samples[::step]:
        print(f"  {t:6.1f}: {g:5.2f}  {where}")
    if save_to:
        save(out, save_to)
    return 0


if __name__ == "__main__":
    sys.exit(main())
