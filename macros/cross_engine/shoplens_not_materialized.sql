{#- shoplens_not_materialized(): the hint that makes a CTE read more than
    once by its query run again at each read instead of being stored once.
    DuckDB stores such a CTE's rows and scans the copy at each read; for a
    cheap step over a table or a Parquet file (a projection, a filter, a
    join to a small table) running it again costs less (at 1M customers:
    base_shop__events 57.6 s -> 34.6 s, int_events_sessionized 25.8 s ->
    9.5 s, alone; DECISIONS.md). Spark SQL has no such hint: nothing there. -#}
{% macro shoplens_not_materialized() %}
    {{- return(adapter.dispatch('shoplens_not_materialized')()) -}}
{% endmacro %}
{% macro duckdb__shoplens_not_materialized() -%}
    not materialized
{%- endmacro %}
{% macro spark__shoplens_not_materialized() -%}
{%- endmacro %}
