-- Warns (does not fail) when 95% or more of the shop's purchases (of at
-- least 500, on at least 8 dates) fall on one weekday: the signature of
-- week-level dates (every basket of a grocery panel dated to the first day of
-- its WEEK_NO), not of a shop. Every model then reads weeks as days: the
-- forecast's total is an intermittent series selling every 7th day, and CLV's
-- purchase days are weeks. Export the real order dates, or map a day number
-- to dates (README, Bring your own data). The row gives the weekday's share,
-- the number of purchases and one date of it.
{{ config(severity='warn') }}
with

orders as (
    select * from {{ ref('fct_orders') }}
),

purchases as (
    select
        order_date,
        dayofweek(order_date) as weekday
    from orders
    where is_purchase
),

shop as (
    select
        count(*) as n_purchases,
        count(distinct order_date) as n_dates
    from purchases
),

by_weekday as (
    select
        weekday,
        count(*) as n_on_weekday,
        max(order_date) as example_date
    from purchases
    group by weekday
),

final as (
    select
        by_weekday.example_date,
        by_weekday.n_on_weekday,
        shop.n_purchases,
        round(by_weekday.n_on_weekday / shop.n_purchases, 3) as share_on_one_weekday
    from by_weekday
    cross join shop
    where
        shop.n_purchases >= 500
        and shop.n_dates >= 8
        and by_weekday.n_on_weekday >= 0.95 * shop.n_purchases
)

select * from final
