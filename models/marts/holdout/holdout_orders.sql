-- One row per valid order placed after as_of_date: the holdout on which
-- models are evaluated. Empty when as_of_date is the last order date.
with

orders as (
    select * from {{ ref('stg_shop__orders') }}
),

order_items as (
    select * from {{ ref('int_order_items_joined') }}
),

as_of as (
    select * from {{ ref('as_of') }}
),

item_counts as (
    select
        order_id,
        count(*) as n_items,
        cast(sum(quantity) as bigint) as n_units
    from order_items
    group by order_id
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
        coalesce(item_counts.n_items, 0) as n_items,
        coalesce(item_counts.n_units, 0) as n_units
    from orders
    cross join as_of
    left join item_counts
        on orders.order_id = item_counts.order_id
    where orders.order_date > as_of.as_of_date
)

select * from final
