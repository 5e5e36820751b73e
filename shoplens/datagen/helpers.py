"""Small array helpers: timestamps, ids, grouped sums."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from shoplens.datagen.config import HOUR_PROFILE


def _seconds_since_epoch(start: dt.date) -> int:
    return int(dt.datetime(start.year, start.month, start.day, tzinfo=dt.UTC).timestamp())


def _ts_array(seconds: np.ndarray) -> pa.Array:
    return pa.array(seconds.astype("int64"), type=pa.int64()).cast(pa.timestamp("s"))


def _iso_utc(seconds: np.ndarray, style: str = "Z") -> pa.Array:
    """ISO-8601 text for epoch seconds: ``Z`` suffix, or naive (read as UTC)."""
    ts = _ts_array(seconds)
    if style == "Z":
        return pc.strftime(ts, format="%Y-%m-%dT%H:%M:%SZ")
    return pc.strftime(ts, format="%Y-%m-%d %H:%M:%S")


def _iso_with_offsets(seconds: np.ndarray, offset_minutes: np.ndarray) -> pa.Array:
    """ISO-8601 text of the same instants, written in local time with an offset."""
    local = _ts_array(seconds + offset_minutes.astype("int64") * 60)
    text = pc.strftime(local, format="%Y-%m-%dT%H:%M:%S")
    sign = np.where(offset_minutes < 0, "-", "+")
    hh = np.abs(offset_minutes) // 60
    mm = np.abs(offset_minutes) % 60
    suffix = np.char.add(np.char.add(sign, np.char.zfill(hh.astype(str), 2)), ":")
    suffix = np.char.add(suffix, np.char.zfill(mm.astype(str), 2))
    return pc.binary_join_element_wise(text, pa.array(suffix.astype(object)), "")


def _ids(prefix: str, numbers: np.ndarray, width: int) -> np.ndarray:
    if numbers.size == 0:  # a one-customer shop has no sign-up-only customers
        return np.empty(0, dtype=object)
    return np.char.add(prefix, np.char.zfill(numbers.astype(np.int64).astype(str), width)).astype(object)


def _group_cumsum(values: np.ndarray, group_sizes: np.ndarray) -> np.ndarray:
    """Cumulative sum of ``values`` restarting at every group (groups contiguous)."""
    total = np.cumsum(values)
    starts = np.cumsum(group_sizes) - group_sizes
    offsets = np.repeat(np.concatenate([[0.0], total])[starts], group_sizes)
    return total - offsets


def _day_seconds(rng: np.random.Generator, n: int) -> np.ndarray:
    hours = rng.choice(24, size=n, p=np.asarray(HOUR_PROFILE) / sum(HOUR_PROFILE))
    return hours * 3600 + rng.integers(0, 3600, size=n)
