{#- shoplens_quote(name): a column name as a quoted identifier. -#}
{% macro shoplens_quote(name) %}
    {{- return(adapter.dispatch('shoplens_quote')(name)) -}}
{% endmacro %}
{% macro duckdb__shoplens_quote(name) -%}
    {{ '"' ~ name | replace('"', '""') ~ '"' }}
{%- endmacro %}
{% macro spark__shoplens_quote(name) -%}
    {{ '`' ~ name | replace('`', '``') ~ '`' }}
{%- endmacro %}
