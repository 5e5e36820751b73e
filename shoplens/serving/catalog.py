"""What the serving database holds: the served tables, read from dbt's manifest.

A model is served when its dbt config carries ``meta: {serve: <schema>}``
(set per folder in ``dbt_project.yml``: ``marts/`` -> ``marts``,
``predictions/`` -> ``predictions``) or per model in its YAML; an optional
``serve_as`` renames it in the serving database. ``OPTIONAL`` lists tables
that other parts of the project may or may not have built: they are served
when the warehouse has them and skipped, never an error, when it does not.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from shoplens.serving.errors import ServingError

# Tables served when present in the warehouse, whatever their dbt meta says:
# warehouse name -> (schema, served name). ml_model_status (the model steps'
# health) comes from the model families; a build without it still publishes.
OPTIONAL: dict[str, tuple[str, str]] = {
    "ml_model_status": ("quality", "model_status"),
}

# Schemas a BI user sees, and what each means (carried into the file as comments).
SCHEMAS: dict[str, str] = {
    "marts": "Facts, dimensions and customer marts (dbt models/marts).",
    "predictions": "Model outputs for BI: lifetime value, demand forecasts, purchase propensity, and their evaluation.",
    "quality": "Data quality and model health: rejected raw rows per table and rule (no raw values), model status.",
}


@dataclass(frozen=True)
class ServedTable:
    """One table of the serving database and the warehouse relation it copies."""

    source: str  # relation name in the warehouse (dbt alias)
    schema: str  # schema in the serving database
    name: str  # table name in the serving database
    required: bool = True  # a missing source is an error (False: skipped)
    description: str = ""
    columns: dict[str, str] = field(default_factory=dict)  # column -> description
    contract: dict[str, str] = field(default_factory=dict)  # column -> declared data_type

    @property
    def qualified(self) -> str:
        """``schema.name`` as a BI user writes it."""
        return f"{self.schema}.{self.name}"


def load_manifest(target_path: Path) -> dict:
    """dbt's ``manifest.json`` from a target folder, with a clear error when absent."""
    path = Path(target_path) / "manifest.json"
    if not path.exists():
        raise ServingError(f"no dbt manifest at {path}: run `dbt build` (or point --target-path at its target folder)")
    return json.loads(path.read_text())


def _table_from_node(node: dict, schema: str, name: str, required: bool) -> ServedTable:
    columns = {c: (meta.get("description") or "").strip() for c, meta in node.get("columns", {}).items()}
    enforced = node.get("config", {}).get("contract", {}).get("enforced", False)
    contract = {
        c: meta["data_type"]
        for c, meta in node.get("columns", {}).items()
        if enforced and meta.get("data_type")
    }
    return ServedTable(
        source=node.get("alias") or node["name"],
        schema=schema,
        name=name,
        required=required,
        description=(node.get("description") or "").strip(),
        columns=columns,
        contract=contract,
    )


def served_tables(manifest: dict) -> list[ServedTable]:
    """Every table to serve, from the manifest's ``serve`` meta plus ``OPTIONAL``.

    Ordered by schema then name. Raises on a ``serve`` value that is not one
    of ``SCHEMAS`` or on two models served under one name.
    """
    out: dict[str, ServedTable] = {}
    by_name = {}
    for node in manifest.get("nodes", {}).values():
        if node.get("resource_type") != "model" or node.get("config", {}).get("enabled") is False:
            continue
        by_name[node["name"]] = node
        meta = node.get("config", {}).get("meta", {}) or node.get("meta", {})
        schema = meta.get("serve")
        if node["name"] in OPTIONAL:
            schema, name = OPTIONAL[node["name"]]
            table = _table_from_node(node, schema, name, required=False)
        elif schema:
            if schema not in SCHEMAS:
                raise ServingError(
                    f"model {node['name']}: meta serve: {schema!r} is not a serving schema ({', '.join(SCHEMAS)})"
                )
            table = _table_from_node(node, schema, meta.get("serve_as") or node["name"], required=True)
        else:
            continue
        if table.qualified in out:
            raise ServingError(f"models {out[table.qualified].source} and {table.source} are both served as {table.qualified}")
        out[table.qualified] = table
    for source, (schema, name) in OPTIONAL.items():
        if source not in by_name and f"{schema}.{name}" not in out:
            out[f"{schema}.{name}"] = ServedTable(source=source, schema=schema, name=name, required=False)
    return sorted(out.values(), key=lambda t: (t.schema, t.name))
