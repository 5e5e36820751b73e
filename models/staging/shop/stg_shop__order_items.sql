-- Clean order items rows: the rows of base_shop__order_items that break no rule.
-- The pre-hook stops the build when the file has rows but none is valid (the
-- table is optional: a file without rows builds as if it were not there).
{{ config(pre_hook="{{ shoplens_require_valid_rows(
    'order_items', ref('base_shop__order_items'), required=false) }}") }}
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
