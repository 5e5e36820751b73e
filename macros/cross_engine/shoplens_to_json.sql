{#- shoplens_to_json(value): a struct as JSON text, null fields kept. -#}
{% macro shoplens_to_json(value) %}
    {{- return(adapter.dispatch('shoplens_to_json')(value)) -}}
{% endmacro %}
{% macro duckdb__shoplens_to_json(value) -%}
    cast(to_json({{ value }}) as varchar)
{%- endmacro %}
{% macro spark__shoplens_to_json(value) -%}
    to_json({{ value }}, map('ignoreNullFields', 'false'))
{%- endmacro %}
