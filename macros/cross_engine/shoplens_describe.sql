{#- shoplens_describe(query): the statement listing a query's columns
    (first column: name, second: type). -#}
{% macro shoplens_describe(query) %}
    {{- return(adapter.dispatch('shoplens_describe')(query)) -}}
{% endmacro %}
{% macro duckdb__shoplens_describe(query) -%}
    {{- return('describe ' ~ query) -}}
{%- endmacro %}
{% macro spark__shoplens_describe(query) -%}
    {{- return('describe query ' ~ query) -}}
{%- endmacro %}
