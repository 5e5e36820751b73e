-- One row per order line of a valid order placed on or before as_of_date.
-- line_amount = quantity * unit_price - discount, in the shop currency.
with

order_items as (
    select * from {{ ref('int_order_items_joined') }}
),

as_of as (
    select * from {{ ref('as_of') }}
),

final as (
    select
        order_items.order_item_id,
        order_items.order_id,
        order_items.customer_id,
        order_items.product_id,
        order_items.category,
        order_items.ordered_at,
        order_items.order_date,
        order_items.quantity,
        order_items.unit_price,
        order_items.discount,
        order_items.line_amount,
        order_items.is_purchase
    from order_items
    cross join as_of
    where {{ observed_as_of('order_items.order_date', 'as_of.as_of_date') }}
)

select * from final
