"""SQLMesh's dbt loader, with dbt's rendering of generic test arguments.

dbt renders ``{{ var(...) }}`` inside a generic test's arguments before the
test runs; SQLMesh's dbt loader does not (a var in an argument comes out as
None, Jinja inside text or a list stays as it is). This loader renders every
argument string that holds ``{{`` with the project's vars, as dbt does, so
the audits check what the dbt tests check (e.g. ``n_customers_both >=
affinity_min_support``).
"""

from __future__ import annotations

import typing as t

import jinja2
from sqlmesh.dbt.loader import DbtLoader

from sqlmesh_project import engine


def render_arguments(value: t.Any, env: jinja2.Environment) -> t.Any:
    """``value`` with every string holding ``{{ var(...) }}`` rendered (lists and dicts walked)."""
    if isinstance(value, str) and "{{" in value and "var(" in value:
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
    return env


class ShoplensDbtLoader(DbtLoader):
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
