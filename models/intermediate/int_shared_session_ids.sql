-- Exported session ids that two or more known customers use (an export whose
-- session id is unique only per visitor, like GA4's ga_session_id): one row
-- per such session id and customer, ranked by when the customer first used
-- it (ties: by customer_id). int_events_sessionized splits these ids per
-- customer: the first customer keeps the exported id, every later one gets
-- '<session_id>:<customer_id>'. The rank depends only on events up to each
-- customer's first one, so a build of the export cut at any date gives its
-- sessions the same ids (the point-in-time rule). The post-hook warns.
{{ config(post_hook="{{ shoplens_warn_shared_session_ids() }}") }}
with

events as (
    select * from {{ ref('stg_shop__events') }}
),

known_customers as (
    select * from {{ ref('int_known_customers') }}
),

session_customers as (
    select
        events.session_id,
        events.customer_id,
        min(events.occurred_at) as first_occurred_at
    from events
    inner join known_customers
        on events.customer_id = known_customers.customer_id
    where events.session_id is not null
    group by events.session_id, events.customer_id
),

shared as (
    select
        session_id,
        count(*) as n_customers
    from session_customers
    group by session_id
    having count(*) > 1
),

ranked as (
    select
        session_customers.session_id,
        session_customers.customer_id,
        session_customers.first_occurred_at,
        shared.n_customers,
        row_number() over (
            partition by session_customers.session_id
            order by
                session_customers.first_occurred_at,
                session_customers.customer_id
        ) as customer_rank
    from session_customers
    inner join shared
        on session_customers.session_id = shared.session_id
),

final as (
    select
        session_id,
        customer_id,
        customer_rank,
        n_customers,
        first_occurred_at,
        cast(first_occurred_at as date) as first_used_date
    from ranked
)

select * from final
