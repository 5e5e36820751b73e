-- The customers known on as_of_date: a customers-file row signed up on or
-- before it (or without signed_up_at: nothing says when), or a customer with
-- a valid order (any status) placed on or before it. dim_customers holds
-- exactly these; the marts of events (fct_sessions, customer_product_browsing)
-- name only them and read every other visitor as anonymous: a visitor known
-- only from a later order or sign-up was not yet a customer. Read from the
-- staging tables, so those marts do not wait for dim_customers and its
-- order-line work. One row per customer_id.
with

customers as (
    select * from {{ ref('stg_shop__customers') }}
),

orders as (
    select * from {{ ref('stg_shop__orders') }}
),

as_of as (
    select * from {{ ref('as_of') }}
),

signed_up as (
    select customers.customer_id
    from customers
    cross join as_of
    where
        customers.signed_up_at is null
        or {{ observed_as_of('cast(customers.signed_up_at as date)', 'as_of.as_of_date') }}
),

ordered as (
    select orders.customer_id
    from orders
    cross join as_of
    where {{ observed_as_of('orders.order_date', 'as_of.as_of_date') }}
),

final as (
    select customer_id from signed_up
    union
    select customer_id from ordered
)

select * from final
