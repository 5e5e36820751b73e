"""Stand-ins for tests and benches, kept out of the model code.

``cdnow`` (the CDNOW sample as shop tables), ``clv_simulate`` (exact BG/NBD +
Gamma-Gamma simulator), ``forecast_data`` (a ``demand_daily``-shaped frame from
raw tables), exports shaped like public retail files with the conversion a
user writes (``online_retail_shape``: UCI Online Retail II; ``olist_shape``:
Olist; ``ga4_shape``: GA4's Merchandise Store; ``superstore_shape``: Tableau's
Sample - Superstore; ``rees46_shape``: REES46's eCommerce behavior data;
``dunnhumby_shape``: dunnhumby's The Complete Journey) and ``propensity_marts``
(pandas stand-in for the marts). Nothing under ``shoplens/clv``, ``shoplens/forecast`` or ``shoplens/propensity`` imports
from here.
"""

from pathlib import Path


def write_csv_tables(frames: dict, folder: str | Path) -> Path:
    """Write each frame of ``frames`` (table name -> DataFrame) as ``<table>.csv`` into
    ``folder`` (created), the way a user exports the raw contract; returns the folder."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in frames.items():
        frame.to_csv(folder / f"{name}.csv", index=False)
    return folder
