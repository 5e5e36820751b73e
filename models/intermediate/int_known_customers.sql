-- Every customer id the shop knows: from the customers table, or from a
-- valid order (the customers table is optional). One row per customer_id.
with

customers as (
    select * from {{ ref('stg_shop__customers') }}
),

orders as (
    select * from {{ ref('stg_shop__orders') }}
),

from_customers as (
    select customer_id from customers
),

from_orders as (
    select distinct customer_id from orders
),

final as (
    select customer_id from from_customers
    union
    select customer_id from from_orders
)

select * from final
