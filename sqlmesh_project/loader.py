"""The loader of the dbt project under SQLMesh: SQLMesh's dbt loader behind a cache of what it loads.

SQLMesh's dbt loader re-reads the whole dbt project on every load, even when
its model cache is warm: dbt's import (~2 s of CPU) and manifest (partial
parse, ~1 s), then the conversion of every model config and of ~500 tests to
audits and the on-run-start statements (~2 to 3 s of CPU). A plan with no
change spent more than half of its time there.

``ShoplensDbtLoader.load`` keeps what that loader returns (models, audits,
Jinja macros, before_all/after_all statements) in ``.cache/shoplens_dbt_project``
under ``project_key``: a hash of every file of the dbt project (path, size,
modification time: the folders of dbt_project.yml, the files beside it, the
profile, sqlmesh_project's engine settings), of the vars, model defaults,
gateway and catalog, of this module and ``dbt_loader`` (``code_fingerprint``)
and of the dbt and Python versions (SQLMesh's cache files carry its own).
Any change to one of them loads the project with
``dbt_loader.RenderingDbtLoader`` (dbt is imported only then) and stores the
new result. Audits still run at every build: they are part of the models
the cache returns. The dbt singular tests (standalone audits) are stored
with their tables (``depends_on``), which SQLMesh otherwise finds by
rendering them with dbt's Jinja on every plan (importing dbt again).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import sys
import typing as t
from importlib import metadata
from pathlib import Path

import yaml
from sqlmesh.core.loader import Loader
from sqlmesh.core.macros import macro
from sqlmesh.utils.cache import FileCache

from sqlmesh_project import engine

CACHE_FOLDER = "shoplens_dbt_project"
# dbt_project.yml's folders of project files (with dbt's defaults) and the files beside it.
DBT_FOLDERS = {"model-paths": ["models"], "seed-paths": ["seeds"], "test-paths": ["tests"],
               "analysis-paths": ["analyses"], "macro-paths": ["macros"], "snapshot-paths": ["snapshots"]}
ROOT_FILES = ("dbt_project.yml", "packages.yml", "dependencies.yml", "selectors.yml", "config.py")
HERE = Path(__file__).resolve().parent
DELEGATED = "ShoplensDbtLoader.load() loads through dbt_loader.RenderingDbtLoader"


def code_fingerprint() -> str:
    """SHA-256 (16 hex digits) of this module and dbt_loader.py: part of both cache keys
    (SQLMesh's model cache through the loader's settings, and ``project_key``)."""
    digest = hashlib.sha256()
    for name in ("loader.py", "dbt_loader.py"):
        digest.update((HERE / name).read_bytes())
    return digest.hexdigest()[:16]


def project_files(root: Path, profiles_dir: Path | None) -> list[Path]:
    """The files that make the dbt project: its folders (``DBT_FOLDERS``, ``dbt_packages``),
    ``ROOT_FILES``, the profile and sqlmesh_project's engine settings."""
    project = yaml.load((root / "dbt_project.yml").read_text(), Loader=engine.YAML_LOADER) or {}
    folders = [name for key, default in DBT_FOLDERS.items() for name in project.get(key) or default]
    files = [root / name for name in ROOT_FILES]
    files += [HERE / "engine.py", Path(profiles_dir or root) / "profiles.yml"]
    for folder in [*folders, "dbt_packages"]:
        for base, dirs, names in os.walk(root / folder):
            dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d != "__pycache__")
            files += [Path(base) / name for name in sorted(names)]
    return files


def project_key(root: Path, profiles_dir: Path | None, settings: dict[str, t.Any]) -> str:
    """SHA-256 (24 hex digits) of the project's files (path, size, mtime), ``settings``,
    the code of the loaders and the dbt and Python versions."""
    digest = hashlib.sha256()
    for path in project_files(root, profiles_dir):
        stat = path.stat() if path.is_file() else None
        digest.update(f"{path}|{stat and stat.st_size}|{stat and stat.st_mtime_ns}\n".encode())
    versions = [metadata.version("dbt-core"), metadata.version("dbt-duckdb"), sys.version]
    extra = {"settings": settings, "code": code_fingerprint(), "versions": versions}
    digest.update(json.dumps(extra, sort_keys=True, default=str).encode())
    return digest.hexdigest()[:24]


class ShoplensDbtLoader(Loader):
    """SQLMesh's loader of the dbt project (``dbt_loader.RenderingDbtLoader``) behind
    ``.cache/shoplens_dbt_project`` (see the module doc)."""

    def __init__(self, context: t.Any, path: Path, profiles_dir: Path | None = None, code: str = "") -> None:
        del code  # only in the settings, for SQLMesh's model-cache key
        super().__init__(context, path)
        self._profiles_dir = profiles_dir

    def _settings(self) -> dict[str, t.Any]:
        return {
            "variables": self.config.variables, "defaults": self.config.model_defaults.json(),
            "gateway": self.context.selected_gateway, "catalog": self.context.default_catalog,
            "env": {name: os.environ.get(name) for name in (engine.SQLMESH_DB_ENV, "DBT_PROFILES_DIR")},
        }

    def load(self, model_fqns: set[str] | None = None, use_project_index: bool = False) -> t.Any:
        """The loaded dbt project: from the cache when ``project_key`` is unchanged, else
        loaded by SQLMesh's dbt loader (partial loads of some models always are)."""
        partial = bool(model_fqns or use_project_index)
        cache: FileCache[t.Any] = FileCache(self.context.cache_dir, CACHE_FOLDER)
        key = project_key(Path(self.config_path).resolve(), self._profiles_dir, self._settings())
        entry = None if partial else cache.get("project", key)
        if entry is not None:
            project, self._path_mtimes = entry
            # SQLMesh's macros are functions of this process (not pickled): its registry
            return dataclasses.replace(project, macros=macro.get_registry())
        from sqlmesh_project.dbt_loader import RenderingDbtLoader

        loader = RenderingDbtLoader(self.context, self.config_path, profiles_dir=self._profiles_dir)
        project = loader.load(model_fqns=model_fqns, use_project_index=use_project_index)
        self._path_mtimes = loader._path_mtimes
        if not partial:
            for audit in project.standalone_audits.values():
                # rendered here once, stored with the audit: rendering dbt's Jinja imports dbt
                audit.depends_on  # noqa: B018
            cache.put("project", key, value=(dataclasses.replace(project, macros=None), dict(self._path_mtimes)))
        return project

    def _load_scripts(self) -> t.Any:
        raise NotImplementedError(DELEGATED)

    def _load_models(self, *args: t.Any, **kwargs: t.Any) -> t.Any:
        raise NotImplementedError(DELEGATED)

    def _load_audits(self, *args: t.Any, **kwargs: t.Any) -> t.Any:
        raise NotImplementedError(DELEGATED)
