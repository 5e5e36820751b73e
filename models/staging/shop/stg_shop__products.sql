-- Clean products rows: the rows of base_shop__products that break no rule.
with

base as (
    select * from {{ ref('base_shop__products') }}
),

final as (
    select
        product_id,
        product_name,
        category,
        list_price
    from base
    where dq_rule is null
)

select * from final
