"""The tables the dbt Python models return (shoplens.outputs)."""

from __future__ import annotations

import datetime as dt

import duckdb
import numpy as np
import pandas as pd

from shoplens.outputs import for_duckdb


def _frame() -> pd.DataFrame:
    n = 5
    return pd.DataFrame({
        "customer_id": pd.Categorical.from_codes(np.array([2, 0, 1, 0, 2], np.int32), ["C1", "C2", "C3"]),
        "reason": pd.Categorical.from_codes(np.array([1, -1, 0, 1, -1], np.int16), ["recency:+", "recency:-"]),
        "constant": pd.Categorical.from_codes(np.zeros(n, np.int8), ["shoplens-0.1.0/x"]),
        "name": np.array(["a", None, "c", "d", "e"], dtype=object),
        "score": np.linspace(0, 1, n),
        "p": np.linspace(0, 1, n).astype(np.float32),
        "rank": np.arange(1, n + 1, dtype=np.int32),
        "count": np.arange(n, dtype=np.int64),
        "flag": np.array([True, False, True, False, True]),
        "day": [dt.date(2025, 1, d) for d in range(1, n + 1)],
        "as_of_date": np.full(n, np.datetime64("2025-01-31", "D")),
    })


def _stored(table) -> tuple[list, list]:
    con = duckdb.connect()
    con.register("step_output", table)
    con.execute("create table t as select * from step_output")
    return con.execute("describe t").fetchall(), con.execute("select * from t").fetchall()


def test_categoricals_are_stored_as_varchar_with_the_same_values_and_nulls():
    types, rows = _stored(for_duckdb(_frame()))
    kinds = {name: kind for name, kind, *_ in types}
    assert kinds["customer_id"] == kinds["reason"] == kinds["constant"] == "VARCHAR"
    frame = _frame()
    assert [r[0] for r in rows] == list(frame["customer_id"].astype(str))
    assert [r[1] for r in rows] == ["recency:-", None, "recency:+", "recency:-", None]
    assert {r[2] for r in rows} == {"shoplens-0.1.0/x"}
    # pandas would have made ENUMs of them
    pandas_types = {name: kind for name, kind, *_ in _stored(frame)[0]}
    assert pandas_types["customer_id"].startswith("ENUM")


def test_other_columns_keep_the_types_and_values_pandas_gives_them():
    arrow_types, arrow_rows = _stored(for_duckdb(_frame()))
    pandas_types, pandas_rows = _stored(_frame())
    categorical = {"customer_id", "reason", "constant"}
    keep = [i for i, (name, *_) in enumerate(pandas_types) if name not in categorical]
    assert [arrow_types[i][:2] for i in keep] == [pandas_types[i][:2] for i in keep]
    assert [[row[i] for i in keep] for row in arrow_rows] == [[row[i] for i in keep] for row in pandas_rows]


def test_the_frame_gives_up_its_columns_and_an_empty_frame_converts():
    frame = _frame()
    table = for_duckdb(frame)
    assert table.num_rows == 5 and table.column_names == list(_frame().columns)
    assert frame.shape[1] == 0  # converted column by column, each dropped from the frame
    empty = _frame().iloc[:0].copy()
    empty["reason"] = pd.Categorical([], categories=[])
    types, rows = _stored(for_duckdb(empty))
    assert rows == [] and dict((n, k) for n, k, *_ in types)["reason"] == "VARCHAR"


def test_a_handed_over_input_is_read_once_and_freed_with_the_callee_name():
    import gc
    import weakref

    from shoplens.inputs import handed_over, read_now

    class Frame:  # a stand-in for a large frame that can be weakly referenced
        pass

    frame = Frame()
    alive = weakref.ref(frame)
    reader = handed_over(frame)
    del frame
    got = read_now(reader)
    assert got is alive()
    del got
    gc.collect()
    assert alive() is None  # the reader kept no reference
    try:
        reader()
    except RuntimeError as exc:
        assert "read once" in str(exc)
    else:
        raise AssertionError("a second read must fail")


def test_arrow_columns_converts_in_order_and_frees_each_column_before_the_next():
    import pyarrow as pa

    from shoplens.inputs import arrow_columns, handed_over

    n = 200_000
    table = pa.table({name: pa.array([float(i) for i in range(n)]) for name in ("a", "b", "c")})
    expected = {name: table[name].to_pylist()[:3] for name in table.column_names}
    held = []

    def convert(name, column):
        held.append(pa.total_allocated_bytes())
        return column.to_pylist()[:3]

    before = pa.total_allocated_bytes()
    reader = handed_over(table)
    del table  # the reader holds the only reference (a name kept here would keep every column)
    out = arrow_columns(reader, convert)
    assert out == expected and list(out) == ["a", "b", "c"]
    # Arrow memory in use when each column was converted: the earlier columns were released
    column_bytes = n * 8
    assert held[0] >= before - 1024
    assert held[0] - held[1] >= column_bytes and held[1] - held[2] >= column_bytes



def test_decimals_are_read_as_the_nearest_double_and_other_columns_as_they_are():
    from shoplens.inputs import decimals_as_double, read_with_categorical_ids

    con = duckdb.connect()
    quoted = '"amount ""x"""'  # a column name with a double quote in it
    rel = con.sql(f"""select 'c' || (i % 7) as customer_id, cast(i / 100 + 3.03 as decimal(18, 2)) as {quoted},
                          cast(i / 10000 + 23.45 as decimal(18, 4)) as unit_price, i as n
                   from range(5000) r(i)
                   union all select 'c0', null, 1.5, -1""")
    frame = read_with_categorical_ids(rel, {"customer_id"})
    assert list(frame.columns) == ["customer_id", 'amount "x"', "unit_price", "n"]
    assert str(frame["customer_id"].dtype) == "category" and frame["n"].dtype == np.int64
    rows = rel.fetchall()  # Python Decimals: float() of each is the nearest double
    for k, name in ((1, 'amount "x"'), (2, "unit_price")):
        assert frame[name].dtype == np.float64
        want = [float(r[k]) if r[k] is not None else None for r in rows]
        got = frame[name].tolist()
        assert got[:-1] == want[:-1] and len(got) == 5001
    assert np.isnan(frame['amount "x"'].iloc[-1]) and frame["unit_price"].iloc[-1] == 1.5
    plain = con.sql("select 1 as a, 'x' as b")
    assert decimals_as_double(plain) is plain  # nothing to cast: the same relation
    nested = decimals_as_double(con.sql("select [1.5::decimal(18, 2)] as l, 2.5::decimal(9, 1) as d"))
    assert [str(t) for t in nested.types] == ["DECIMAL(18,2)[]", "DOUBLE"]  # lists are left as they are
