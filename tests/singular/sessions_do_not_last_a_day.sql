-- Warns (does not fail) when a customer's derived session lasts more than a
-- day: its events were never `session_timeout_minutes` apart for 24 hours,
-- which no person browses (a session id of the export's own is kept whatever
-- its gaps, so those are left to the shared-session-id warning). A crawler,
-- a monitoring script or an id shared by many visitors (a kiosk, a
-- placeholder) then counts as one customer's session, and its
-- views and carts feed that customer's propensity features and the
-- recommendations. Drop the id's events from the export (or give each
-- visitor their own id). The row gives the number of such sessions, the
-- longest one's session and customer ids, hours and events, and their share
-- of all events.
{{ config(severity='warn') }}
with

sessions as (
    select * from {{ ref('fct_sessions') }}
),

long_sessions as (
    select
        session_id,
        customer_id,
        n_events,
        {{ shoplens_seconds_between('started_at', 'ended_at') }} / 3600.0 as hours
    from sessions
    where
        is_derived_session
        and customer_id is not null
        and {{ shoplens_seconds_between('started_at', 'ended_at') }} > 86400
),

shop as (
    select sum(n_events) as n_events
    from sessions
),

longest as (
    select *
    from long_sessions
    order by hours desc, session_id asc
    limit 1
),

final as (
    select
        (select count(*) from long_sessions) as n_sessions_over_a_day,
        longest.session_id as longest_session_id,
        longest.customer_id as longest_customer_id,
        round(longest.hours, 1) as longest_hours,
        longest.n_events as longest_n_events,
        round(
            (select sum(n_events) from long_sessions) / shop.n_events, 4
        ) as share_of_events
    from longest
    cross join shop
)

select * from final
