-- One row per calendar month (the shop's time zone) with a purchase on or before as_of_date:
-- purchases, revenue, purchasing and new customers, and average order value.
-- A new customer is one whose first purchase falls in the month. Guests'
-- orders count in the purchases and revenue (and in their own columns), in
-- no customer count. The worked example of docs/analysts.md.
with

orders as (
    select * from {{ ref('fct_orders') }}
),

guest_orders as (
    select * from {{ ref('fct_guest_orders') }}
),

purchases as (
    select
        customer_id,
        order_total,
        customer_purchase_number,
        cast({{ dbt.date_trunc('month', 'order_date') }} as date)
            as month_start_date
    from orders
    where is_purchase
    union all
    select
        cast(null as {{ dbt.type_string() }}) as customer_id,
        order_total,
        cast(null as bigint) as customer_purchase_number,
        cast({{ dbt.date_trunc('month', 'order_date') }} as date)
            as month_start_date
    from guest_orders
    where is_purchase
),

per_month as (
    select
        month_start_date,
        count(*) as n_orders,
        cast(sum(order_total) as decimal(18, 2)) as revenue,
        count(distinct customer_id) as n_purchasing_customers,
        count(
            distinct case
                when customer_purchase_number = 1 then customer_id
            end
        ) as n_new_customers,
        sum(case when customer_id is null then 1 else 0 end) as n_guest_orders,
        cast(
            sum(case when customer_id is null then order_total else 0 end)
            as decimal(18, 2)
        ) as guest_revenue
    from purchases
    group by month_start_date
),

final as (
    select
        month_start_date,
        n_orders,
        revenue,
        n_purchasing_customers,
        n_new_customers,
        cast(revenue / n_orders as decimal(18, 2)) as average_order_value,
        cast(n_guest_orders as bigint) as n_guest_orders,
        guest_revenue
    from per_month
)

select * from final
