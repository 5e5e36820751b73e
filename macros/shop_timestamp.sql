{#- shop_timestamp(column, types): a raw timestamp as the shop's wall-clock time, a naive
    timestamp in the var shop_timezone (an IANA name; default UTC), null when it does not
    parse. Every date the project derives (order_date, event_date, session days, the
    forecasts' days) is then the shop's own calendar day.
    - Text with a UTC offset or zone (`...Z`, `+01:00`, `+0100`, Shopify's ` -0500` after a
      space, ` UTC`) and a typed Parquet timestamp with a time zone are instants: converted.
    - Text without one and a typed naive Parquet timestamp are already the shop's wall-clock
      time (var naive_timestamps: local), or UTC to convert (naive_timestamps: utc).
    - A date (typed, or text without a time of day) is midnight of that day.
    With shop_timezone UTC the SQL is what it was before the var: everything UTC.
    `types` comes from shoplens_column_types. -#}
{% macro shop_timestamp(column, types={}) %}
    {{- return(adapter.dispatch('shop_timestamp')(column, types)) -}}
{% endmacro %}

{#- shoplens_shop_timezone(): the var shop_timezone, checked; none for UTC (the default).
    A name that is no IANA time zone stops the build naming the var. -#}
{% macro shoplens_shop_timezone() %}
    {%- set tz = var('shop_timezone', 'UTC') -%}
    {%- if tz is none or (tz | string | trim | upper) in ('', 'UTC', 'ETC/UTC', 'Z') -%}
        {{- return(none) -}}
    {%- endif -%}
    {%- set tz = tz | string | trim -%}
    {%- set known = modules.pytz.all_timezones_set if modules.pytz is defined and modules.pytz.all_timezones_set is defined else none -%}
    {%- if not modules.re.match('^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+){0,2}$', tz)
          or (known is not none and tz not in known) -%}
        {{ exceptions.raise_compiler_error(
            "var shop_timezone: '" ~ tz ~ "' is not an IANA time zone name"
            ~ " (for example Europe/Berlin, America/New_York, Asia/Tokyo; UTC is the default)") }}
    {%- endif -%}
    {%- set naive = var('naive_timestamps', 'local') | string | lower -%}
    {%- if naive not in ('local', 'utc') -%}
        {{ exceptions.raise_compiler_error(
            "var naive_timestamps: '" ~ var('naive_timestamps') ~ "' must be local (timestamps without"
            ~ " an offset are the shop's own time) or utc") }}
    {%- endif -%}
    {{- return(tz) -}}
{% endmacro %}

{#- shoplens_naive_timestamps_utc(): true when timestamps without an offset are UTC
    (var naive_timestamps: utc) rather than the shop's wall-clock time. -#}
{% macro shoplens_naive_timestamps_utc() %}
    {{- return((var('naive_timestamps', 'local') | string | lower) == 'utc') -}}
{% endmacro %}

{#- text that names its offset or zone after the time of day: Z, +01, -05:00, +0100, UTC -#}
{% macro shoplens_zoned_text_pattern() -%}
    [0-9]:[0-9][0-9](:[0-9][0-9]([.,][0-9]+)?)? *([zZ] *$|[+-][0-9]|[A-Za-z][A-Za-z])
{%- endmacro %}

{% macro duckdb__shop_timestamp(column, types={}) %}
    {%- set tz = shoplens_shop_timezone() -%}
    {%- set t = types.get(column, 'varchar') -%}
    {%- set naive_typed = t == 'timestamp' or t.startswith('timestamp_') or t == 'timestamp without time zone' -%}
    {#- an instant from text with an offset; a space before a numeric offset (Shopify's
        `2023-02-03 16:37:04 -0500`) is read as Spark reads it; the second cast runs only on
        the rows the first leaves null. Text without an offset reads as UTC (the profile sets
        the session TimeZone to UTC). -#}
    {%- set instant -%}
        coalesce(try_cast({{ column }} as timestamptz),
            try_cast(regexp_replace({{ column }}, ' +([+-][0-9]{2}(:?[0-9]{2})?) *$', '\1') as timestamptz))
    {%- endset -%}
    {%- if tz is none -%}
        {%- if naive_typed or t == 'date' -%}
            cast({{ column }} as timestamp)
        {%- elif t == 'timestamp with time zone' -%}
            timezone('UTC', {{ column }})
        {%- else -%}
            timezone('UTC', {{ instant }})
        {%- endif -%}
    {%- else -%}
        {%- set naive_utc = shoplens_naive_timestamps_utc() -%}
        {%- if naive_typed and naive_utc -%}
            timezone('{{ tz }}', timezone('UTC', cast({{ column }} as timestamp)))
        {%- elif naive_typed or t == 'date' -%}
            cast({{ column }} as timestamp)
        {%- elif t == 'timestamp with time zone' -%}
            timezone('{{ tz }}', {{ column }})
        {%- else -%}
            case
                when regexp_matches({{ column }}, '{{ shoplens_zoned_text_pattern() }}')
                    then timezone('{{ tz }}', {{ instant }})
                {%- if naive_utc %}
                {#- a date without a time of day is that day, whichever zone -#}
                when regexp_matches({{ column }}, '[0-9]:[0-9][0-9]')
                    then timezone('{{ tz }}', {{ instant }})
                {%- endif %}
                else try_cast({{ column }} as timestamp)
            end
        {%- endif -%}
    {%- endif -%}
{% endmacro %}

{#- Spark: the session time zone is UTC (shoplens.spark.session), so a timestamp is shown
    and compared as UTC; text with an offset is converted. from_utc_timestamp gives the
    wall-clock time of the shop's zone. -#}
{% macro spark__shop_timestamp(column, types={}) %}
    {%- set tz = shoplens_shop_timezone() -%}
    {%- set t = types.get(column, 'string') -%}
    {%- if tz is none -%}
        {%- if t in ('timestamp', 'timestamp_ntz', 'timestamp_ltz', 'date') -%}
            cast({{ column }} as timestamp)
        {%- else -%}
            try_cast({{ column }} as timestamp)
        {%- endif -%}
    {%- else -%}
        {%- set naive_utc = shoplens_naive_timestamps_utc() -%}
        {%- if t in ('timestamp', 'timestamp_ltz') -%}
            from_utc_timestamp({{ column }}, '{{ tz }}')
        {%- elif t == 'timestamp_ntz' and naive_utc -%}
            from_utc_timestamp(cast({{ column }} as timestamp), '{{ tz }}')
        {%- elif t in ('timestamp_ntz', 'date') -%}
            cast({{ column }} as timestamp)
        {%- else -%}
            case
                when {{ column }} rlike '{{ shoplens_zoned_text_pattern() }}'
                    then from_utc_timestamp(try_cast({{ column }} as timestamp), '{{ tz }}')
                {%- if naive_utc %}
                when {{ column }} rlike '[0-9]:[0-9][0-9]'
                    then from_utc_timestamp(try_cast({{ column }} as timestamp), '{{ tz }}')
                {%- endif %}
                else try_cast({{ column }} as timestamp)
            end
        {%- endif -%}
    {%- endif -%}
{% endmacro %}

{#- shoplens_shop_today(): the day the build runs, in the shop's time zone, as a date. -#}
{% macro shoplens_shop_today() %}
    {{- return(adapter.dispatch('shoplens_shop_today')()) -}}
{% endmacro %}

{% macro duckdb__shoplens_shop_today() %}
    {%- set tz = shoplens_shop_timezone() -%}
    {%- if tz is none -%}current_date{%- else -%}cast(timezone('{{ tz }}', now()) as date){%- endif -%}
{% endmacro %}

{% macro spark__shoplens_shop_today() %}
    {%- set tz = shoplens_shop_timezone() -%}
    {%- if tz is none -%}current_date{%- else -%}to_date(from_utc_timestamp(current_timestamp(), '{{ tz }}')){%- endif -%}
{% endmacro %}

{#- shop_date(column, types): a raw day as written, whatever time zone: a date is that
    date, a timestamp (typed, naive or with a time zone, or text with or without a time
    and an offset) the date it shows (a time zone-aware Parquet value: its UTC date).
    For a list of days (the shop's calendar), where converting a midnight would move a
    day to the one before in every shop west of it. -#}
{% macro shop_date(column, types={}) %}
    {{- return(adapter.dispatch('shop_date')(column, types)) -}}
{% endmacro %}

{% macro duckdb__shop_date(column, types={}) %}
    {%- set t = types.get(column, 'varchar') -%}
    {%- if t == 'date' -%}
        {{ column }}
    {%- elif t == 'timestamp with time zone' -%}
        cast(timezone('UTC', {{ column }}) as date)
    {%- elif t.startswith('timestamp') -%}
        cast({{ column }} as date)
    {%- else -%}
        try_cast(left(trim({{ column }}), 10) as date)
    {%- endif -%}
{% endmacro %}

{% macro spark__shop_date(column, types={}) %}
    {%- set t = types.get(column, 'string') -%}
    {%- if t in ('date', 'timestamp', 'timestamp_ntz', 'timestamp_ltz') -%}
        to_date({{ column }})
    {%- else -%}
        try_cast(left(trim({{ column }}), 10) as date)
    {%- endif -%}
{% endmacro %}
