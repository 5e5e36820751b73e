"""What a dbt Python model gets from dbt, for the native SQLMesh models.

* :func:`model_settings`: the model's ``config:`` block from its YAML file in
  python_models/, with ``{{ var(...) }}`` rendered from the project's vars
  (``engine.shoplens_vars``), i.e. what ``dbt.config.get`` returns to the dbt
  adapter. Evaluated when SQLMesh loads the project, so the values are part
  of each native model's fingerprint: a var change re-plans the model.
* :func:`package_fingerprint`: the shoplens package's version and a hash of
  its source files, also in every native model's fingerprint, so a change to
  the package re-plans the models that call it.
* :func:`read`: a ref's rows as a pandas DataFrame (``dbt.ref(...).df()``).
* :func:`table`: a ref not read yet, that answers ``columns`` and ``project`` as
  dbt-duckdb's relation does, for pipeline helpers that fetch only the columns
  they use (``shoplens.clv.pipeline.covariate_args``).
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import typing as t
from pathlib import Path

import jinja2
import yaml

import shoplens
from sqlmesh_project import engine

SCHEMA = "main"
COLUMNS_PATH = Path(__file__).resolve().parent / "columns.json"


@functools.cache
def _yaml_configs() -> dict[str, dict[str, t.Any]]:
    """Every dbt Python model's ``config:`` block, read once per process (20 native
    models ask for theirs while SQLMesh loads the project)."""
    configs: dict[str, dict[str, t.Any]] = {}
    for path in sorted((engine.ROOT / "python_models").rglob("*.yml")):
        for node in (yaml.load(path.read_text(), Loader=engine.YAML_LOADER) or {}).get("models", []):
            configs[node["name"]] = dict(node.get("config") or {})
    return configs


_RENDERERS: dict[str, t.Callable[[str], str]] = {}


def _renderer(variables: dict[str, t.Any]) -> t.Callable[[str], str]:
    """``text`` rendered with ``var()`` from ``variables``; one Jinja environment and one
    compiled template per text for each set of vars (the 20 native models share most texts)."""
    key = json.dumps(variables, sort_keys=True, default=repr)
    if key not in _RENDERERS:
        env = jinja2.Environment(undefined=jinja2.StrictUndefined)
        env.globals["var"] = lambda var, default=None: variables.get(var, default)
        env.globals["none"] = None
        _RENDERERS[key] = functools.cache(lambda text: env.from_string(text).render())
    return _RENDERERS[key]


def model_settings(name: str) -> dict[str, str]:
    """The config of dbt Python model ``name`` as ``dbt.config.get`` sees it (rendered text)."""
    render = _renderer(engine.shoplens_vars())
    config = copy.deepcopy(_yaml_configs().get(name))
    if config is None:
        raise KeyError(f"no dbt Python model {name!r} in python_models/*.yml")
    return {
        key: render(value) if isinstance(value, str) else value
        for key, value in config.items() if key != "materialized"
    }


def package_fingerprint(root: Path | None = None) -> str:
    """shoplens' version and the SHA-256 of its Python sources (paths and bytes) under ``root``
    (default: the imported package)."""
    root = root or Path(shoplens.__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    version = getattr(shoplens, "__version__", "0")
    return f"{version}+{digest.hexdigest()[:16]}"


def read(context: t.Any, name: str, columns: str = "*", limit: int | None = None) -> t.Any:
    """Rows of the model ``name`` (``columns``: a select list; at most ``limit``) as a DataFrame."""
    table = context.resolve_table(f"{SCHEMA}.{name}")
    return context.fetchdf(f"select {columns} from {table}" + ("" if limit is None else f" limit {int(limit)}"))


def table(context: t.Any, name: str) -> t.Any:
    """The model ``name`` as a ``shoplens.inputs.LazyTable``: nothing is read until ``df()``."""
    from shoplens.inputs import LazyTable

    return LazyTable(lambda columns, limit: read(context, name, columns, limit))


def columns_of(name: str) -> dict[str, str]:
    """The columns and DuckDB types of the native model ``name`` (columns.json)."""
    return json.loads(COLUMNS_PATH.read_text())[name]


def rows_of(frame: t.Any) -> t.Iterator[t.Any]:
    """The model's frame when it has rows. SQLMesh cannot insert an empty DataFrame;
    a model that yields nothing is built as an empty table, as dbt builds it."""
    if len(frame):
        yield frame
