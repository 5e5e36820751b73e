{#- shoplens_is_finite(number): false for NaN and +-infinity. -#}
{% macro shoplens_is_finite(number) %}
    {{- return(adapter.dispatch('shoplens_is_finite')(number)) -}}
{% endmacro %}
{% macro duckdb__shoplens_is_finite(number) -%}
    isfinite({{ number }})
{%- endmacro %}
{% macro spark__shoplens_is_finite(number) -%}
    (not isnan({{ number }}) and abs({{ number }}) < double('infinity'))
{%- endmacro %}
