-- One row per web session started on or before as_of_date.
-- A cart is abandoned when the session added to cart but did not purchase.
with

events as (
    select * from {{ ref('int_events_sessionized') }}
),

as_of as (
    select * from {{ ref('as_of') }}
),

observed as (
    select events.*
    from events
    cross join as_of
    where {{ observed_as_of('events.event_date', 'as_of.as_of_date') }}
),

sessions as (
    select
        session_id,
        max(customer_id) as customer_id,
        min(occurred_at) as started_at,
        max(occurred_at) as ended_at,
        count(*) as n_events,
        count(*) filter (where event_type = 'page_view') as n_page_views,
        count(*) filter (where event_type = 'product_view') as n_product_views,
        count(*) filter (where event_type = 'add_to_cart') as n_add_to_carts,
        count(*) filter (where event_type = 'checkout') as n_checkouts,
        count(*) filter (where event_type = 'purchase') as n_purchases,
        bool_or(is_derived_session) as is_derived_session
    from observed
    group by session_id
),

final as (
    select
        session_id,
        customer_id,
        started_at,
        ended_at,
        cast(started_at as date) as session_date,
        n_events,
        n_page_views,
        n_product_views,
        n_add_to_carts,
        n_checkouts,
        n_purchases,
        n_add_to_carts > 0 as has_add_to_cart,
        n_checkouts > 0 as has_checkout,
        n_purchases > 0 as has_purchase,
        n_add_to_carts > 0 and n_purchases = 0 as is_cart_abandoned,
        is_derived_session
    from sessions
)

select * from final
