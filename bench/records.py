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


def save_report(text: str, data: object, out: str | Path | None) -> None:
    """Print a by-hand bench's markdown ``text`` and, with ``out``, save it there and ``data``
    beside it as JSON (the same name, ``.json``)."""
    print(text)
    if out:
        Path(out).write_text(text + "\n")
        Path(out).with_suffix(".json").write_text(json.dumps(data, indent=1))
