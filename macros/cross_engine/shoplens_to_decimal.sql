{#- shoplens_to_decimal(expression, precision, scale): a double as a decimal,
    rounded as DuckDB rounds it: the double times 10^scale, half away from
    zero. Spark's own cast rounds the double's shortest decimal spelling
    instead, so an average such as 262.90 / 4 = 65.725 (a double just below
    it) gave 65.73 on Spark and 65.72 on DuckDB. -#}
{% macro shoplens_to_decimal(expression, precision, scale) %}
    {{- return(adapter.dispatch('shoplens_to_decimal')(expression, precision, scale)) -}}
{% endmacro %}
{% macro duckdb__shoplens_to_decimal(expression, precision, scale) -%}
    cast({{ expression }} as decimal({{ precision }}, {{ scale }}))
{%- endmacro %}
{% macro spark__shoplens_to_decimal(expression, precision, scale) -%}
    cast(round(cast({{ expression }} as double) * {{ 10 ** scale }}, 0) / {{ 10 ** scale }}
        as decimal({{ precision }}, {{ scale }}))
{%- endmacro %}
