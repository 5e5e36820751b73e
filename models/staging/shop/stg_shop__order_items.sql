-- Clean order items rows: the rows of base_shop__order_items that break no rule.
with

base as (
    select * from {{ ref('base_shop__order_items') }}
),

final as (
    select
        order_id || ':' || row_number() over (
            partition by order_id
            order by product_id, quantity, unit_price, discount
        ) as order_item_id,
        order_id,
        product_id,
        quantity,
        unit_price,
        discount,
        cast(quantity * unit_price - discount as decimal(18, 2)) as line_amount
    from base
    where dq_rule is null
)

select * from final
