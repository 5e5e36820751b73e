-- One row per valid order (every status) placed on or before as_of_date.
-- A purchase is a completed order; cancelled and returned orders stay here,
-- flagged, but count in no purchase, revenue or model.
with

orders as (
    select * from {{ ref('int_orders_with_item_counts') }}
),

as_of as (
    select * from {{ ref('as_of') }}
),

observed as (
    select orders.*
    from orders
    cross join as_of
    where {{ observed_as_of('orders.order_date', 'as_of.as_of_date') }}
),

final as (
    select
        order_id,
        customer_id,
        ordered_at,
        order_date,
        order_total,
        currency,
        status,
        is_purchase,
        case
            when is_purchase
                -- bigint on every engine (Spark's row_number is an int)
                then cast(row_number() over (
                    partition by customer_id, is_purchase
                    order by ordered_at, order_id
                ) as bigint)
        end as customer_purchase_number,
        n_items,
        n_units
    from observed
)

select * from final
