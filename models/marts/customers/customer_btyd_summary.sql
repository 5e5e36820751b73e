-- One row per customer with at least one purchase on or before as_of_date
-- (the point-in-time rule, macro observed_as_of):
-- the summary that BG/NBD, Pareto/NBD and Gamma-Gamma are fitted on.
-- Purchases are counted as distinct purchase days (the BTYD convention, as
-- in lifetimes); frequency counts the days after the first. recency and T
-- are in the var `btyd_time_unit` (days, or weeks = days / 7).
-- monetary_value is the mean total of the repeat purchase days (0 when
-- there is none), as Gamma-Gamma expects.
{%- set unit = var('btyd_time_unit') %}
{%- if unit not in ['days', 'weeks'] %}
    {{ exceptions.raise_compiler_error(
        "shoplens: var btyd_time_unit must be 'days' or 'weeks', got '" ~ unit ~ "'") }}
{%- endif %}
{%- set divisor = 'cast(7 as double)' if unit == 'weeks' else 'cast(1 as double)' %}
with

orders as (
    select * from {{ ref('fct_orders') }}
),

as_of as (
    select * from {{ ref('as_of') }}
),

purchase_days as (
    select
        orders.customer_id,
        orders.order_date,
        sum(orders.order_total) as day_total
    from orders
    cross join as_of
    where
        orders.is_purchase
        and {{ observed_as_of('orders.order_date', 'as_of.as_of_date') }}
    group by orders.customer_id, orders.order_date
),

ranked as (
    select
        *,
        row_number() over (
            partition by customer_id order by order_date
        ) as day_number
    from purchase_days
),

per_customer as (
    select
        customer_id,
        min(order_date) as first_purchase_date,
        max(order_date) as last_purchase_date,
        count(*) as n_purchase_days,
        cast(sum(day_total) as decimal(18, 2)) as total_revenue,
        avg(day_total) filter (where day_number > 1) as repeat_day_mean
    from ranked
    group by customer_id
),

final as (
    select
        per_customer.customer_id,
        as_of.as_of_date,
        '{{ unit }}' as time_unit,
        per_customer.first_purchase_date,
        per_customer.last_purchase_date,
        per_customer.n_purchase_days,
        per_customer.n_purchase_days - 1 as frequency,
        {{ dbt.datediff('per_customer.first_purchase_date',
                        'per_customer.last_purchase_date', 'day') }}
        / {{ divisor }} as recency,
        {{ dbt.datediff('per_customer.first_purchase_date',
                        'as_of.as_of_date', 'day') }}
        / {{ divisor }} as {{ adapter.quote('T') }},
        cast(coalesce(per_customer.repeat_day_mean, 0) as double)
            as monetary_value,
        per_customer.total_revenue
    from per_customer
    cross join as_of
)

select * from final
