-- Clean order lines of clean orders, with the order's customer, time and
-- status and the product's category. One row per order line (all dates).
-- Lines whose order is missing or was rejected are quarantined by
-- int_rejected_references instead.
with

order_items as (
    select * from {{ ref('stg_shop__order_items') }}
),

orders as (
    select * from {{ ref('stg_shop__orders') }}
),

products as (
    select * from {{ ref('stg_shop__products') }}
),

joined as (
    select
        order_items.order_item_id,
        order_items.order_id,
        orders.customer_id,
        order_items.product_id,
        coalesce(products.category, 'uncategorised') as category,
        orders.ordered_at,
        orders.order_date,
        order_items.quantity,
        order_items.unit_price,
        order_items.discount,
        order_items.line_amount,
        orders.is_purchase
    from order_items
    inner join orders
        on order_items.order_id = orders.order_id
    left join products
        on order_items.product_id = products.product_id
)

select * from joined
