-- One row per series per day with sales after as_of_date: what the demand
-- forecasts are scored against. Same series as demand_daily (total,
-- category, product); days without sales are absent (zero demand).
-- Empty when as_of_date is the last order date.
with

order_items as (
    select * from {{ ref('int_order_items_joined') }}
),

as_of as (
    select * from {{ ref('as_of') }}
),

purchased as (
    select order_items.*
    from order_items
    cross join as_of
    where
        order_items.is_purchase
        and order_items.order_date > as_of.as_of_date
),

final as (
    select
        'total' as series_level,
        'all' as series_key,
        order_date as demand_date,
        cast(sum(quantity) as bigint) as units,
        cast(sum(line_amount) as decimal(18, 2)) as revenue,
        count(distinct order_id) as n_orders
    from purchased
    group by order_date
    union all
    select
        'category' as series_level,
        category as series_key,
        order_date as demand_date,
        cast(sum(quantity) as bigint) as units,
        cast(sum(line_amount) as decimal(18, 2)) as revenue,
        count(distinct order_id) as n_orders
    from purchased
    group by category, order_date
    union all
    select
        'product' as series_level,
        product_id as series_key,
        order_date as demand_date,
        cast(sum(quantity) as bigint) as units,
        cast(sum(line_amount) as decimal(18, 2)) as revenue,
        count(distinct order_id) as n_orders
    from purchased
    group by product_id, order_date
)

select * from final
