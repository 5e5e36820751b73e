"""Scoring a whole population in chunks of customers, so memory does not grow with the shop.

The History's per-row arrays are sorted by customer index, so the rows of a
contiguous range of customers are a contiguous slice (a view, no copy). A
population is first summarised without sequences (one small snapshot, on
which BG/NBD is fitted once); then the sequence features, the GRU, the
regression and the reasons are computed ``chunk_rows`` customers at a time.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator

import numpy as np
import pandas as pd

from shoplens.propensity.features import Snapshot, snapshot
from shoplens.propensity.history import History

#: Customers whose sequences are built and scored at a time: a multiple of the GRU's
#: prediction batch (8,192), so that only the last chunk ends in a partial batch (every new
#: batch shape makes TensorFlow trace the prediction function again).
CHUNK_ROWS = 131_072


def customer_slice(history: History, lo: int, hi: int) -> History:
    """The history restricted to the rows of customers ``lo .. hi - 1`` (views of the sorted arrays)."""
    pa, pb = np.searchsorted(history.p_cust, [lo, hi])
    sa, sb = np.searchsorted(history.s_cust, [lo, hi])
    return dataclasses.replace(
        history, p_cust=history.p_cust[pa:pb], p_day=history.p_day[pa:pb], p_revenue=history.p_revenue[pa:pb],
        s_cust=history.s_cust[sa:sb], s_day=history.s_day[sa:sb], s_counts=history.s_counts[sa:sb],
        s_seen=None if history.s_seen is None else history.s_seen[sa:sb], event_shop=history.has_events,
    )


def snapshot_rows(history: History, cutoff: int, weeks: int, index: np.ndarray) -> Snapshot:
    """The full snapshot (with sequences) of the customers ``index`` (sorted, all born by ``cutoff``)."""
    only = np.zeros(len(history.customer_ids), dtype=bool)
    only[index] = True
    if len(index) == 0:
        return snapshot(history, cutoff, weeks, only=only)
    return snapshot(customer_slice(history, int(index[0]), int(index[-1]) + 1), cutoff, weeks, only=only)


def snapshot_chunks(history: History, cutoff: int, weeks: int, index: np.ndarray,
                    chunk_rows: int = CHUNK_ROWS) -> Iterator[tuple[int, int, Snapshot]]:
    """(start, stop, snapshot of ``index[start:stop]``) over ``index`` in chunks."""
    for start in range(0, max(len(index), 1), chunk_rows):
        stop = min(start + chunk_rows, len(index))
        yield start, stop, snapshot_rows(history, cutoff, weeks, index[start:stop])


def chunked_columns(history: History, cutoff: int, weeks: int, score: Callable[[Snapshot, dict], dict],
                    fixed: dict, n: int, index: np.ndarray, chunk_rows: int = CHUNK_ROWS) -> dict:
    """``score(chunk snapshot, fixed columns of the chunk)`` over every chunk, concatenated.

    ``fixed``: columns already computed for the whole population (arrays of length ``n``
    are sliced to the chunk, anything else is passed as it is).
    """
    parts: list[dict] = []
    for start, stop, snap in snapshot_chunks(history, cutoff, weeks, index, chunk_rows):
        sliced = {k: (v[start:stop] if isinstance(v, np.ndarray) and len(v) == n else v)
                  for k, v in fixed.items()}
        parts.append(score(snap, sliced))
        del snap
    out = {}
    for key in list(parts[0]):
        values = [p.pop(key) for p in parts]  # each column's parts are freed once it is joined
        if isinstance(values[0], np.ndarray):
            out[key] = np.concatenate(values)
        elif isinstance(values[0], pd.Categorical):  # the parts share their categories (the reasons')
            out[key] = pd.Categorical.from_codes(np.concatenate([v.codes for v in values]), values[0].categories)
        else:
            out[key] = values[0]
        del values
    return out
