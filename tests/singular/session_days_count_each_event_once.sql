-- Every valid event of a known or anonymous visitor is counted once in the
-- session days: their n_events add up to the number of such events. Guards
-- the sessionisation (int_events_sessionized, a view) against losing or
-- repeating events, without a test that sorts the events' ids. Fails with
-- one row holding both numbers. It reads staging and the session days: a
-- build of staging alone skips it with --indirect-selection cautious.
with

events as (
    select * from {{ ref('stg_shop__events') }}
),

known_customers as (
    select * from {{ ref('int_known_customers') }}
),

session_days as (
    select * from {{ ref('int_session_days') }}
),

resolvable as (
    select count(*) as n_events
    from events
    left join known_customers
        on events.customer_id = known_customers.customer_id
    where
        events.customer_id is null
        or known_customers.customer_id is not null
),

counted as (
    select coalesce(sum(n_events), 0) as n_events
    from session_days
),

final as (
    select
        resolvable.n_events as resolvable_events,
        counted.n_events as events_in_session_days
    from resolvable
    cross join counted
    where resolvable.n_events != counted.n_events
)

select * from final
