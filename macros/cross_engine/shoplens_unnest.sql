{#- shoplens_unnest(list): one row per element of a list (in a select). -#}
{% macro shoplens_unnest(list) %}
    {{- return(adapter.dispatch('shoplens_unnest')(list)) -}}
{% endmacro %}
{% macro duckdb__shoplens_unnest(list) -%}
    unnest({{ list }})
{%- endmacro %}
{% macro spark__shoplens_unnest(list) -%}
    explode({{ list }})
{%- endmacro %}
