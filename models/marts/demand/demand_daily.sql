-- One row per series per day, from the first order date in the data (as_of: a
-- customer's or a guest's) to as_of_date, with the days without sales filled in as zeros.
-- Series: the whole shop (series_level 'total', series_key 'all'), each
-- category, and each product. Units and revenue count completed orders only.
-- Without order lines (no order_items file, or no valid line) there is no
-- demand to count: the table is empty, not a run of zero days.
with

demand as (
    select * from {{ ref('int_demand_by_series_day') }}
),

products as (
    select * from {{ ref('dim_products') }}
),

as_of as (
    select * from {{ ref('as_of') }}
),

order_items as (
    select * from {{ ref('stg_shop__order_items') }}
),

has_order_lines as (
    select count(*) > 0 as has_lines from order_items
),

calendar as (
    select cast(day as date) as demand_date
    from as_of,
        has_order_lines,
        {{ shoplens_day_series(
            'cast(as_of.data_start_date as timestamp)',
            'cast(as_of.as_of_date as timestamp) + interval 1 day') }}
    where has_order_lines.has_lines
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

filled as (
    select
        series.series_level,
        series.series_key,
        calendar.demand_date,
        cast(coalesce(demand.units, 0) as bigint) as units,
        cast(coalesce(demand.revenue, 0) as decimal(18, 2)) as revenue,
        cast(coalesce(demand.n_orders, 0) as bigint) as n_orders,
        cast(
            coalesce(demand.units_on_promotion, 0) as bigint
        ) as units_on_promotion
    from series
    cross join calendar
    left join demand
        on
            series.series_level = demand.series_level
            and series.series_key = demand.series_key
            and calendar.demand_date = demand.demand_date
)

select * from filled
