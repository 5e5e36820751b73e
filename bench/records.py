"""Bench records: print one run's figures and append them to a JSON list under reports/bench/."""

from __future__ import annotations

import json
from pathlib import Path

REPORTS = Path(__file__).resolve().parents[1] / "reports" / "bench"


def append_record(filename: str, record: dict) -> Path:
    """Print ``record`` and append it to reports/bench/``filename`` (a JSON list, created if missing)."""
    print(json.dumps(record, indent=1))
    out = REPORTS / filename
    runs = json.loads(out.read_text()) if out.exists() else []
    out.write_text(json.dumps([*runs, record], indent=1) + "\n")
    return out
