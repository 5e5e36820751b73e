-- One row per valid order placed after as_of_date: the holdout on which
-- models are evaluated. Empty when as_of_date is the last order date.
with

orders as (
    select * from {{ ref('int_orders_with_item_counts') }}
),

as_of as (
    select * from {{ ref('as_of') }}
),

final as (
    select
        orders.order_id,
        orders.customer_id,
        orders.ordered_at,
        orders.order_date,
        orders.order_total,
        orders.currency,
        orders.status,
        orders.is_purchase,
        orders.n_items,
        orders.n_units
    from orders
    cross join as_of
    where not {{ observed_as_of('orders.order_date', 'as_of.as_of_date') }}
)

select * from final
