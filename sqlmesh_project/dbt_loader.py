"""SQLMesh's dbt loader, with dbt's rendering of generic test arguments and a shorter load.

Used through ``sqlmesh_project.loader.ShoplensDbtLoader``, which keeps what it
loads in ``.cache/`` and calls it only when the dbt project has changed (this
module imports dbt: ~2 s of CPU that a plan with a warm cache does without).

dbt renders ``{{ var(...) }}`` and ``{{ adapter.quote(...) }}`` inside a
generic test's arguments before the test runs; SQLMesh's dbt loader does not
(a var in an argument comes out as None, Jinja inside text or a list stays as
it is, and an argument mixing SQL with ``{{ ... }}`` is read as one Jinja
expression and fails to render). This loader renders every argument string
that holds ``{{ var(`` or ``{{ adapter.quote(`` with the project's vars and
DuckDB's quoting, as dbt does, so the audits check what the dbt tests check
(e.g. ``n_customers_both >= affinity_min_support``, ``recency <= "T"``).

SQLMesh keys its model cache (``.cache/``) on the newest YAML file in each
model's folders and walks the whole project root to find them, ``.venv``
included (thousands of folders, seconds on every plan). Folders whose names
start with ``.`` and dbt's ``target``/``logs`` hold no project YAML; the walk
skips them (the cache key is unchanged: only tracked project files count).

A plan with no change offered a virtual update of the environment
statements every time: see ``_load_environment_statements``.

The cache does not know this module: a change here would be served the
models (and audits) converted by the old code. ``loader.code_fingerprint`` (a
hash of this file and loader.py) goes into the loader's settings, which are
part of the key.
"""

from __future__ import annotations

import typing as t
from pathlib import Path

import jinja2
from sqlmesh.dbt.loader import DbtLoader

from sqlmesh_project import engine

# Folders of the project root with no dbt YAML in them (see the module doc).
UNWALKED = {"target", "logs", "dbt_packages", "node_modules", "__pycache__"}


def render_arguments(value: t.Any, env: jinja2.Environment) -> t.Any:
    """``value`` with every string holding ``{{ var(...) }}`` or ``{{ adapter.quote(...) }}``
    rendered (lists and dicts walked)."""
    if isinstance(value, str) and "{{" in value and ("var(" in value or "adapter.quote(" in value):
        return env.from_string(value).render()
    if isinstance(value, list):
        return [render_arguments(v, env) for v in value]
    if isinstance(value, dict):
        return {k: render_arguments(v, env) for k, v in value.items()}
    return value


def _environment() -> jinja2.Environment:
    variables = engine.shoplens_vars()
    env = jinja2.Environment(undefined=jinja2.StrictUndefined)
    env.globals["var"] = lambda name, default=None: variables.get(name, default)
    env.globals["none"] = None
    env.globals["adapter"] = DuckDBQuoting()
    return env


class DuckDBQuoting:
    """``adapter.quote`` as dbt-duckdb renders it: the identifier in double quotes."""

    @staticmethod
    def quote(identifier: str) -> str:
        """``identifier`` quoted for DuckDB."""
        return f'"{identifier}"'


class RenderingDbtLoader(DbtLoader):
    """DbtLoader whose test arguments are rendered like dbt's (see the module doc)."""

    def _load_projects(self) -> list[t.Any]:
        fresh = not self._projects
        projects = super()._load_projects()
        if fresh:
            env = _environment()
            for project in projects:
                for package in project.packages.values():
                    tests = list(package.tests.values())
                    for model in package.models.values():
                        tests.extend(model.tests)
                    for test in tests:
                        test.test_kwargs = render_arguments(test.test_kwargs, env)
        return projects

    def _load_environment_statements(self, macros: t.Any) -> list[t.Any]:
        """SQLMesh's before_all/after_all statements (dbt's on-run-start/-end), comparable with
        the stored ones: SQLMesh marks a fresh macro registry "trimmed", a flag that is not
        stored, so every plan saw the statements as changed and asked for a virtual update."""
        statements = super()._load_environment_statements(macros)
        for statement in statements:
            statement.jinja_macros._trimmed = False  # what a registry read back from the state has
        return statements

    def _compute_yaml_max_mtime_per_subfolder(
        self, root: Path, visited: set[Path] | None = None
    ) -> dict[Path, float]:
        """SQLMesh's walk for the newest YAML per folder, without the folders in ``UNWALKED``
        or starting with ``.`` (see the module doc)."""
        result: dict[Path, float] = {}
        newest: float | None = None
        for nested in Path(root).resolve().iterdir():
            if nested.is_dir():
                if not nested.name.startswith(".") and nested.name not in UNWALKED:
                    result.update(super()._compute_yaml_max_mtime_per_subfolder(nested, visited))
            elif nested.suffix.lower() in (".yaml", ".yml") and self._path_mtimes.get(nested):
                newest = max(newest or 0.0, self._path_mtimes[nested])
        if newest is not None:
            result[Path(root).resolve()] = newest
        return result
