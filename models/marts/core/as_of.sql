-- The resolved observation end. One row.
-- as_of_date: the var `as_of_date`, or else the last valid order date
-- (a customer's or a guest's: int_guest_orders).
-- Marts keep data up to and including as_of_date; what follows it is the
-- holdout (holdout_orders) that models are evaluated on.
with

orders as (
    select * from {{ ref('stg_shop__orders') }}
),

guest_orders as (
    select * from {{ ref('int_guest_orders') }}
),

order_dates as (
    select order_date from orders
    union all
    select order_date from guest_orders
),

bounds as (
    select
        min(order_date) as data_start_date,
        max(order_date) as data_end_date
    from order_dates
),

resolved as (
    select
        data_start_date,
        data_end_date,
        {% if var('as_of_date', none) is not none -%}
            cast('{{ var("as_of_date") }}' as date)
        {%- else -%}
            data_end_date
        {%- endif %} as as_of_date
    from bounds
),

final as (
    select
        as_of_date,
        data_start_date,
        data_end_date,
        coalesce(data_end_date > as_of_date, false) as has_holdout,
        case
            when data_end_date > as_of_date
                then {{ dbt.datediff('as_of_date', 'data_end_date', 'day') }}
            else 0
        end as holdout_days,
        cast('{{ var("btyd_time_unit") }}' as {{ dbt.type_string() }}) as btyd_time_unit,
        cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S") }}' as timestamp)
            as built_at
    from resolved
)

select * from final
