"""dbt passes a Python model only the config keys it finds in literal ``dbt.config.get("key")`` calls.

A model that hands ``dbt.config.get`` itself to a config reader gets None for
every key, so the dbt vars behind them are silently ignored (the recommenders
did this until they were caught by the SQLMesh parity test). These checks read
the adapters and their YAML, no build needed.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from conftest import REPO

DBT_KEYS = {"materialized", "tags", "enabled", "alias", "schema", "database", "contract", "meta", "docs", "packages",
            "incremental_strategy", "unique_key", "submission_method"}
LITERAL_GET = re.compile(r"""dbt\.config\.get\(\s*["']([A-Za-z0-9_]+)["']""")


def _models() -> list[tuple[Path, dict]]:
    out = []
    for yml in sorted((REPO / "python_models").rglob("*.yml")):
        for node in (yaml.safe_load(yml.read_text()) or {}).get("models", []) or []:
            code = yml.parent / f"{node['name']}.py"
            if code.exists():
                out.append((code, node.get("config") or {}))
    return out


MODELS = _models()


def test_every_python_model_is_found():
    assert len(MODELS) == len(list((REPO / "python_models").rglob("ml_*.py")))


@pytest.mark.parametrize("code,config", MODELS, ids=[p.stem for p, _ in MODELS])
def test_adapter_never_passes_config_get_uncalled(code, config):
    del config
    assert not re.search(r"dbt\.config\.get\s*[),]", code.read_text()), (
        f"{code.name} passes dbt.config.get itself: dbt fills only keys in literal calls"
    )


@pytest.mark.parametrize("code,config", MODELS, ids=[p.stem for p, _ in MODELS])
def test_every_key_read_is_declared_in_the_model_config(code, config):
    read = set(LITERAL_GET.findall(code.read_text()))
    assert read <= set(config), f"{code.name} reads {sorted(read - set(config))} that its YAML config does not set"
