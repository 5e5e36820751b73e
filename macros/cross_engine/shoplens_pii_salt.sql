{#- shoplens_pii_salt(): the PII salt as a SQL expression (null when the
    environment variable SHOPLENS_PII_SALT is unset). Its value never
    appears in compiled SQL: DuckDB calls the plugin's function, Spark
    substitutes the session conf set by shoplens.spark.session. -#}
{% macro shoplens_pii_salt() %}
    {{- return(adapter.dispatch('shoplens_pii_salt')()) -}}
{% endmacro %}
{% macro duckdb__shoplens_pii_salt() -%}
    shoplens_pii_salt()
{%- endmacro %}
{% macro spark__shoplens_pii_salt() -%}
    nullif('${shoplens.pii_salt}', '')
{%- endmacro %}
