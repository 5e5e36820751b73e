-- Warns (does not fail) when one customer id holds at least 5% of a shop's
-- completed purchases (of at least 1,000, and at least 100 of them): most
-- likely a placeholder that an export gave every guest checkout ('GUEST',
-- '0', 'anonymous'). Its RFM segment, lifetime value and propensity then
-- describe no one, and it weighs on every model as one enormous customer.
-- Export such orders with an empty customer_id (they are audited as
-- customer_id_null) or keep them if the customer is real. One row per such
-- customer id, with its purchases and share.
{{ config(severity='warn') }}
with

orders as (
    select * from {{ ref('fct_orders') }}
),

purchases as (
    select
        customer_id,
        count(*) as n_purchases
    from orders
    where is_purchase
    group by customer_id
),

shop as (
    select sum(n_purchases) as n_all from purchases
),

final as (
    select
        purchases.customer_id,
        purchases.n_purchases,
        round(purchases.n_purchases / shop.n_all, 3) as share_of_purchases
    from purchases
    cross join shop
    where
        shop.n_all >= 1000
        and purchases.n_purchases >= 100
        and purchases.n_purchases >= 0.05 * shop.n_all
)

select * from final
