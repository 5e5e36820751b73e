{#- shoplens_column_types(relation): {lower-case column name: lower-case
    DuckDB type} of a relation, read at run time ({} while parsing). Lets the
    typing macros skip work that a typed (Parquet) column does not need. -#}
{% macro shoplens_column_types(relation) %}
    {%- if not execute -%}{{ return({}) }}{%- endif -%}
    {%- set out = {} -%}
    {%- for col in adapter.get_columns_in_relation(relation) -%}
        {%- do out.update({col.name | lower: col.dtype | lower}) -%}
    {%- endfor -%}
    {{ return(out) }}
{% endmacro %}
