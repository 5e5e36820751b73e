{#- shoplens_seconds_between(start, end): seconds from timestamp start to timestamp end. -#}
{% macro shoplens_seconds_between(start, end) %}
    {{- return(adapter.dispatch('shoplens_seconds_between')(start, end)) -}}
{% endmacro %}
{% macro duckdb__shoplens_seconds_between(start, end) -%}
    (epoch({{ end }}) - epoch({{ start }}))
{%- endmacro %}
{% macro spark__shoplens_seconds_between(start, end) -%}
    (unix_timestamp({{ end }}) - unix_timestamp({{ start }}))
{%- endmacro %}
