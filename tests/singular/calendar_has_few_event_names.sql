-- Warns (does not fail) when the shop's calendar names more than 30 events: the
-- forecasts fit one regressor per event name and keep the 30 names with the most
-- days up to as_of_date (shoplens.forecast.calendar.MAX_EVENT_NAMES); the others are
-- left out, and
-- hundreds of one-off names would fit noise. Name recurring events alike (every
-- sitewide sale `sale`) and leave one-off notes out of the calendar. One row: the
-- number of names, and the days of the 30th and the 31st by days.
{{ config(severity='warn') }}
with

calendar as (
    select * from {{ ref('calendar_events') }}
),

per_name as (
    select
        event_name,
        count(*) as n_days
    from calendar
    group by event_name
),

ranked as (
    select
        n_days,
        row_number() over (order by n_days desc, event_name asc) as name_rank
    from per_name
),

final as (
    select
        count(*) as n_event_names,
        max(case when name_rank = 30 then n_days end) as days_of_the_30th,
        max(case when name_rank = 31 then n_days end) as days_of_the_31st
    from ranked
    having count(*) > 30
)

select * from final
