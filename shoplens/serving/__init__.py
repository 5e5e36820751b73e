"""The serving path: a published, checked, read-only DuckDB file for BI.

``publish`` copies the BI-facing tables of a built warehouse into a new file,
checks it, and renames it over the previous serving database
(``python -m shoplens.serving publish``; ``make build`` runs it after
``dbt build``). ``reader`` opens the current publication for the dashboard.
"""

from shoplens.serving.catalog import OPTIONAL, SCHEMAS, ServedTable, served_tables
from shoplens.serving.checks import check, scan_for_leaks
from shoplens.serving.errors import ServingError
from shoplens.serving.paths import serving_path, target_path, warehouse_path
from shoplens.serving.publish import (
    Publication,
    current_publication,
    publish,
)

__all__ = [
    "OPTIONAL",
    "SCHEMAS",
    "Publication",
    "ServedTable",
    "ServingError",
    "check",
    "current_publication",
    "publish",
    "scan_for_leaks",
    "served_tables",
    "serving_path",
    "target_path",
    "warehouse_path",
]
