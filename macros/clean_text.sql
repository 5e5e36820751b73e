{#- clean_text(column, types): trimmed text, empty strings as null. `types`
    (from shoplens_column_types) lets a typed non-text column skip the
    trimming: a number is simply written as text, a whole float or decimal
    without its decimals (12361.0 as 12361), NaN and infinity as null. -#}
{% macro clean_text(column, types={}) %}
    {%- set t = types.get(column, 'varchar') -%}
    {%- if t in ('varchar', 'text', 'string') or t.startswith('varchar') -%}
        nullif(trim({{ column }}), '')
    {%- elif t in ('double', 'float', 'real', 'float4', 'float8') or t.startswith('decimal') -%}
        {#- a whole number is written without decimals: pandas writes an integer id column
            with gaps (a guest's NaN) as float64, and 12361.0 must meet the 12361 of
            another file -#}
        case
            when not {{ shoplens_is_finite('cast(' ~ column ~ ' as double)') }} then null
            when {{ column }} = floor({{ column }}) and abs({{ column }}) < 1e18
                then cast(cast({{ column }} as decimal(38, 0)) as {{ dbt.type_string() }})
            else cast({{ column }} as {{ dbt.type_string() }})
        end
    {%- else -%}
        cast({{ column }} as {{ dbt.type_string() }})
    {%- endif -%}
{% endmacro %}
