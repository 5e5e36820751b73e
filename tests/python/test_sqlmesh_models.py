"""The native SQLMesh models (sqlmesh_project/models) without a build: fingerprints and settings."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
import yaml
from conftest import REPO

pytest.importorskip("sqlmesh")

from sqlmesh.core.context import Context  # noqa: E402

from sqlmesh_project import dbt_inputs, engine  # noqa: E402


@pytest.fixture(scope="module")
def native(monkeypatch_module=None):
    """The native project alone (no dbt loading): its models as SQLMesh sees them."""
    return Context(paths=[REPO / "sqlmesh_project"], load=True)


def test_one_native_model_per_dbt_python_model_and_source_table():
    dbt_models = sorted(p.stem for p in (REPO / "python_models").rglob("ml_*.py"))
    assert engine.native_model_names() == dbt_models
    sources = yaml.safe_load((REPO / "python_models" / "_sqlmesh__sources.yml").read_text())["sources"]
    assert sorted(t["name"] for t in sources[0]["tables"]) == dbt_models


def test_package_version_and_hash_are_in_every_native_fingerprint(native):
    expected = dbt_inputs.package_fingerprint()
    for name in engine.native_model_names():
        model = native.get_model(f"main.{name}")
        assert model is not None, name
        assert "PACKAGE" in model.python_env, name
        assert expected in model.python_env["PACKAGE"].payload, name


def test_package_fingerprint_changes_with_one_byte_of_the_package(tmp_path):
    copy = tmp_path / "shoplens"
    shutil.copytree(Path(dbt_inputs.shoplens.__file__).parent, copy,
                    ignore=shutil.ignore_patterns("__pycache__"))
    before = dbt_inputs.package_fingerprint(copy)
    assert before == dbt_inputs.package_fingerprint(copy)
    target = copy / "clv" / "pipeline.py"
    target.write_text(target.read_text() + "\n# changed\n")
    assert dbt_inputs.package_fingerprint(copy) != before


def test_settings_are_dbt_config_rendered_with_the_vars(monkeypatch):
    monkeypatch.setenv(engine.VARS_ENV, '{"propensity_window_days": 14, "propensity_train_window_days": null}')
    settings = dbt_inputs.model_settings("ml_purchase_propensity")
    assert settings["window_days"] == "14"  # as dbt.config.get returns it: rendered text
    assert settings["train_window_days"] == "None"
    assert settings["seed"] == "42"
    monkeypatch.setenv(engine.VARS_ENV, "[1, 2]")
    with pytest.raises(ValueError, match="SHOPLENS_VARS must be a JSON object"):
        engine.shoplens_vars()


def test_sqlmesh_unit_test_file_holds_the_dbt_cases():
    from sqlmesh_project import unit_tests

    assert unit_tests.PATH.read_text() == unit_tests.render()
    cases = yaml.safe_load(unit_tests.PATH.read_text())
    assert len(cases) == len(unit_tests.CASES) == 7
    rfm = cases["test_customer_rfm_scores_ties_and_boundaries"]
    assert [r["rfm_cell"] for r in rfm["outputs"]["query"]["rows"]] == ["412", "412", "324", "235", "111"]


def _refs(path: Path, pattern: str) -> list[str]:
    return sorted(set(re.findall(pattern, path.read_text())))


def test_every_native_model_reads_the_refs_its_dbt_adapter_reads():
    # an adapter that gains an input (dim_customers for the CLV covariates) and a native model that
    # does not made the two tools' forecasts and CLV intervals differ
    for adapter in sorted((REPO / "python_models").rglob("ml_*.py")):
        native = REPO / "sqlmesh_project" / "models" / adapter.name
        dbt_refs = _refs(adapter, r'dbt\.ref\("(\w+)"\)')
        native_refs = _refs(native, r'(?:read|table)\(context, "(\w+)"')
        declared = re.search(r"depends_on=\[([^\]]*)\]", native.read_text())[1]
        # a bare dbt.ref("x") statement only orders the build; every other ref is data the model reads
        order_only = _refs(adapter, r'(?m)^\s*dbt\.ref\("(\w+)"\)\s*(?:#.*)?$')
        read_by_dbt = sorted(set(dbt_refs) - set(order_only))
        assert native_refs == read_by_dbt, adapter.name
        assert sorted(re.findall(r'"main\.(\w+)"', declared)) == dbt_refs, adapter.name


def test_dbt_project_cache_key_follows_the_project_files_and_settings(tmp_path):
    """sqlmesh_project/loader.py serves the loaded dbt project from .cache/ while this key is unchanged."""
    from sqlmesh_project import loader

    (tmp_path / "dbt_project.yml").write_text("name: p\nmodel-paths: [models, more_models]\n")
    for name in ("models/a.sql", "more_models/b.sql", "macros/m.sql", "docs/notes.md"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text("select 1\n")
    settings = {"variables": {"seed": 42}, "gateway": "dev"}
    key = loader.project_key(tmp_path, None, settings)
    assert loader.project_key(tmp_path, None, dict(settings)) == key
    assert loader.project_key(tmp_path, None, {**settings, "variables": {"seed": 43}}) != key
    (tmp_path / "docs" / "notes.md").write_text("not a dbt file\n")  # outside dbt_project.yml's folders
    assert loader.project_key(tmp_path, None, settings) == key
    keys = {key}
    for change in ("more_models/b.sql", "macros/m.sql", "models/new.sql", "profiles.yml"):
        (tmp_path / change).write_text("select 2\n")
        keys.add(loader.project_key(tmp_path, None, settings))
    stat = (tmp_path / "models" / "a.sql").stat()
    os.utime(tmp_path / "models" / "a.sql", ns=(stat.st_atime_ns, stat.st_mtime_ns + 1))  # same size, touched
    keys.add(loader.project_key(tmp_path, None, settings))
    assert len(keys) == 6


def test_table_reads_only_the_columns_the_clv_covariates_use():
    """The native CLV models hand covariate_args ``dbt_inputs.table`` (a ``shoplens.inputs.LazyTable``): dim_customers is read
    with customer_id and the covariates' columns only (the dbt adapters' read), and not at all
    when covariates are off."""
    import duckdb
    import pandas as pd

    from shoplens.clv.pipeline import covariate_args

    con = duckdb.connect()
    con.execute("create schema main_x; create table main_x.dim_customers as select 'c' || i as customer_id,"
                " 'DE' as country, 'toys' as first_order_category, i as n_purchases, 'h' as email_hash"
                " from range(3) t(i)")
    queries: list[str] = []

    class Context:  # SQLMesh's execution context, as far as dbt_inputs uses it
        def resolve_table(self, name: str) -> str:
            return name.replace("main.", "main_x.")

        def fetchdf(self, sql: str) -> pd.DataFrame:
            queries.append(sql)
            return con.sql(sql).df()

    customers = dbt_inputs.table(Context(), "dim_customers")
    assert covariate_args(customers, {"clv_covariates": ""}.get) == {"customers": None, "covariates": ()}
    assert queries == []
    args = covariate_args(customers, {"clv_covariates": "country,first_order_category"}.get)
    assert list(args["customers"].columns) == ["customer_id", "country", "first_order_category"]
    assert len(args["customers"]) == 3
    assert queries[-1] == "select customer_id, country, first_order_category from main_x.dim_customers"
    assert all("limit 0" in q for q in queries[:-1])  # the column names, no rows
