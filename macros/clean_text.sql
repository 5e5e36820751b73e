{#- clean_text(column): trimmed text, empty strings as null. -#}
{% macro clean_text(column) %}
    nullif(trim(cast({{ column }} as varchar)), '')
{% endmacro %}
