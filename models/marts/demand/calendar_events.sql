-- One row per event and day of the shop's own calendar (the optional raw table
-- `calendar`): planned promotions, a market's holidays, paydays. Past and future days
-- alike: the demand forecasts fit one regressor per event name on the past days and
-- apply it to the forecast days (docs/forecast.md). Empty without a calendar file.
with

calendar as (
    select * from {{ ref('stg_shop__calendar') }}
),

as_of as (
    select * from {{ ref('as_of') }}
),

final as (
    select
        calendar.event_date,
        calendar.event_name,
        calendar.event_date > as_of.as_of_date as is_after_as_of
    from calendar
    cross join as_of
)

select * from final
