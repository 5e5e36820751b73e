-- Clean orders rows: the rows of base_shop__orders that break no rule.
-- The pre-hook stops the build when no order is valid. It runs here, not as a
-- post-hook of base_shop__orders, so the rejected rows the error points at
-- stay there: a post-hook's error rolled that table back.
{{ config(pre_hook="{{ shoplens_require_valid_rows('orders', ref('base_shop__orders')) }}") }}
with

base as (
    select * from {{ ref('base_shop__orders') }}
),

final as (
    select
        base.order_id,
        base.customer_id,
        {{ shoplens_order_columns('base') }}
    from base
    where base.dq_rule is null
)

select * from final
