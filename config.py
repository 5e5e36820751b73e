"""SQLMesh's entry to the dbt project (dbt_project.yml alone is not enough for SQLMesh).

``sqlmesh -p . -p sqlmesh_project plan`` loads this project through SQLMesh's
dbt loader and the native Python models from sqlmesh_project/; `make sqlmesh`
runs it. Settings: sqlmesh_project/engine.py; docs/sqlmesh.md.
"""

import os

from sqlmesh.core.config import ModelDefaultsConfig
from sqlmesh.dbt.loader import sqlmesh_config

from sqlmesh_project import engine, loader
from sqlmesh_project.loader import ShoplensDbtLoader

# SQLMesh reads profiles from DBT_PROFILES_DIR first: point it at the copy
# with literal values (the root profiles.yml templates `threads`).
os.environ["DBT_PROFILES_DIR"] = str(engine.PROFILES_DIR)

config = sqlmesh_config(
    engine.ROOT,
    profiles_dir=engine.PROFILES_DIR,
    variables=engine.shoplens_vars(),
    # Unquoted identifiers keep their case (the BTYD column `T`).
    model_defaults=ModelDefaultsConfig(dialect="duckdb,normalization_strategy=case_sensitive", start="2020-01-01"),
    gateways=engine.gateways(),
    default_gateway="dev",
    # = the dbt project name: SQLMesh files on-run-start statements under it
    project="shoplens",
    loader=ShoplensDbtLoader,
)
# SQLMesh's model cache (.cache/) is keyed on the config: a change to the loader's code is one.
config.loader_kwargs["code"] = loader.code_fingerprint()
