-- Warns (does not fail) when the lines of most orders add up to more than
-- twice the order's total: half or more of the orders with lines and a
-- total above 0 (of at least 100). An order total may hold shipping or tax
-- the lines do not, or an order-level coupon may take money off it, but not
-- for most orders by a factor of two: the likelier cause is a line amount
-- (quantity times price) exported as `unit_price`, which multiplies every
-- line by its quantity (a Ta Feng-shaped export: the lines summed to 13
-- times the orders, and the revenue forecasts with them). The row gives the
-- share of such orders, their number, the median ratio of lines to total
-- and one order id.
{{ config(severity='warn') }}
with

orders as (
    select * from {{ ref('fct_orders') }}
),

order_items as (
    select * from {{ ref('fct_order_items') }}
),

lines as (
    select
        order_id,
        sum(line_amount) as lines_amount
    from order_items
    group by order_id
),

compared as (
    select
        orders.order_id,
        lines.lines_amount / orders.order_total as ratio
    from orders
    inner join lines
        on orders.order_id = lines.order_id
    where orders.order_total > 0
),

final as (
    select
        round(avg(case when ratio > 2 then 1.0 else 0.0 end), 3) as share_over_twice,
        count(*) as n_orders,
        round(median(ratio), 2) as median_ratio,
        min(case when ratio > 2 then order_id end) as example_order_id
    from compared
)

select * from final
where n_orders >= 100 and share_over_twice >= 0.5
