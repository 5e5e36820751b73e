-- Clean events of known (or anonymous) visitors, each with a session.
-- Events that carry a session_id keep it, unless two or more customers use
-- that id (int_shared_session_ids): then each customer's events are a session
-- of their own. The first customer to use the id keeps it, every later one
-- gets '<session_id>:<customer_id>'. Anonymous events stay in the session of
-- their id's customer, as long as no second customer has used the id by the
-- end of their day; after that they form one anonymous session,
-- '<session_id>:' (a session of nobody known: they could be anyone's).
-- Every key depends on events up to its own day only (the point-in-time
-- rule). Events without a session_id are grouped per customer by the
-- inactivity rule: a gap of more than `session_timeout_minutes` (default 30)
-- starts a new session; a gap of exactly the timeout stays in the session.
-- Anonymous events without a session_id cannot be linked and form one-event
-- sessions.
-- One row per event.
-- `resolvable` is read three times and runs again at each read, as does the
-- events view under it: cheaper than storing 50M rows to scan them again
-- (shoplens_not_materialized).
with

events as {{ shoplens_not_materialized() }} (
    select * from {{ ref('stg_shop__events') }}
),

known_customers as (
    select * from {{ ref('int_known_customers') }}
),

resolvable as {{ shoplens_not_materialized() }} (
    select events.*
    from events
    left join known_customers
        on events.customer_id = known_customers.customer_id
    where
        events.customer_id is null
        or known_customers.customer_id is not null
),

shared_session_ids as (
    select * from {{ ref('int_shared_session_ids') }}
),

-- the day from which an id has two customers: its second customer's first
shared_from as (
    select
        session_id,
        first_used_date as shared_from_date
    from shared_session_ids
    where customer_rank = 2
),

with_session as (
    select
        resolvable.*,
        case
            when shared_session_ids.customer_rank > 1
                then
                    resolvable.session_id || ':'
                    || resolvable.customer_id
            when
                resolvable.customer_id is null
                and resolvable.event_date >= shared_from.shared_from_date
                then resolvable.session_id || ':'
            else resolvable.session_id
        end as resolved_session_id,
        false as is_derived_session
    from resolvable
    left join shared_session_ids
        on
            resolvable.session_id = shared_session_ids.session_id
            and resolvable.customer_id = shared_session_ids.customer_id
    left join shared_from
        on resolvable.session_id = shared_from.session_id
    where resolvable.session_id is not null
),

anonymous_without_session as (
    select
        *,
        'event:' || event_id as resolved_session_id,
        true as is_derived_session
    from resolvable
    where session_id is null and customer_id is null
),

to_sessionize as (
    select
        *,
        lag(occurred_at) over (
            partition by customer_id order by occurred_at, event_id
        ) as previous_occurred_at
    from resolvable
    where session_id is null and customer_id is not null
),

session_starts as (
    select
        *,
        case
            when previous_occurred_at is null then 1
            when
                occurred_at - previous_occurred_at
                > {{ shoplens_minutes(var('session_timeout_minutes')) }} then 1
            else 0
        end as is_session_start
    from to_sessionize
),

numbered as (
    select
        *,
        sum(is_session_start) over (
            partition by customer_id
            order by occurred_at, event_id
            rows between unbounded preceding and current row
        ) as session_number
    from session_starts
),

derived as (
    select
        *,
        'derived:' || customer_id || ':' || session_number
            as resolved_session_id,
        true as is_derived_session
    from numbered
),

{%- set union_columns = 'event_id, resolved_session_id, customer_id, product_id, '
    ~ 'event_type, occurred_at, event_date, is_derived_session' %}

unioned as (
    select {{ union_columns }} from with_session
    union all
    select {{ union_columns }} from anonymous_without_session
    union all
    select {{ union_columns }} from derived
),

final as (
    select
        event_id,
        resolved_session_id as session_id,
        customer_id,
        product_id,
        event_type,
        occurred_at,
        event_date,
        is_derived_session
    from unioned
)

select * from final
