"""The tables the dbt Python models hand back to dbt-duckdb.

A pandas categorical keeps a large string column small in memory (a code per
row), but DuckDB stores it as an ENUM whose type lists every value: a million
customer ids made ``ml_product_recommendations.customer_id`` an ENUM of a
million members. As an Arrow dictionary array the same column costs the same
memory and DuckDB stores it as VARCHAR, the type every other table uses.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def repeated(value: str, n: int) -> pd.Categorical:
    """``n`` rows of one string as a categorical: one byte a row, not a pointer to a string."""
    return pd.Categorical.from_codes(np.zeros(n, np.int8), [value])


def for_duckdb(frame: pd.DataFrame):
    """``frame`` as an Arrow table: categoricals become dictionary arrays (stored as VARCHAR),
    every other column keeps the type DuckDB gives it from pandas. Columns are converted one
    at a time and dropped from ``frame`` as they go, so the two never both hold the whole
    table (``frame`` is left without columns)."""
    import pyarrow as pa

    names = list(frame.columns)
    arrays = []
    for name in names:
        column = frame.pop(name)
        if isinstance(column.dtype, pd.CategoricalDtype):
            cats = column.cat.categories
            dictionary = pa.array(cats.astype(str) if len(cats) else [], type=pa.string())
            codes = pa.array(column.cat.codes.to_numpy(), mask=column.isna().to_numpy())  # -1: null
            arrays.append(pa.DictionaryArray.from_arrays(codes, dictionary))
        else:
            arrays.append(pa.Array.from_pandas(column))
        del column
    return pa.Table.from_arrays(arrays, names=names)
