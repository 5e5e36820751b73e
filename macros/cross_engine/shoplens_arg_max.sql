{#- shoplens_arg_max(value, keys): `value` of the row with the largest
    (keys...) tuple, compared key by key. -#}
{% macro shoplens_arg_max(value, keys) %}
    {{- return(adapter.dispatch('shoplens_arg_max')(value, keys)) -}}
{% endmacro %}
{% macro duckdb__shoplens_arg_max(value, keys) -%}
    arg_max({{ value }}, ({{ keys | join(', ') }}))
{%- endmacro %}
{% macro spark__shoplens_arg_max(value, keys) -%}
    max_by({{ value }}, struct({{ keys | join(', ') }}))
{%- endmacro %}
