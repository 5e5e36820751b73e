-- Warns (does not fail) when a quarter or more of the order lines (at least
-- 100) of products the products file lists name a product listed without a
-- category. Such products are 'uncategorised': out of every category series,
-- profile and category trait. A few (gift cards, shipping) are expected; a
-- quarter is an export that writes the category once per product and leaves
-- it empty on the other variant rows (Shopify's products export fills Type
-- on a product's first row only: 68% of a probe's products, 60% of its
-- revenue): fill it down to every row of the product before the export. The
-- row gives the share, the lines, the uncategorised products and one of
-- them.
{{ config(severity='warn') }}
with

products as (
    select * from {{ ref('stg_shop__products') }}
),

order_items as (
    select * from {{ ref('stg_shop__order_items') }}
),

lines as (
    select
        order_items.product_id,
        products.category = 'uncategorised' as is_uncategorised
    from order_items
    inner join products
        on order_items.product_id = products.product_id
),

final as (
    select
        round(avg(case when is_uncategorised then 1.0 else 0.0 end), 3) as share_uncategorised,
        count(*) as n_lines,
        count(distinct case when is_uncategorised then product_id end) as n_uncategorised_products,
        min(case when is_uncategorised then product_id end) as example_product_id
    from lines
)

select * from final
where
    n_lines >= 100
    and share_uncategorised >= 0.25
