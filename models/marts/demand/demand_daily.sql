-- One row per series per day, from the first order date in the data to
-- as_of_date, with the days without sales filled in as zeros.
-- Series: the whole shop (series_level 'total', series_key 'all'), each
-- category, and each product. Units and revenue count completed orders only.
with

order_items as (
    select * from {{ ref('fct_order_items') }}
),

products as (
    select * from {{ ref('dim_products') }}
),

as_of as (
    select * from {{ ref('as_of') }}
),

calendar as (
    select cast(day as date) as demand_date
    from as_of,
        range(
            cast(as_of.data_start_date as timestamp),
            cast(as_of.as_of_date as timestamp) + interval 1 day,
            interval 1 day
        ) as days (day)
),

purchased as (
    select *
    from order_items
    where is_purchase
),

series as (
    select
        'total' as series_level,
        'all' as series_key
    union all
    select distinct
        'category' as series_level,
        category as series_key
    from products
    union all
    select
        'product' as series_level,
        product_id as series_key
    from products
),

sales as (
    select
        'total' as series_level,
        'all' as series_key,
        order_date as demand_date,
        sum(quantity) as units,
        sum(line_amount) as revenue,
        count(distinct order_id) as n_orders
    from purchased
    group by order_date
    union all
    select
        'category' as series_level,
        category as series_key,
        order_date as demand_date,
        sum(quantity) as units,
        sum(line_amount) as revenue,
        count(distinct order_id) as n_orders
    from purchased
    group by category, order_date
    union all
    select
        'product' as series_level,
        product_id as series_key,
        order_date as demand_date,
        sum(quantity) as units,
        sum(line_amount) as revenue,
        count(distinct order_id) as n_orders
    from purchased
    group by product_id, order_date
),

filled as (
    select
        series.series_level,
        series.series_key,
        calendar.demand_date,
        cast(coalesce(sales.units, 0) as bigint) as units,
        cast(coalesce(sales.revenue, 0) as decimal(18, 2)) as revenue,
        cast(coalesce(sales.n_orders, 0) as bigint) as n_orders
    from series
    cross join calendar
    left join sales
        on
            series.series_level = sales.series_level
            and series.series_key = sales.series_key
            and calendar.demand_date = sales.demand_date
)

select * from filled
