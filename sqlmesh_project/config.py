"""The native SQLMesh project: shoplens' model families as SQLMesh Python models.

Loaded second, beside the dbt project: ``sqlmesh -p . -p sqlmesh_project plan``.
Same gateways and vars as the root config.py (sqlmesh_project/engine.py).
"""

from sqlmesh.core.config import Config, ModelDefaultsConfig

from sqlmesh_project import engine

engine.load_in_one_process()
engine.limit_blas_like_dbt()

config = Config(
    project="shoplens_native",
    gateways=engine.gateways(),
    default_gateway="dev",
    variables=engine.shoplens_vars(),
    model_defaults=ModelDefaultsConfig(dialect="duckdb,normalization_strategy=case_sensitive", start="2020-01-01"),
    infer_python_dependencies=False,  # see the root config.py
)
