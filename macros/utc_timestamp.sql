{#- utc_timestamp(column, types): a raw timestamp as a naive UTC timestamp,
    null when it does not parse. Text (ISO-8601 with or without a UTC offset)
    is parsed (an offset may follow a space), and read as UTC when it has no offset (the profile sets the
    session TimeZone to UTC); a typed Parquet timestamp is taken as UTC as it
    is, and one with a time zone is converted. `types` comes from
    shoplens_column_types. -#}
{% macro utc_timestamp(column, types={}) %}
    {{- return(adapter.dispatch('utc_timestamp')(column, types)) -}}
{% endmacro %}

{% macro duckdb__utc_timestamp(column, types={}) %}
    {%- set t = types.get(column, 'varchar') -%}
    {%- if t == 'timestamp' or t.startswith('timestamp_') or t == 'timestamp without time zone' -%}
        cast({{ column }} as timestamp)
    {%- elif t == 'timestamp with time zone' -%}
        timezone('UTC', {{ column }})
    {%- elif t == 'date' -%}
        cast({{ column }} as timestamp)
    {%- else -%}
        {#- a space before a numeric offset (Shopify's `2023-02-03 16:37:04 -0500`) is read
            as Spark reads it; the second cast runs only on the rows the first leaves null -#}
        timezone('UTC', coalesce(try_cast({{ column }} as timestamptz),
            try_cast(regexp_replace({{ column }}, ' +([+-][0-9]{2}(:?[0-9]{2})?) *$', '\1') as timestamptz)))
    {%- endif -%}
{% endmacro %}

{#- Spark: the session time zone is UTC (shoplens.spark.session), so a
    timestamp is shown and compared as UTC; text with an offset is converted. -#}
{% macro spark__utc_timestamp(column, types={}) %}
    {%- set t = types.get(column, 'string') -%}
    {%- if t in ('timestamp', 'timestamp_ntz', 'timestamp_ltz', 'date') -%}
        cast({{ column }} as timestamp)
    {%- else -%}
        try_cast({{ column }} as timestamp)
    {%- endif -%}
{% endmacro %}
