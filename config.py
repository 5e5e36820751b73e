"""SQLMesh's entry to the dbt project (dbt_project.yml alone is not enough for SQLMesh).

``sqlmesh -p . -p sqlmesh_project plan`` loads this project through SQLMesh's
dbt loader and the native Python models from sqlmesh_project/; `make sqlmesh`
runs it. Settings: sqlmesh_project/engine.py; docs/sqlmesh.md.
"""

import os

from sqlmesh.core.config import Config, DbtConfig, ModelDefaultsConfig

from sqlmesh_project import engine, loader

engine.load_in_one_process()

# SQLMesh reads profiles from DBT_PROFILES_DIR first: point it at the copy
# with literal values (the root profiles.yml templates `threads`).
os.environ["DBT_PROFILES_DIR"] = str(engine.PROFILES_DIR)

# What sqlmesh.dbt.loader.sqlmesh_config returns for these settings, built
# without importing dbt (sqlmesh_project/loader.py: dbt is imported only when
# the dbt project has changed since the last load).
config = Config(
    loader=loader.ShoplensDbtLoader,
    # the code: SQLMesh's model cache (.cache/) is keyed on the config, a change to the loaders is one
    loader_kwargs={"profiles_dir": engine.PROFILES_DIR, "code": loader.code_fingerprint()},
    dbt=DbtConfig(infer_state_schema_name=False),
    variables=engine.shoplens_vars(),
    # Unquoted identifiers keep their case (the BTYD column `T`).
    model_defaults=ModelDefaultsConfig(dialect="duckdb,normalization_strategy=case_sensitive", start="2020-01-01"),
    gateways=engine.gateways(),
    default_gateway="dev",
    # = the dbt project name: SQLMesh files on-run-start statements under it
    project="shoplens",
    # SQLMesh would list the distributions the Python models import as the environment's
    # requirements, reading every installed package's file list on each plan (~0.7 s); the
    # models import only shoplens and sqlmesh_project (none), dbt-core and dbt-duckdb stay.
    infer_python_dependencies=False,
)
