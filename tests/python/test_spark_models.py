"""The Spark prediction step's view of dbt's Python models (issue 14), without Spark.

shoplens.spark.models runs every dbt Python model's own ``model(dbt, session)``
on the driver, in the order of their refs, with settings from the manifest.
"""

from __future__ import annotations

import json

import pytest

from shoplens.spark import models


def _node(name: str, deps: list[str], language: str = "python", **config) -> dict:
    return {"resource_type": "model", "name": name, "language": language,
            "original_file_path": f"python_models/{name}.py", "config": config,
            "depends_on": {"nodes": [f"model.shoplens.{d}" for d in deps]}}


@pytest.fixture
def manifest(tmp_path):
    nodes = {
        "model.shoplens.ml_status": _node("ml_status", ["ml_scores", "ml_params", "as_of"]),
        "model.shoplens.ml_scores": _node("ml_scores", ["ml_params", "summary"]),
        "model.shoplens.ml_params": _node("ml_params", ["summary"], penalizer=0.01),
        "model.shoplens.summary": _node("summary", [], language="sql"),
        "model.shoplens.as_of": _node("as_of", [], language="sql"),
    }
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps({"nodes": nodes}))
    return path


def test_python_models_come_after_the_python_models_they_ref(manifest) -> None:
    names = [n["name"] for n in models.python_models(manifest)]
    assert names == ["ml_params", "ml_scores", "ml_status"]


def test_config_get_reads_the_rendered_config(manifest) -> None:
    dbt = models.Dbt(spark=None, node=models.model_node(manifest, "ml_params"))
    assert dbt.config.get("penalizer") == 0.01
    assert dbt.config.get("missing", 7) == 7
    assert dbt.config(materialized="table") is None
    ref = dbt.ref("summary").project("customer_id, frequency")
    assert (ref.name, ref.select) == ("summary", "customer_id, frequency")


def test_an_unknown_model_names_the_manifest(manifest) -> None:
    with pytest.raises(KeyError, match="ml_nothing is not in"):
        models.model_node(manifest, "ml_nothing")
