{#- shoplens_not_materialized(): the hint that makes a CTE read more than
    once by its query run again at each read instead of being stored once.
    DuckDB stores such a CTE's rows and scans the copy at each read; for a
    cheap step over a table or a Parquet file (a projection, a filter, a
    join to a small table) running it again costs less (at 1M customers:
    base_shop__events 65.3 s -> 40.8 s, int_events_sessionized 28.5 s ->
    11.9 s, alone; DECISIONS.md). Spark SQL has no such hint: nothing there
    (nor on any engine but DuckDB). -#}
{% macro shoplens_not_materialized() %}
    {{- return(adapter.dispatch('shoplens_not_materialized')()) -}}
{% endmacro %}
{% macro duckdb__shoplens_not_materialized() -%}
    not materialized
{%- endmacro %}
{% macro default__shoplens_not_materialized() -%}
{%- endmacro %}
