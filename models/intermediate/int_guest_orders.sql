-- Guest orders (all dates): orders without a customer that break no other
-- rule, one row per order id. They stay in the audit table (customer_id_null,
-- their lines order_rejected: out of every customer model) and count in the
-- shop's totals: int_demand_by_series_day (demand_daily, its forecasts and
-- holdout_demand_daily), as_of and fct_guest_orders (monthly_sales) read
-- them. base_shop__orders decides which rows are (is_guest_order).
with

base as (
    select * from {{ ref('base_shop__orders') }}
),

final as (
    select
        base.order_id,
        {{ shoplens_order_columns('base') }}
    from base
    where base.is_guest_order
)

select * from final
