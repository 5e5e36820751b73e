-- Every valid order (all dates), with its number of valid lines and units.
-- One row per order; fct_orders and holdout_orders split it at as_of_date.
with

orders as (
    select * from {{ ref('stg_shop__orders') }}
),

order_items as (
    select * from {{ ref('int_order_items_joined') }}
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
        orders.*,
        coalesce(item_counts.n_items, 0) as n_items,
        coalesce(item_counts.n_units, 0) as n_units
    from orders
    left join item_counts
        on orders.order_id = item_counts.order_id
)

select * from final
