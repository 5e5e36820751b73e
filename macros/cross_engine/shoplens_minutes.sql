{#- shoplens_minutes(n): an interval of n minutes. -#}
{% macro shoplens_minutes(n) %}
    {{- return(adapter.dispatch('shoplens_minutes')(n)) -}}
{% endmacro %}
{% macro duckdb__shoplens_minutes(n) -%}
    to_minutes({{ n }})
{%- endmacro %}
{% macro spark__shoplens_minutes(n) -%}
    make_dt_interval(0, 0, 0, {{ n }} * 60)
{%- endmacro %}
