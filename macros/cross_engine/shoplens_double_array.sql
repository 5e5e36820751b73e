{#- shoplens_double_array(): the type of a list of doubles. -#}
{% macro shoplens_double_array() %}
    {{- return(adapter.dispatch('shoplens_double_array')()) -}}
{% endmacro %}
{% macro duckdb__shoplens_double_array() -%}
    double[]
{%- endmacro %}
{% macro spark__shoplens_double_array() -%}
    array<double>
{%- endmacro %}
