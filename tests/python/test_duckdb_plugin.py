"""The dbt-duckdb plugin's BLAS thread cap (shoplens.duckdb_plugin.limit_blas_threads)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from shoplens.duckdb_plugin import BLAS_ENV, limit_blas_threads

PROBE = """
import json, sys
import numpy  # BLAS loaded before the cap: threadpoolctl must reach it
from threadpoolctl import threadpool_info
from shoplens.duckdb_plugin import limit_blas_threads
done = limit_blas_threads(sys.argv[1])
import scipy.linalg  # scipy's own OpenBLAS, loaded after the cap: the environment reaches it
import os
print(json.dumps({"done": done, "env": os.environ.get("OPENBLAS_NUM_THREADS"),
                  "threads": sorted({p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"})}))
"""


def _probe(value: str, **env: str) -> dict:
    clean = {k: v for k, v in os.environ.items() if k not in BLAS_ENV}
    out = subprocess.run([sys.executable, "-c", PROBE, value], env={**clean, **env},
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_caps_loaded_and_later_blas_pools():
    if (os.cpu_count() or 1) < 2:
        pytest.skip("one core: the pools hold one thread anyway")
    free = _probe("0")
    assert free["done"] is False and free["env"] is None and max(free["threads"]) > 1
    capped = _probe("1")
    assert capped == {"done": True, "env": "1", "threads": [1]}


def test_a_users_own_setting_wins():
    kept = _probe("1", OPENBLAS_NUM_THREADS="2")
    assert kept["done"] is False and kept["env"] == "2"


def test_a_bad_value_names_the_setting():
    with pytest.raises(ValueError, match="blas_threads must be an integer >= 0"):
        limit_blas_threads("two")
    with pytest.raises(ValueError, match="SHOPLENS_BLAS_THREADS"):
        limit_blas_threads(-1)
