-- Clean products rows: the rows of base_shop__products that break no rule.
-- The pre-hook stops the build when the file has rows but none is valid (the
-- table is optional: a file without rows builds as if it were not there).
{{ config(pre_hook="{{ shoplens_require_valid_rows(
    'products', ref('base_shop__products'), required=false) }}") }}
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
