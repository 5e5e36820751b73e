"""Propensity on Spark is scored per partition with mapInPandas (issue 14): the physical plan
holds MapInPandas over the customers hashed into 2 partitions, and the table equals the
package's single-pass scores (make test-spark; needs Java and pyspark)."""

from __future__ import annotations

import datetime as dt
import os
import re

import numpy as np
import pandas as pd
import pytest

from shoplens.datagen import generate_shop
from shoplens.propensity import pipeline
from shoplens.testing.propensity_marts import marts_from_raw
from tests.python.conftest import REPO

pytestmark = [
    pytest.mark.spark,
    pytest.mark.skipif(os.environ.get("SHOPLENS_SPARK_TESTS") != "1",
                       reason="the Spark suite runs with make test-spark"),
]

#: As the parity test's model tables (p_logreg from float32 inputs rounds by block).
RTOL = 1e-6


@pytest.fixture(scope="module")
def shop(tmp_path_factory) -> dict:
    marts = marts_from_raw(generate_shop(n_customers=600, n_days=400, seed=8, holdout_days=30))
    sessions = marts["sessions"].copy()
    sessions["activity_date"] = pd.to_datetime(sessions["started_at"]).dt.normalize()
    as_of_date = marts["orders"]["ordered_at"].max().date() - dt.timedelta(days=30)
    settings = {"window_days": 30, "sequence_weeks": 52, "n_cutoffs": 3, "max_train_customers": 500,
                "seed": 2, "model_dir": str(tmp_path_factory.mktemp("model")), "retrain": "true"}
    return {"orders": marts["orders"], "sessions": sessions, "customers": marts["customers"],
            "as_of": pd.DataFrame({"as_of_date": [as_of_date], "has_holdout": [False]}), "settings": settings}


def test_propensity_scores_per_partition_equal_the_single_pass(shop, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("SHOPLENS_SPARK_DIR", str(tmp_path / "spark"))
    from shoplens.spark import propensity
    from shoplens.spark.frames import to_pandas
    from shoplens.spark.session import get_session

    spark = get_session(REPO)
    frames = {kind: spark.createDataFrame(shop[kind][propensity.input_names(kind)]) for kind in propensity.INPUTS}
    scored = propensity.score_frames(frames, shop["as_of"], shop["settings"], n_parts=2)
    plan = scored._jdf.queryExecution().executedPlan().toString()
    assert "MapInPandas" in plan
    assert re.search(r"hashpartitioning\(customer_id#\d+, 2\)", plan), plan
    rows = propensity.customer_rows(frames).repartition(2, "customer_id").rdd.glom().map(len).collect()
    assert len(rows) == 2 and min(rows) > 0
    got = to_pandas(scored).sort_values(["score_date", "customer_id"], ignore_index=True)
    # the single pass of the dbt model, with the model the Spark job trained and saved
    once = pipeline.build_scores(shop["as_of"], shop["orders"], shop["sessions"], shop["customers"],
                                 {**shop["settings"], "retrain": "false"})
    once = once.sort_values(["score_date", "customer_id"], ignore_index=True)
    assert list(got.columns) == list(once.columns) and len(got) == len(once) > 1000
    for column in got.columns:
        if once[column].dtype.kind == "f":
            np.testing.assert_allclose(got[column].astype(float), once[column], rtol=RTOL, err_msg=column)
        elif column in ("score_date", "train_end_date"):
            assert (pd.to_datetime(got[column]) == pd.to_datetime(once[column])).all(), column
        else:
            assert got[column].astype(str).tolist() == once[column].astype(str).tolist(), column
    assert sorted(got["decile"].unique()) == list(range(1, 11))
