"""The dbt-duckdb plugin's BLAS thread cap (shoplens.duckdb_plugin.limit_blas_threads)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from shoplens.duckdb_plugin import USER_BLAS_ENV, limit_blas_threads

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
    clean = {k: v for k, v in os.environ.items() if k not in USER_BLAS_ENV}
    out = subprocess.run([sys.executable, "-c", PROBE, value], env={**clean, **env},
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_caps_loaded_and_later_blas_pools():
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("one core: the pools hold one thread anyway")
    free = _probe("0")
    assert free["done"] is False and free["env"] is None and max(free["threads"]) > 1
    capped = _probe("1")
    assert capped == {"done": True, "env": "1", "threads": [1]}


def test_a_users_own_setting_wins():
    kept = _probe("1", OPENBLAS_NUM_THREADS="2")
    assert kept["done"] is False and kept["env"] == "2"
    assert _probe("1", OMP_NUM_THREADS="2")["done"] is False  # OpenBLAS obeys it too


def test_a_second_call_replaces_the_first_and_zero_undoes_it():
    """dbt run twice in one Python process (the raw-layer tests do): the second profile's
    value applies, although the first call's environment is still there."""
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("one core: the pools hold one thread anyway")
    script = PROBE.replace("done = limit_blas_threads(sys.argv[1])",
                           "limit_blas_threads('1'); done = limit_blas_threads(sys.argv[1])")
    clean = {k: v for k, v in os.environ.items() if k not in USER_BLAS_ENV}
    for value, env, threads in (("2", "2", [2]), ("0", None, None)):
        out = subprocess.run([sys.executable, "-c", script, value], env=clean, capture_output=True,
                             text=True, check=True)
        got = json.loads(out.stdout.strip().splitlines()[-1])
        assert got["env"] == env
        if threads:
            assert got["done"] is True and got["threads"] == threads
        else:
            assert got["done"] is False and max(got["threads"]) > 1


def test_positions_of_categorical_ids_with_nulls_and_no_categories():
    import numpy as np
    import pandas as pd

    from shoplens.inputs import positions_in

    index = pd.Index(["a", "b", "c"])
    values = pd.Series(["c", None, "x", "a"], dtype="category")
    np.testing.assert_array_equal(positions_in(values, index), [2, -1, -1, 0])
    np.testing.assert_array_equal(positions_in(values.astype(object), index), [2, -1, -1, 0])
    empty = pd.Series(pd.Categorical([None, None], categories=[]))
    np.testing.assert_array_equal(positions_in(empty, index), [-1, -1])


def test_a_bad_value_names_the_setting():
    with pytest.raises(ValueError, match="blas_threads must be an integer >= 0"):
        limit_blas_threads("two")
    with pytest.raises(ValueError, match="SHOPLENS_BLAS_THREADS"):
        limit_blas_threads(-1)
