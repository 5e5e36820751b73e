{#- shoplens_min_valid_date(): the var `min_valid_date` as a UTC timestamp
    expression. Rows stamped before it are quarantined as "too early" (a
    1970-01-01 or 1900-01-01 placeholder, a year typed as 0025). -#}
{% macro shoplens_min_valid_date() %}
    cast('{{ var("min_valid_date", "1990-01-01") }}' as timestamp)
{%- endmacro %}
