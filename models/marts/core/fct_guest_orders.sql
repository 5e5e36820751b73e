-- One row per guest order (every status) placed on or before as_of_date: an
-- order without a customer that breaks no other rule. Out of every customer
-- model (the audit table lists it as customer_id_null), in the shop's totals
-- (monthly_sales, demand_daily and the demand forecasts).
with

guest_orders as (
    select * from {{ ref('int_guest_orders') }}
),

as_of as (
    select * from {{ ref('as_of') }}
),

final as (
    select
        guest_orders.order_id,
        guest_orders.ordered_at,
        guest_orders.order_date,
        guest_orders.order_total,
        guest_orders.currency,
        guest_orders.status,
        guest_orders.is_purchase
    from guest_orders
    cross join as_of
    where {{ observed_as_of('guest_orders.order_date', 'as_of.as_of_date') }}
)

select * from final
