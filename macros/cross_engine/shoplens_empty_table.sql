{#- shoplens_empty_table(relation): the statement that deletes every row. -#}
{% macro shoplens_empty_table(relation) %}
    {{- return(adapter.dispatch('shoplens_empty_table')(relation)) -}}
{% endmacro %}
{% macro duckdb__shoplens_empty_table(relation) -%}
    {{- return('delete from ' ~ relation) -}}
{%- endmacro %}
{% macro spark__shoplens_empty_table(relation) -%}
    {{- return('truncate table ' ~ relation) -}}
{%- endmacro %}
