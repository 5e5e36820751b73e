{#- shoplens_check_engine(): stop with one message when the engine lacks
    the project's functions. On Spark they are registered by
    `python -m shoplens.spark dbt ...` (shoplens/spark/session.py). -#}
{% macro shoplens_check_engine() %}
    {{- return(adapter.dispatch('shoplens_check_engine')()) -}}
{% endmacro %}
{% macro default__shoplens_check_engine() -%}
    {{- return(none) -}}
{%- endmacro %}
{% macro spark__shoplens_check_engine() -%}
    {%- set found = run_query("show functions like 'shoplens_list_files'") -%}
    {%- if found.rows | length == 0 -%}
        {{ exceptions.raise_compiler_error(
            "shoplens: the spark target runs through `python -m shoplens.spark dbt <command>` "
            ~ "(make spark-build), which checks for Java and pyspark and registers the "
            ~ "project's functions on the Spark session; plain `dbt --target spark` lacks them") }}
    {%- endif -%}
    {{- return(none) -}}
{%- endmacro %}
