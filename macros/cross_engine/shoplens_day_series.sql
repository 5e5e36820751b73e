{#- shoplens_day_series(start_ts, end_ts): a from-clause item listing the
    timestamps start_ts, start_ts + 1 day, ... before end_ts, as `days (day)`. -#}
{% macro shoplens_day_series(start_ts, end_ts) %}
    {{- return(adapter.dispatch('shoplens_day_series')(start_ts, end_ts)) -}}
{% endmacro %}
{% macro duckdb__shoplens_day_series(start_ts, end_ts) -%}
    range(
            {{ start_ts }},
            {{ end_ts }},
            interval 1 day
        ) as days (day)
{%- endmacro %}
{% macro spark__shoplens_day_series(start_ts, end_ts) -%}
    lateral explode(filter(
            sequence({{ start_ts }}, greatest({{ start_ts }}, {{ end_ts }} - interval 1 day), interval 1 day),
            d -> d < {{ end_ts }}
        )) as days (day)
{%- endmacro %}
