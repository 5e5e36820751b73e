-- Every raw calendar row (the shop's own events: one row per day of an event), typed,
-- with the first data-quality rule it breaks. Future days are valid: a planned promotion
-- is what the forecasts need to know in advance.
{%- set types = shoplens_column_types(source('shop', 'calendar')) %}
with

source as (
    select * from {{ source('shop', 'calendar') }}
),

typed as (
    select
        -- the day as written (a time or an offset after it changes nothing: a list of days)
        {{ shop_date('event_date', types) }} as event_date,
        -- one regressor per name, case aside ('Sale' and 'sale' are one event)
        lower({{ clean_text('event_name', types) }}) as event_name,
        {{ shoplens_row('source') }} as raw_row
    from source
),

checked as (
    select
        *,
        {{ dq_first_failure([
            ['event_date_invalid', 'event_date', 'event_date is null'],
            ['event_date_too_early', 'event_date',
             'event_date < cast(' ~ shoplens_min_valid_date() ~ ' as date)'],
            ['event_date_too_late', 'event_date',
             'year(event_date) > year(' ~ shoplens_export_date() ~ ') + 5'],
            ['event_name_null', 'event_name', 'event_name is null'],
        ]) }}
    from typed
),

ranked as (
    select
        *,
        -- a day listed twice for one event says nothing more: the first as written is kept
        row_number() over (
            partition by event_date, event_name, dq_rule is null
            order by {{ shoplens_to_json('raw_row') }}
        ) as duplicate_rank
    from checked
),

final as (
    select
        event_date,
        event_name,
        case
            when dq_rule is not null then dq_rule
            when duplicate_rank > 1 then 'duplicate_calendar_event'
        end as dq_rule,
        case
            when dq_rule is not null then dq_column
            when duplicate_rank > 1 then 'event_date'
        end as dq_column,
        case
            when dq_rule is not null or duplicate_rank > 1
                then {{ shoplens_to_json('raw_row') }}
        end as raw_values
    from ranked
)

select * from final
