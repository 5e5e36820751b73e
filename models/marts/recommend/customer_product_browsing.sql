-- One row per known customer, product and event date: the customer's
-- product views and add-to-carts of that product that day, up to as_of_date
-- (the point-in-time rule of every mart). Implicit feedback for the
-- recommender beside purchases (docs/recommendations.md); anonymous events
-- (no customer_id) and events without a product are left out.
-- Read from the clean events and the customers known on as_of_date
-- (int_customers_known_on_as_of, the customers of dim_customers: a visitor
-- whose id is known only from a later order or sign-up is anonymous up to
-- as_of_date), not from int_events_sessionized:
-- sessions play no part here, and the same rows are ready before the
-- sessionisation, so the recommender does not wait for it (DECISIONS.md,
-- Materialisation).
with

events as (
    select * from {{ ref('stg_shop__events') }}
),

known_customers as (
    select customer_id from {{ ref('int_customers_known_on_as_of') }}
),

as_of as (
    select * from {{ ref('as_of') }}
),

observed as (
    select events.*
    from events
    inner join known_customers
        on events.customer_id = known_customers.customer_id
    cross join as_of
    where
        {{ observed_as_of('events.event_date', 'as_of.as_of_date') }}
        and events.product_id is not null
        and events.event_type in ('product_view', 'add_to_cart')
),

final as (
    select
        customer_id,
        product_id,
        event_date,
        count(*) filter (where event_type = 'product_view') as n_product_views,
        count(*) filter (where event_type = 'add_to_cart') as n_add_to_carts
    from observed
    group by customer_id, product_id, event_date
)

select * from final
