"""dbt Python models run on the Spark driver, their refs read from Spark tables.

dbt-spark's ``session`` method does not run dbt Python models. Every model of
``python_models/`` is a thin adapter ``model(dbt, session)`` over a
``shoplens.<family>.pipeline`` function; here it is called with a stand-in
for dbt's ``dbt`` object: ``dbt.ref(name)`` reads ``main.<name>`` from Spark
(``.project(columns)`` and ``.df()`` as on DuckDB) and ``dbt.config.get``
returns the model's rendered config from ``target/manifest.json``. So every
table the DuckDB build writes is written on Spark by the same code, and a
model added to ``python_models/`` needs nothing here. Steps that scale with
the data run as Spark jobs instead (:mod:`shoplens.spark.predict`).
"""

from __future__ import annotations

import graphlib
import importlib.util
import json
from pathlib import Path
from typing import Any

import pandas as pd

from shoplens.spark.frames import read, to_pandas


class Ref:
    """``dbt.ref(name)`` on Spark: ``project(columns)`` narrows, ``df()`` brings it to pandas,
    ``columns`` names the columns (as a DuckDB relation's)."""

    def __init__(self, spark: Any, name: str, select: str = "*") -> None:
        self.spark, self.name, self.select = spark, name, select

    @property
    def columns(self) -> list[str]:
        return list(self.frame().columns)

    def project(self, columns: str) -> Ref:
        return Ref(self.spark, self.name, columns)

    def frame(self) -> Any:
        """The Spark DataFrame."""
        return read(self.spark, self.name, self.select)

    def df(self) -> pd.DataFrame:
        return to_pandas(self.frame())


class Config:
    """``dbt.config``: ``config(...)`` is a no-op, ``get(key)`` reads the rendered config."""

    def __init__(self, settings: dict[str, Any]) -> None:
        self.settings = settings

    def __call__(self, **_: Any) -> None:
        return None

    def get(self, key: str, default: Any = None) -> Any:
        return self.settings.get(key, default)


class Dbt:
    """The ``dbt`` argument of a Python model, on Spark."""

    def __init__(self, spark: Any, node: dict[str, Any]) -> None:
        self.spark, self.config = spark, Config(dict(node["config"]))

    def ref(self, name: str) -> Ref:
        return Ref(self.spark, name)


def python_models(manifest: Path) -> list[dict[str, Any]]:
    """The dbt Python models of the manifest, each after the Python models it refs."""
    nodes = json.loads(Path(manifest).read_text())["nodes"]
    models = {uid: n for uid, n in nodes.items() if n["resource_type"] == "model" and n["language"] == "python"}
    graph = graphlib.TopologicalSorter(
        {uid: [d for d in n["depends_on"]["nodes"] if d in models] for uid, n in models.items()})
    order = list(graph.static_order())
    return [models[uid] for uid in order]


def model_node(manifest: Path, name: str) -> dict[str, Any]:
    """The manifest node of the Python model ``name``."""
    for node in python_models(manifest):
        if node["name"] == name:
            return node
    raise KeyError(f"shoplens: model {name} is not in {manifest}; run the dbt build first")


def run_model(spark: Any, node: dict[str, Any], root: Path = Path(".")) -> pd.DataFrame:
    """The frame the model's own ``model(dbt, session)`` returns, its refs read from Spark."""
    path = root / node["original_file_path"]
    spec = importlib.util.spec_from_file_location(f"shoplens_spark_model_{node['name']}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.model(Dbt(spark, node), spark)
