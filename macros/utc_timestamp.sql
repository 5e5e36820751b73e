{#- utc_timestamp(column): a raw timestamp (ISO-8601 text with or without a
    UTC offset, or a typed timestamp) as a naive UTC timestamp; null when it
    does not parse. Text without an offset is read as UTC (the profile sets
    the session TimeZone to UTC). -#}
{% macro utc_timestamp(column) %}
    timezone('UTC', try_cast({{ column }} as timestamptz))
{% endmacro %}
