-- Warns (does not fail) when the shop's completed purchases (customers' and
-- guests') carry more than one currency. shoplens converts nothing: revenue,
-- CLV spend, RFM monetary
-- scores and the revenue forecasts add the totals as they are, so 100 USD and
-- 100 JPY count alike. A multi-currency export (a shop selling in several
-- markets, in each buyer's currency) converts its totals and prices to one
-- currency before the export, or builds one warehouse per currency; an
-- export that names its currency on some orders only gets the var
-- `default_currency` (EUR) on the others: set it to the shop's own. One row
-- per currency, with its purchases, their share and revenue as exported.
{{ config(severity='warn') }}
with

orders as (
    select * from {{ ref('fct_orders') }}
),

guest_orders as (
    select * from {{ ref('fct_guest_orders') }}
),

purchases as (
    select
        currency,
        order_total
    from orders
    where is_purchase
    union all
    select
        currency,
        order_total
    from guest_orders
    where is_purchase
),

by_currency as (
    select
        currency,
        count(*) as n_purchases,
        sum(order_total) as revenue_as_exported
    from purchases
    group by currency
),

shop as (
    select
        sum(n_purchases) as n_all,
        count(*) as n_currencies
    from by_currency
),

final as (
    select
        by_currency.currency,
        by_currency.n_purchases,
        round(by_currency.n_purchases / shop.n_all, 3) as share_of_purchases,
        by_currency.revenue_as_exported,
        shop.n_currencies
    from by_currency
    cross join shop
    where shop.n_currencies > 1
)

select * from final
