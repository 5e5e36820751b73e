-- One row per web session per day (the shop's calendar) on which it has events: the counts of
-- that day's events, with the day the session started. The unit that the
-- point-in-time rule needs for sessions: a snapshot keeps a session's days on
-- or before its date (macro sessions_as_of), so a session that crosses
-- midnight of the snapshot date counts only its events up to that midnight.
with

events as (
    select * from {{ ref('int_events_sessionized') }}
),

per_day as (
    select
        session_id,
        event_date as activity_date,
        max(customer_id) as customer_id,
        min(occurred_at) as first_occurred_at,
        max(occurred_at) as last_occurred_at,
        count(*) as n_events,
        count(*) filter (where event_type = 'page_view') as n_page_views,
        count(*) filter (where event_type = 'product_view') as n_product_views,
        count(*) filter (where event_type = 'add_to_cart') as n_add_to_carts,
        count(*) filter (where event_type = 'checkout') as n_checkouts,
        count(*) filter (where event_type = 'purchase') as n_purchases,
        bool_or(is_derived_session) as is_derived_session
    from events
    group by session_id, event_date
),

final as (
    select
        session_id,
        customer_id,
        activity_date,
        min(first_occurred_at) over (partition by session_id)
            as session_started_at,
        min(activity_date) over (partition by session_id) as session_date,
        first_occurred_at,
        last_occurred_at,
        n_events,
        n_page_views,
        n_product_views,
        n_add_to_carts,
        n_checkouts,
        n_purchases,
        is_derived_session
    from per_day
)

select * from final
