-- One row per product: the products table, plus any product that appears
-- only in order lines (category 'uncategorised', no name or price).
with

products as (
    select * from {{ ref('stg_shop__products') }}
),

order_items as (
    select * from {{ ref('stg_shop__order_items') }}
),

unlisted as (
    select distinct order_items.product_id
    from order_items
    anti join products
        on order_items.product_id = products.product_id
),

final as (
    select
        product_id,
        product_name,
        category,
        list_price
    from products
    union all
    select
        product_id,
        cast(null as {{ dbt.type_string() }}) as product_name,
        'uncategorised' as category,
        cast(null as decimal(18, 2)) as list_price
    from unlisted
)

select * from final
