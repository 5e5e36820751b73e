-- One row per web session started on or before as_of_date.
-- A cart is abandoned when the session added to cart but did not purchase.
-- A session of a visitor who was not yet a customer on as_of_date (the id
-- is known from a later order or sign-up: int_customers_known_on_as_of, as
-- dim_customers, does not hold it)
-- is anonymous here, as every other visitor's: which sessions are a
-- customer's must not depend on what happened after as_of_date.
-- Summed from the session's days (int_session_days) on or before as_of_date:
-- the same rows as counting its events, without a second pass over them.
with

session_days as (
    select * from {{ ref('int_session_days') }}
),

as_of as (
    select * from {{ ref('as_of') }}
),

known_on_as_of as (
    select customer_id from {{ ref('int_customers_known_on_as_of') }}
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
        sessions.session_id,
        known_on_as_of.customer_id,
        sessions.started_at,
        sessions.ended_at,
        cast(sessions.started_at as date) as session_date,
        sessions.n_events,
        sessions.n_page_views,
        sessions.n_product_views,
        sessions.n_add_to_carts,
        sessions.n_checkouts,
        sessions.n_purchases,
        sessions.n_add_to_carts > 0 as has_add_to_cart,
        sessions.n_checkouts > 0 as has_checkout,
        sessions.n_purchases > 0 as has_purchase,
        sessions.n_add_to_carts > 0 and sessions.n_purchases = 0 as is_cart_abandoned,
        sessions.is_derived_session
    from sessions
    left join known_on_as_of
        on sessions.customer_id = known_on_as_of.customer_id
)

select * from final
