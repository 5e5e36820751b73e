-- Warns (does not fail) when a products file is exported but the order
-- lines (at least 100) name products it does not list: half of the lines or
-- more, or 5% or more when at least half of the unlisted ids match a listed
-- one once leading zeros are dropped from both. Such lines are kept, their
-- product 'uncategorised' in dim_products, so every category series,
-- profile and category trait loses them. A products file of the current
-- catalogue only leaves some old lines unlisted (quiet under half); ids
-- written two ways (a spreadsheet or pandas reading `0108775015` as the
-- number 108775015 in one file and not in the other) leave them all. The
-- row gives the share, the number of lines, one such id, the unlisted ids
-- and how many of them match without their leading zeros (then write every
-- id as text with its zeros).
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
        products.product_id is not null as is_listed
    from order_items
    left join products
        on order_items.product_id = products.product_id
),

unlisted_ids as (
    select distinct product_id
    from lines
    where not is_listed
),

zero_matches as (
    select count(*) as n_match_without_zeros
    from unlisted_ids
    where regexp_replace(product_id, '^0+', '') in (
        select regexp_replace(product_id, '^0+', '') from products
    )
),

final as (
    select
        round(avg(case when lines.is_listed then 0.0 else 1.0 end), 3) as share_unlisted,
        count(*) as n_lines,
        min(case when not lines.is_listed then lines.product_id end) as example_product_id,
        (select count(*) from unlisted_ids) as n_unlisted_ids,
        (select n_match_without_zeros from zero_matches) as n_match_without_zeros
    from lines
)

select * from final
where
    n_lines >= 100
    and (
        share_unlisted >= 0.5
        or (share_unlisted >= 0.05 and 2 * n_match_without_zeros >= n_unlisted_ids)
    )
    and exists (select 1 from products)
