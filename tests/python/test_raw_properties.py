"""The raw contract's invariant, property-based (issue 15).

Hypothesis draws raw exports (valid rows mixed with every class of bad row,
CSV or Parquet, random delimiters, encodings, header case and column order),
builds the raw layer of each, and checks that every input row is in exactly
one place: its clean staging table, or audit_rejected_rows with the rule it
breaks. A build that stops instead must name the file.

`make test` runs a few examples; `make fuzz` (FUZZ=1) runs FUZZ_EXAMPLES
(200 by default).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from raw_exports import EXPORT_DATE, actual_places, expected_places, exports, layouts, write_export
from raw_layer import shared_raw_layer

pytestmark = [pytest.mark.slow, pytest.mark.fuzz]

FUZZ = bool(os.environ.get("FUZZ"))
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", 200 if FUZZ else 4))


@settings(max_examples=EXAMPLES, deadline=None, derandomize=not FUZZ, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(export=exports(), layout=layouts)
def test_every_raw_row_is_in_exactly_one_place(export, layout):
    layer = shared_raw_layer()
    folder = Path(tempfile.mkdtemp(prefix="ex-", dir=layer.work))
    try:
        variables = {"export_date": EXPORT_DATE, **write_export(export, layout, folder / "raw")}
        out = layer.run(folder / "raw", folder / "w", variables)
        assert out.success, f"{layout}\n{out.text[-3000:]}"
        expected = expected_places(export)
        actual = actual_places(out.query)
        missing = expected - actual
        extra = actual - expected
        assert not missing and not extra, f"{layout}\nmissing: {dict(missing)}\nextra: {dict(extra)}"
    finally:
        shutil.rmtree(folder, ignore_errors=True)
