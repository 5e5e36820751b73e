-- One row per web session started on or before as_of_date.
-- A cart is abandoned when the session added to cart but did not purchase.
-- Summed from the session's days (int_session_days) on or before as_of_date:
-- the same rows as counting its events, without a second pass over them.
with

session_days as (
    select * from {{ ref('int_session_days') }}
),

as_of as (
    select * from {{ ref('as_of') }}
),

observed as (
    select session_days.*
    from session_days
    cross join as_of
    where {{ observed_as_of('session_days.activity_date', 'as_of.as_of_date') }}
),

sessions as (
    select
        session_id,
        max(customer_id) as customer_id,
        min(first_occurred_at) as started_at,
        max(last_occurred_at) as ended_at,
        cast(sum(n_events) as bigint) as n_events,
        cast(sum(n_page_views) as bigint) as n_page_views,
        cast(sum(n_product_views) as bigint) as n_product_views,
        cast(sum(n_add_to_carts) as bigint) as n_add_to_carts,
        cast(sum(n_checkouts) as bigint) as n_checkouts,
        cast(sum(n_purchases) as bigint) as n_purchases,
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
