{#- clean_text(column, types): trimmed text, empty strings as null. `types`
    (from shoplens_column_types) lets a typed non-text column skip the
    trimming: a number is simply written as text. -#}
{% macro clean_text(column, types={}) %}
    {%- set t = types.get(column, 'varchar') -%}
    {%- if t in ('varchar', 'text', 'string') or t.startswith('varchar') -%}
        nullif(trim({{ column }}), '')
    {%- else -%}
        cast({{ column }} as {{ dbt.type_string() }})
    {%- endif -%}
{% endmacro %}
